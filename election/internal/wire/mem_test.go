package wire

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// patience bounds every wait for something that must happen: generous,
// since it only matters when a test fails.
const patience = 10 * time.Second

// waitFor polls cond until it holds, failing the test after patience.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(patience)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			t.Fatalf("gave up waiting for %s", what)
		case <-tick.C:
		}
	}
}

// memNode is a transport on a test network, with what reached onFrame.
type memNode struct {
	*MemTransport
	eager chan memFrame
}

func attach(t *testing.T, nw *Network, addr string, frames bool) *memNode {
	t.Helper()
	n := &memNode{eager: make(chan memFrame, 64)}
	var onFrame func([]byte, netip.AddrPort, time.Time)
	if frames {
		onFrame = func(b []byte, from netip.AddrPort, at time.Time) {
			select {
			case n.eager <- memFrame{bytes.Clone(b), from, at}:
			default: // more than a test sends: it has failed already
			}
		}
	}
	tr, err := nw.NewTransport(netip.MustParseAddrPort(addr), onFrame)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Shutdown() })
	n.MemTransport = tr
	return n
}

// nextPacket returns the next packet n's memberlist would read, failing
// the test if none comes.
func nextPacket(t *testing.T, n *memNode) *memberlist.Packet {
	t.Helper()
	select {
	case p := <-n.PacketCh():
		return p
	case <-time.After(patience):
		t.Fatalf("%s: no packet", n.Addr())
		return nil
	}
}

// nextFrame returns the next frame n's onFrame got.
func nextFrame(t *testing.T, n *memNode) memFrame {
	t.Helper()
	select {
	case f := <-n.eager:
		return f
	case <-time.After(patience):
		t.Fatalf("%s: no frame", n.Addr())
		return memFrame{}
	}
}

// lazyFrames returns the frames n's ReadLazy hands over.
func lazyFrames(n *memNode) []memFrame {
	var got []memFrame
	n.ReadLazy(func(b []byte, from netip.AddrPort, at time.Time) {
		got = append(got, memFrame{bytes.Clone(b), from, at})
	})
	return got
}

// reaches reports whether a packet from → to arrives: it is sent, and
// then, with every cut lifted for a moment, a marker after it; what
// reaches to first tells. The rules are put back as they were.
func reaches(t *testing.T, nw *Network, from, to *memNode) bool {
	t.Helper()
	if len(to.PacketCh()) != 0 {
		t.Fatalf("%s has packets waiting before the probe", to.Addr())
	}
	probe := []byte{0, 'p', 'r', 'o', 'b', 'e'}
	if _, err := from.WriteTo(probe, to.Addr().String()); err != nil {
		t.Fatal(err)
	}
	nw.mu.Lock()
	cuts, isolated := nw.cuts, nw.isolated
	nw.cuts, nw.isolated = map[link]bool{}, map[netip.AddrPort]bool{}
	nw.mu.Unlock()
	marker := []byte{0, 'm', 'a', 'r', 'k'}
	_, err := from.WriteTo(marker, to.Addr().String())
	nw.mu.Lock()
	nw.cuts, nw.isolated = cuts, isolated
	nw.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	p := nextPacket(t, to)
	if bytes.Equal(p.Buf, marker) {
		return false
	}
	if !bytes.Equal(p.Buf, probe) {
		t.Fatalf("%s → %s: got %q, want the probe or the marker", from.Addr(), to.Addr(), p.Buf)
	}
	if p := nextPacket(t, to); !bytes.Equal(p.Buf, marker) {
		t.Fatalf("%s → %s: got %q after the probe, want the marker", from.Addr(), to.Addr(), p.Buf)
	}
	return true
}

func TestMemPackets(t *testing.T) {
	nw := NewNetwork()
	a := attach(t, nw, "10.0.0.1:7946", false)
	b := attach(t, nw, "10.0.0.2:7946", false)
	if ip, port, err := b.FinalAdvertiseAddr("", 0); err != nil || ip.String() != "10.0.0.2" || len(ip) != 4 || port != 7946 {
		t.Errorf("FinalAdvertiseAddr = %v %d %v", ip, port, err)
	}
	if ip, port, err := b.FinalAdvertiseAddr("192.0.2.7", 0); err != nil || ip.String() != "192.0.2.7" || port != 7946 {
		t.Errorf("FinalAdvertiseAddr with an address = %v %d %v", ip, port, err)
	}
	if _, _, err := b.FinalAdvertiseAddr("not-an-ip", 0); err == nil {
		t.Error("bad advertise address accepted")
	}

	msg := []byte("heartbeat")
	before := time.Now()
	sent, err := a.WriteTo(msg, "10.0.0.2:7946")
	if err != nil {
		t.Fatal(err)
	}
	msg[0] = 'X' // the sender's buffer is its own again
	p := nextPacket(t, b)
	if string(p.Buf) != "heartbeat" || cap(p.Buf) != len(p.Buf) {
		t.Errorf("packet %q (cap %d), want %q sized exactly", p.Buf, cap(p.Buf), "heartbeat")
	}
	if p.From.String() != "10.0.0.1:7946" || p.From.Network() != "udp" {
		t.Errorf("from %v (%s), want a's UDP address", p.From, p.From.Network())
	}
	if p.Timestamp.Before(before) || p.Timestamp.After(time.Now()) || sent.Before(before) {
		t.Errorf("received at %v, sent at %v, outside the send", p.Timestamp.Sub(before), sent.Sub(before))
	}

	if _, err := a.WriteToAddress([]byte{1, 2}, memberlist.Address{Addr: "[::ffff:10.0.0.2]:7946", Name: "b"}); err != nil {
		t.Fatal(err)
	}
	if p := nextPacket(t, b); !bytes.Equal(p.Buf, []byte{1, 2}) {
		t.Errorf("WriteToAddress (IPv4-mapped) delivered %x", p.Buf)
	}

	// Nobody there, or nothing to send: dropped silently, as UDP would.
	for _, to := range []string{"10.0.0.3:7946", "10.0.0.2:7947"} {
		if _, err := a.WriteTo([]byte("lost"), to); err != nil {
			t.Errorf("to %s: %v", to, err)
		}
	}
	a.WriteTo(nil, "10.0.0.2:7946")
	if !reaches(t, nw, a, b) {
		t.Error("a → b does not reach")
	}
	if _, err := a.WriteTo([]byte("x"), "no port"); err == nil {
		t.Error("an address without a port accepted")
	}
}

func TestMemAddresses(t *testing.T) {
	nw := NewNetwork()
	a := attach(t, nw, "10.0.0.1:7946", false)
	if _, err := nw.NewTransport(a.Addr(), nil); !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("second transport on %s: %v, want address in use", a.Addr(), err)
	}
	if _, err := nw.NewTransport(netip.MustParseAddrPort("[::ffff:10.0.0.1]:7946"), nil); err == nil {
		t.Error("second transport on the IPv4-mapped form of a taken address")
	}
	for _, bad := range []netip.AddrPort{{}, netip.MustParseAddrPort("0.0.0.0:7946"), netip.MustParseAddrPort("[::]:7946")} {
		if tr, err := nw.NewTransport(bad, nil); err == nil {
			tr.Shutdown()
			t.Errorf("transport on %v accepted", bad)
		}
	}
	// Port 0: a free one, different each time.
	x := attach(t, nw, "10.0.0.1:0", false)
	y := attach(t, nw, "10.0.0.1:0", false)
	if x.Addr().Port() == 0 || x.Addr() == y.Addr() || x.Addr().Addr() != a.Addr().Addr() {
		t.Errorf("port 0 gave %s and %s", x.Addr(), y.Addr())
	}
	if !reaches(t, nw, x, y) {
		t.Error("transports on chosen ports do not reach each other")
	}
	// A port taken is skipped.
	nw.mu.Lock()
	nw.nextPort = x.Addr().Port()
	nw.mu.Unlock()
	if z := attach(t, nw, "10.0.0.1:0", false); z.Addr() == x.Addr() || z.Addr() == y.Addr() {
		t.Errorf("port 0 gave %s, taken", z.Addr())
	}
}

func TestMemFrames(t *testing.T) {
	nw := NewNetwork()
	s := attach(t, nw, "10.0.0.1:7946", true)
	r := attach(t, nw, "10.0.0.2:7946", true)
	plain := attach(t, nw, "10.0.0.3:7946", false)
	if !r.Lazy() || plain.Lazy() {
		t.Errorf("Lazy() = %v with onFrame, %v without; want true, false", r.Lazy(), plain.Lazy())
	}

	lazy1 := []byte{FrameLazy, framePlain, 1}
	lazy2 := []byte{FrameLazy, framePlain, 2}
	eager := []byte{FrameEager, framePlain, 3}
	gossip := []byte{0, 'p', 'i', 'n', 'g'}
	sent := time.Now()
	for _, f := range [][]byte{lazy1, eager, gossip, lazy2} {
		if err := s.WriteFrame(f, r.Addr()); err != nil {
			t.Fatal(err)
		}
	}
	if p := nextPacket(t, r); !bytes.Equal(p.Buf, gossip) {
		t.Errorf("memberlist got %x, want %x", p.Buf, gossip)
	}
	f := nextFrame(t, r)
	if !bytes.Equal(f.b, eager) {
		t.Errorf("onFrame got %x first, want the eager frame %x", f.b, eager)
	}
	if f.at.Before(sent) || f.at.After(time.Now()) {
		t.Errorf("eager frame arrived at %v, outside the send", f.at.Sub(sent))
	}
	if f.from != s.Addr() {
		t.Errorf("eager frame from %v, want the sender %v", f.from, s.Addr())
	}
	read := time.Now()
	got := lazyFrames(r)
	if len(got) != 2 || !bytes.Equal(got[0].b, lazy1) || !bytes.Equal(got[1].b, lazy2) {
		t.Fatalf("ReadLazy got %v, want %x %x", got, lazy1, lazy2)
	}
	for _, f := range got {
		if f.from != s.Addr() {
			t.Errorf("lazy frame from %v, want the sender %v", f.from, s.Addr())
		}
		if f.at.Before(sent) || f.at.After(read) {
			t.Errorf("lazy frame %x arrived at %v, outside [send, read] = [0, %v]", f.b, f.at.Sub(sent), read.Sub(sent))
		}
	}
	if got[0].at.After(got[1].at) {
		t.Error("lazy frames' arrival times out of order")
	}
	if got := lazyFrames(r); len(got) != 0 {
		t.Errorf("a second ReadLazy got %v", got)
	}
	if len(r.eager) != 0 {
		t.Errorf("onFrame got %x too, want only the eager frame", (<-r.eager).b)
	}

	// The kind is read off the bytes, whatever way they were sent: a
	// frame sent as a memberlist packet is still a frame.
	if _, err := s.WriteTo(eager, r.Addr().String()); err != nil {
		t.Fatal(err)
	}
	if f := nextFrame(t, r); !bytes.Equal(f.b, eager) {
		t.Errorf("onFrame got %x, want %x", f.b, eager)
	}

	// Without onFrame, frames of both kinds go to memberlist.
	for _, f := range [][]byte{eager, lazy1} {
		if err := s.WriteFrame(f, plain.Addr()); err != nil {
			t.Fatal(err)
		}
		if p := nextPacket(t, plain); !bytes.Equal(p.Buf, f) {
			t.Errorf("memberlist of a node without frames got %x, want %x", p.Buf, f)
		}
	}
	if got := lazyFrames(plain); len(got) != 0 {
		t.Errorf("ReadLazy without onFrame got %v", got)
	}

	// b is only lent: kept past the call, it no longer holds the frame.
	s.WriteFrame(lazy1, r.Addr())
	var kept []byte
	r.ReadLazy(func(b []byte, _ netip.AddrPort, _ time.Time) { kept = b })
	if bytes.Equal(kept, lazy1) {
		t.Errorf("a frame kept past ReadLazy still reads %x", kept)
	}
}

// TestMemEagerFramesNotOnTheSender: onFrame runs on the receiver's
// goroutine, so a sender holding what onFrame waits for does not
// deadlock, and a slow onFrame does not hold the sender.
func TestMemEagerFramesNotOnTheSender(t *testing.T) {
	nw := NewNetwork()
	entered := make(chan struct{}, 2)
	release := make(chan struct{})
	r, err := nw.NewTransport(netip.MustParseAddrPort("10.0.0.2:7946"), func([]byte, netip.AddrPort, time.Time) {
		entered <- struct{}{}
		<-release
	})
	if err != nil {
		t.Fatal(err)
	}
	s := attach(t, nw, "10.0.0.1:7946", true)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 2 {
			s.WriteFrame([]byte{FrameEager, framePlain, 0}, r.Addr())
		}
	}()
	select {
	case <-done:
	case <-time.After(patience):
		close(release)
		t.Fatal("WriteFrame waited for the receiver's onFrame")
	}
	select {
	case <-entered:
	case <-time.After(patience):
		t.Fatal("onFrame never called")
	}
	close(release)
	<-entered
	r.Shutdown()
}

func TestMemStreams(t *testing.T) {
	nw := NewNetwork()
	a := attach(t, nw, "10.0.0.1:7946", false)
	b := attach(t, nw, "10.0.0.2:7946", false)
	for i, dial := range []func() (net.Conn, error){
		func() (net.Conn, error) { return a.DialTimeout("10.0.0.2:7946", time.Second) },
		func() (net.Conn, error) {
			return a.DialAddressTimeout(memberlist.Address{Addr: "10.0.0.2:7946", Name: "b"}, time.Second)
		},
	} {
		c, err := dial()
		if err != nil {
			t.Fatal(err)
		}
		var s net.Conn
		select {
		case s = <-b.StreamCh():
		case <-time.After(patience):
			t.Fatal("no stream reached b")
		}
		if c.LocalAddr().String() != "10.0.0.1:7946" || c.RemoteAddr().String() != "10.0.0.2:7946" ||
			s.LocalAddr().String() != "10.0.0.2:7946" || s.RemoteAddr().String() != "10.0.0.1:7946" || s.RemoteAddr().Network() != "tcp" {
			t.Errorf("stream %v → %v, accepted as %v ← %v", c.LocalAddr(), c.RemoteAddr(), s.LocalAddr(), s.RemoteAddr())
		}
		go func() {
			fmt.Fprintf(c, "push %d", i)
			c.Close()
		}()
		got, err := io.ReadAll(s)
		if err != nil || string(got) != fmt.Sprintf("push %d", i) {
			t.Errorf("b read %q, %v", got, err)
		}
		s.Close()
	}
	for _, to := range []string{"10.0.0.3:7946", "10.0.0.2:7947"} {
		if c, err := a.DialTimeout(to, time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("dial to %s (nobody): %v, %v; want refused", to, c, err)
		}
	}
	// A stream needs both directions.
	for _, cut := range [][2]*memNode{{a, b}, {b, a}} {
		nw.Cut(cut[0].Addr(), cut[1].Addr())
		if c, err := a.DialTimeout(b.Addr().String(), time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("dial a → b with %s → %s cut: %v, %v; want refused", cut[0].Addr(), cut[1].Addr(), c, err)
		}
		nw.Heal()
	}
	if len(b.StreamCh()) != 0 {
		t.Error("a refused stream reached b")
	}
	// A full backlog refuses.
	for range memStreams {
		if _, err := a.DialTimeout(b.Addr().String(), time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.DialTimeout(b.Addr().String(), time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial beyond the backlog: %v, want refused", err)
	}
}

func TestMemCutOneWay(t *testing.T) {
	nw := NewNetwork()
	a := attach(t, nw, "10.0.0.1:7946", true)
	b := attach(t, nw, "10.0.0.2:7946", true)
	nw.Cut(a.Addr(), b.Addr())
	if reaches(t, nw, a, b) {
		t.Error("a → b reaches through the cut")
	}
	if !reaches(t, nw, b, a) {
		t.Error("b → a cut too")
	}
	a.WriteFrame([]byte{FrameLazy, framePlain, 1}, b.Addr())
	a.WriteFrame([]byte{FrameEager, framePlain, 2}, b.Addr())
	b.WriteFrame([]byte{FrameLazy, framePlain, 3}, a.Addr())
	b.WriteFrame([]byte{FrameEager, framePlain, 4}, a.Addr())
	if f := nextFrame(t, a); f.b[2] != 4 {
		t.Errorf("a got eager frame %x, want b's", f.b)
	}
	if got := lazyFrames(a); len(got) != 1 || got[0].b[2] != 3 {
		t.Errorf("a got lazy frames %v, want b's", got)
	}
	// The eager frame from a would be ahead of this one.
	nw.Heal()
	a.WriteFrame([]byte{FrameEager, framePlain, 5}, b.Addr())
	if f := nextFrame(t, b); f.b[2] != 5 {
		t.Errorf("b got eager frame %x through the cut", f.b)
	}
	if got := lazyFrames(b); len(got) != 0 {
		t.Errorf("b got lazy frames %v through the cut", got)
	}
	// A cut applies when a packet is sent: one already queued arrives.
	a.WriteTo([]byte{0, 'q'}, b.Addr().String())
	nw.Cut(a.Addr(), b.Addr())
	if p := nextPacket(t, b); !bytes.Equal(p.Buf, []byte{0, 'q'}) {
		t.Errorf("b got %q", p.Buf)
	}
	// Cutting a transport from itself does nothing.
	nw.Cut(a.Addr(), a.Addr())
	if !reaches(t, nw, a, a) {
		t.Error("a cannot reach itself")
	}
}

func TestMemPartitionIsolateHeal(t *testing.T) {
	nw := NewNetwork()
	n := make([]*memNode, 4)
	addrs := make([]netip.AddrPort, 4)
	for i := range n {
		n[i] = attach(t, nw, fmt.Sprintf("10.0.0.%d:7946", i+1), false)
		addrs[i] = n[i].Addr()
	}
	// check compares who reaches whom with want(i, j).
	check := func(what string, want func(i, j int) bool) {
		t.Helper()
		for i := range n {
			for j := range n {
				if got := reaches(t, nw, n[i], n[j]); got != want(i, j) {
					t.Errorf("%s: %s → %s reaches: %v, want %v", what, n[i].Addr(), n[j].Addr(), got, want(i, j))
				}
			}
		}
	}
	nw.Partition(addrs[:2], addrs[2:])
	check("partitioned", func(i, j int) bool { return (i < 2) == (j < 2) })
	nw.Heal()
	check("healed", func(i, j int) bool { return true })

	nw.Isolate(addrs[0])
	check("isolated", func(i, j int) bool { return i == j || (i != 0 && j != 0) })
	late := attach(t, nw, "10.0.0.9:7946", false)
	if reaches(t, nw, late, n[0]) || reaches(t, nw, n[0], late) {
		t.Error("a transport attached after Isolate reaches the isolated one")
	}
	// Isolation stays with the address, through a restart.
	n[0].Shutdown()
	n[0] = attach(t, nw, addrs[0].String(), false)
	if reaches(t, nw, n[1], n[0]) {
		t.Error("a restarted transport is no longer isolated")
	}
	nw.Heal()
	check("healed again", func(i, j int) bool { return true })
}

func TestMemShutdown(t *testing.T) {
	nw := NewNetwork()
	s := attach(t, nw, "10.0.0.1:7946", false)
	r := attach(t, nw, "10.0.0.2:7946", true)
	// Queued when r shuts down: packets, frames and a stream.
	s.WriteTo([]byte{0, 'x'}, r.Addr().String())
	s.WriteFrame([]byte{FrameLazy, framePlain, 0}, r.Addr())
	c, err := s.DialTimeout(r.Addr().String(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if err := r.Shutdown(); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
	// The stream nobody accepted is closed: the dialer sees its end.
	c.SetDeadline(time.Now().Add(patience))
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("reading a stream dropped by Shutdown: %v, want EOF", err)
	}
	if got := lazyFrames(r); len(got) != 0 {
		t.Errorf("ReadLazy after Shutdown got %v", got)
	}
	// The channels stay open, and empty.
	select {
	case p, ok := <-r.PacketCh():
		t.Errorf("PacketCh after Shutdown: %v, %v", p, ok)
	case c, ok := <-r.StreamCh():
		t.Errorf("StreamCh after Shutdown: %v, %v", c, ok)
	default:
	}
	// Sending to it is dropped silently, dialling it refused; it cannot
	// send any more.
	if _, err := s.WriteTo([]byte{0, 'y'}, r.Addr().String()); err != nil {
		t.Errorf("WriteTo a transport shut down: %v", err)
	}
	if err := s.WriteFrame([]byte{FrameEager, framePlain, 1}, r.Addr()); err != nil {
		t.Errorf("WriteFrame to a transport shut down: %v", err)
	}
	if _, err := s.DialTimeout(r.Addr().String(), time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial to a transport shut down: %v, want refused", err)
	}
	if _, err := r.WriteTo([]byte{0, 'z'}, s.Addr().String()); !errors.Is(err, net.ErrClosed) {
		t.Errorf("WriteTo from a transport shut down: %v, want closed", err)
	}
	if err := r.WriteFrame([]byte{FrameEager, framePlain, 2}, s.Addr()); !errors.Is(err, net.ErrClosed) {
		t.Errorf("WriteFrame from a transport shut down: %v, want closed", err)
	}
	if len(r.PacketCh()) != 0 || len(r.eager) != 0 {
		t.Error("something reached a transport shut down")
	}
	// Its address is free again, for a restart.
	again := attach(t, nw, r.Addr().String(), true)
	if !reaches(t, nw, s, again) {
		t.Error("a transport on a freed address unreachable")
	}
}

// TestMemQueuesBounded: nobody reading, sends do not block and what
// exceeds a queue is dropped, as a full socket buffer drops it.
func TestMemQueuesBounded(t *testing.T) {
	nw := NewNetwork()
	s := attach(t, nw, "10.0.0.1:7946", false)
	r := attach(t, nw, "10.0.0.2:7946", true)
	const extra = 10
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range memPackets + extra {
			s.WriteTo([]byte{0, byte(i)}, r.Addr().String())
			s.WriteFrame([]byte{FrameLazy, framePlain, byte(i)}, r.Addr())
		}
	}()
	select {
	case <-done:
	case <-time.After(patience):
		t.Fatal("sends blocked on a full queue")
	}
	if n := len(r.PacketCh()); n != memPackets {
		t.Errorf("%d packets queued, want %d", n, memPackets)
	}
	got := lazyFrames(r)
	if len(got) != memFrames {
		t.Fatalf("%d lazy frames queued, want %d", len(got), memFrames)
	}
	// The first ones stay, the last are dropped.
	for i, f := range got {
		if f.b[2] != byte(i) {
			t.Fatalf("lazy frame %d is %x", i, f.b)
		}
	}
}

// memberlistConfig is memberlist's local configuration with timings short
// enough for a test, over tr.
func memberlistConfig(name string, tr Transport) *memberlist.Config {
	c := memberlist.DefaultLocalConfig()
	c.Name = name
	c.Transport = tr
	c.LogOutput = io.Discard
	c.ProbeInterval = 20 * time.Millisecond
	c.ProbeTimeout = 10 * time.Millisecond
	c.GossipInterval = 5 * time.Millisecond
	c.PushPullInterval = 50 * time.Millisecond
	c.SuspicionMult = 2
	c.TCPTimeout = time.Second
	return c
}

// alive lists the members ml sees alive.
func alive(ml *memberlist.Memberlist) []string {
	var names []string
	for _, m := range ml.Members() {
		if m.State == memberlist.StateAlive {
			names = append(names, m.Name)
		}
	}
	slices.Sort(names)
	return names
}

// TestMemberlistOverMem: memberlist runs over in-memory transports: two
// members join and see each other; the one that stops hearing the other
// through a one-way cut declares it dead; after Heal they join again; and
// both shut down cleanly.
func TestMemberlistOverMem(t *testing.T) {
	nw := NewNetwork()
	var mls []*memberlist.Memberlist
	var trs []*MemTransport
	for i, name := range []string{"a", "b"} {
		tr, err := nw.NewTransport(netip.MustParseAddrPort(fmt.Sprintf("10.0.0.%d:7946", i+1)), func([]byte, netip.AddrPort, time.Time) {})
		if err != nil {
			t.Fatal(err)
		}
		ml, err := memberlist.Create(memberlistConfig(name, tr))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ml.Shutdown() })
		mls = append(mls, ml)
		trs = append(trs, tr)
	}
	a, b := mls[0], mls[1]
	if n := a.LocalNode(); n.Addr.String() != "10.0.0.1" || n.Port != 7946 {
		t.Errorf("a advertises %s:%d", n.Addr, n.Port)
	}
	if n, err := b.Join([]string{"10.0.0.1:7946"}); n != 1 || err != nil {
		t.Fatalf("join: %d, %v", n, err)
	}
	both := func() bool {
		return slices.Equal(alive(a), []string{"a", "b"}) && slices.Equal(alive(b), []string{"a", "b"})
	}
	waitFor(t, "both members to see each other", both)

	// b cannot hear a: b declares a dead (and a, whose probes get no
	// answer, b).
	nw.Cut(trs[0].Addr(), trs[1].Addr())
	waitFor(t, "b to declare a dead", func() bool { return len(b.Members()) == 1 })

	nw.Heal()
	if _, err := b.Join([]string{"10.0.0.1:7946"}); err != nil {
		t.Fatalf("join after Heal: %v", err)
	}
	waitFor(t, "both members to see each other after Heal", both)

	done := make(chan struct{})
	go func() {
		a.Shutdown()
		b.Shutdown()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(patience):
		t.Fatal("memberlist Shutdown hangs")
	}
}
