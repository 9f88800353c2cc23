package announce_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/ndp"
	"github.com/mdlayher/packet"
	"golang.org/x/net/ipv6"

	"github.com/havip/havip/announce"
)

var (
	testMAC = net.HardwareAddr{0x02, 0x00, 0x5e, 0x10, 0x20, 0x30}
	testIfi = &net.Interface{Index: 7, Name: "eth0", HardwareAddr: testMAC, MTU: 1500}
)

// fakeFrames records the frames written to it.
type fakeFrames struct {
	mu     sync.Mutex
	frames [][]byte
	dsts   []net.Addr
	err    error
	closed bool
}

func (f *fakeFrames) WriteTo(b []byte, addr net.Addr) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return 0, f.err
	}
	f.frames = append(f.frames, bytes.Clone(b))
	f.dsts = append(f.dsts, addr)
	return len(b), nil
}

func (f *fakeFrames) Close() error { f.closed = true; return nil }

func (f *fakeFrames) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.frames)
}

// fakeNDP records the messages sent through it; its first `failures`
// writes fail.
type fakeNDP struct {
	msgs     []ndp.Message
	cms      []*ipv6.ControlMessage
	dsts     []netip.Addr
	failures int
	closed   bool
}

func (c *fakeNDP) WriteTo(m ndp.Message, cm *ipv6.ControlMessage, dst netip.Addr) error {
	if c.failures > 0 {
		c.failures--
		return errors.New("sendmsg: cannot assign requested address")
	}
	c.msgs = append(c.msgs, m)
	c.cms = append(c.cms, cm)
	c.dsts = append(c.dsts, dst)
	return nil
}

func (c *fakeNDP) Close() error { c.closed = true; return nil }

// garpBytes spells out, byte by byte, the gratuitous ARP frame for
// 192.0.2.10 from testMAC.
func garpBytes(op byte, targetHW net.HardwareAddr) []byte {
	b := []byte{
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // destination: broadcast
		0x02, 0x00, 0x5e, 0x10, 0x20, 0x30, // source: our MAC
		0x08, 0x06, // EtherType ARP
		0x00, 0x01, // hardware type Ethernet
		0x08, 0x00, // protocol type IPv4
		6, 4, // hardware and protocol address lengths
		0x00, op, // operation
		0x02, 0x00, 0x5e, 0x10, 0x20, 0x30, // sender hardware address
		192, 0, 2, 10, // sender IP: the VIP
	}
	b = append(b, targetHW...)
	b = append(b, 192, 0, 2, 10)                 // target IP: the VIP
	return append(b, make([]byte, 60-len(b))...) // padded to the minimum frame
}

func TestAnnounceIPv4Frames(t *testing.T) {
	frames := &fakeFrames{}
	a, err := announce.New(testIfi, frames, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Announce(netip.MustParseAddr("192.0.2.10")); err != nil {
		t.Fatal(err)
	}
	want := [][]byte{
		garpBytes(1, net.HardwareAddr{0, 0, 0, 0, 0, 0}), // request, target HW zero
		garpBytes(2, testMAC),                            // reply, target HW ours
	}
	if diff := cmp.Diff(want, frames.frames); diff != "" {
		t.Errorf("frames (-want +got):\n%s", diff)
	}
	for i, dst := range frames.dsts {
		pa, ok := dst.(*packet.Addr)
		if !ok || pa.HardwareAddr.String() != "ff:ff:ff:ff:ff:ff" {
			t.Errorf("frame %d sent to %v, want ff:ff:ff:ff:ff:ff", i, dst)
		}
	}
}

func TestAnnounceIPv6Message(t *testing.T) {
	var (
		conns []*fakeNDP
		vips  []netip.Addr
	)
	listen := func(vip netip.Addr) (announce.NDPConn, error) {
		c := &fakeNDP{}
		conns = append(conns, c)
		vips = append(vips, vip)
		return c, nil
	}
	a, err := announce.New(testIfi, &fakeFrames{}, listen, nil)
	if err != nil {
		t.Fatal(err)
	}
	vip := netip.MustParseAddr("2001:db8::10")
	for range 2 {
		if err := a.Announce(vip); err != nil {
			t.Fatal(err)
		}
	}
	if len(conns) != 1 {
		t.Fatalf("opened %d NDP conns, want 1 (opened once, lazily)", len(conns))
	}
	if vips[0] != vip {
		t.Errorf("listen got %s, want %s", vips[0], vip)
	}
	want := &ndp.NeighborAdvertisement{
		Router:        false,
		Solicited:     false,
		Override:      true,
		TargetAddress: vip,
		Options:       []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: testMAC}},
	}
	c := conns[0]
	for i, m := range c.msgs {
		if diff := cmp.Diff(want, m, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
			t.Errorf("message %d (-want +got):\n%s", i, diff)
		}
		if c.dsts[i] != netip.MustParseAddr("ff02::1") {
			t.Errorf("message %d sent to %s, want ff02::1", i, c.dsts[i])
		}
		if c.cms[i] != nil {
			t.Errorf("message %d has control message %v, want nil (the conn's: hop limit 255)", i, c.cms[i])
		}
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if !c.closed {
		t.Errorf("Close left the NDP conn open")
	}
}

func TestAnnounceIPv6Reopens(t *testing.T) {
	var conns []*fakeNDP
	listen := func(netip.Addr) (announce.NDPConn, error) {
		c := &fakeNDP{}
		if len(conns) == 0 {
			c.failures = 1000 // the first conn's source address went away
		}
		conns = append(conns, c)
		return c, nil
	}
	a, err := announce.New(testIfi, &fakeFrames{}, listen, nil)
	if err != nil {
		t.Fatal(err)
	}
	vip := netip.MustParseAddr("2001:db8::10")
	if err := a.Announce(vip); err == nil {
		t.Fatalf("first Announce succeeded through a failing conn")
	}
	if err := a.Announce(vip); err != nil {
		t.Fatalf("second Announce: %v", err)
	}
	if len(conns) != 2 || !conns[0].closed || len(conns[1].msgs) != 1 {
		t.Errorf("after a failed send: %d conns, first closed %t; want the failing conn closed and a new one used", len(conns), len(conns) > 0 && conns[0].closed)
	}
}

func TestAnnounceErrors(t *testing.T) {
	frames := &fakeFrames{err: errors.New("sendto: network is down")}
	a, err := announce.New(testIfi, frames, func(netip.Addr) (announce.NDPConn, error) {
		return nil, errors.New("no usable source address")
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		addr string
		want string
	}{
		{"192.0.2.10", "announcing 192.0.2.10 on eth0: sendto: network is down"},
		{"2001:db8::10", "announcing 2001:db8::10 on eth0: no usable source address"},
	} {
		err := a.Announce(netip.MustParseAddr(tt.addr))
		if err == nil || err.Error() != tt.want {
			t.Errorf("Announce(%s) = %v, want %q", tt.addr, err, tt.want)
		}
	}
	if err := a.Announce(netip.Addr{}); err == nil {
		t.Errorf("Announce of the zero address succeeded")
	}
	a.Close()
	if err := a.Announce(netip.MustParseAddr("192.0.2.10")); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Announce after Close = %v, want net.ErrClosed", err)
	}
}

func TestNewRejectsNonEthernet(t *testing.T) {
	_, err := announce.New(&net.Interface{Name: "tun0"}, &fakeFrames{}, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "tun0") {
		t.Errorf("New on an interface without a MAC = %v, want an error naming it", err)
	}
}

func TestBurst(t *testing.T) {
	frames := &fakeFrames{}
	nd := &fakeNDP{}
	a, err := announce.New(testIfi, frames, func(netip.Addr) (announce.NDPConn, error) { return nd, nil }, nil)
	if err != nil {
		t.Fatal(err)
	}
	addrs := []netip.Addr{netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("2001:db8::10")}
	start := time.Now()
	sent, err := a.Burst(context.Background(), addrs, 3, 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if elapsed := time.Since(start); elapsed < 40*time.Millisecond {
		t.Errorf("3 rounds 20ms apart took %s, want at least 40ms", elapsed)
	}
	if sent != 6 {
		t.Errorf("sent = %d, want 6 (2 addresses, 3 rounds)", sent)
	}
	if frames.count() != 6 || len(nd.msgs) != 3 {
		t.Errorf("%d ARP frames and %d advertisements, want 6 and 3", frames.count(), len(nd.msgs))
	}
}

func TestBurstStopsOnCancel(t *testing.T) {
	frames := &fakeFrames{}
	a, err := announce.New(testIfi, frames, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	sent, err := a.Burst(ctx, []netip.Addr{netip.MustParseAddr("192.0.2.10")}, 100, time.Hour)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Burst error = %v, want context.Canceled", err)
	}
	if sent != 1 || frames.count() != 2 {
		t.Errorf("sent %d (%d frames), want the first round only: 1 (2 frames)", sent, frames.count())
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("Burst returned %s after start, long after its context ended", elapsed)
	}

	if sent, err := a.Burst(ctx, []netip.Addr{netip.MustParseAddr("192.0.2.10")}, 3, 0); sent != 0 || err == nil {
		t.Errorf("Burst with an ended context = %d, %v; want 0 and an error", sent, err)
	}
}

func TestBurstKeepsGoingPastFailures(t *testing.T) {
	frames := &fakeFrames{}
	a, err := announce.New(testIfi, frames, func(netip.Addr) (announce.NDPConn, error) {
		return nil, errors.New("no usable source address")
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	addrs := []netip.Addr{netip.MustParseAddr("2001:db8::10"), netip.MustParseAddr("192.0.2.10")}
	sent, err := a.Burst(context.Background(), addrs, 2, time.Millisecond)
	if sent != 2 {
		t.Errorf("sent = %d, want 2 (the IPv4 address, twice)", sent)
	}
	if err == nil || strings.Count(err.Error(), "2001:db8::10") != 1 {
		t.Errorf("Burst error = %v, want the IPv6 failure once", err)
	}
}

// The announcer of a system that announces by itself (Windows) sends
// nothing, succeeds at once whatever the round count, and fails after
// Close like the others.
func TestSystemAnnouncer(t *testing.T) {
	a, err := announce.NewSystem(&net.Interface{Index: 3, Name: "Ethernet 2"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	addrs := []netip.Addr{netip.MustParseAddr("192.0.2.22"), netip.MustParseAddr("2001:db8::22")}
	if err := a.Announce(addrs[0]); err != nil {
		t.Errorf("Announce: %v", err)
	}
	start := time.Now()
	sent, err := a.Burst(context.Background(), addrs, 5, time.Second)
	if sent != 0 || err != nil {
		t.Errorf("Burst = %d, %v; want 0, nil", sent, err)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("Burst waited %s for rounds with nothing to send", d)
	}
	if err := a.Announce(netip.Addr{}); err == nil {
		t.Error("Announce of an invalid address succeeded")
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Announce(addrs[0]); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Announce after Close: %v, want net.ErrClosed", err)
	}
	if _, err := announce.NewSystem(nil, nil); err == nil {
		t.Error("NewSystem(nil) succeeded")
	}
}
