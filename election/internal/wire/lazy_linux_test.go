//go:build linux

package wire

import (
	"bytes"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// stampsOnArrival makes the kernel timestamp packets as they arrive, for
// the rest of the test. A socket asking for receive timestamps turns the
// kernel's timestamping on, but when no other socket on the host has it
// on, only some time later (from a work queue); a packet that arrives
// before is stamped when read instead. This keeps a socket with
// timestamps open and waits until a packet sent to it carries a stamp
// from before it was read.
func stampsOnArrival(t *testing.T) {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	self, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	buf, oob := make([]byte, 8), make([]byte, 64)
	for {
		if err := unix.Sendto(fd, []byte{0}, 0, self); err != nil {
			t.Fatal(err)
		}
		// Delivery on loopback is done by the time sendto returns.
		before := time.Now().UnixNano()
		_, oobn, _, _, err := unix.Recvmsg(fd, buf, oob, 0)
		if err != nil {
			t.Fatal(err)
		}
		if ts, ok := rxTimestamp(oob[:oobn]); ok && ts.Nano() < before {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the kernel does not timestamp packets as they arrive")
		}
	}
}

// TestLazyFramesWaitForTheReader: on a transport with frames, the kernel
// hands lazy frames to the lazy socket, where they wait for ReadLazy with
// their arrival time; eager frames go to onFrame as they arrive, and the
// rest to memberlist.
func TestLazyFramesWaitForTheReader(t *testing.T) {
	stampsOnArrival(t)
	for _, bind := range []string{"127.0.0.1:0", "0.0.0.0:0"} {
		t.Run(bind, func(t *testing.T) {
			eager := make(chan []byte, 64)
			tr, err := NewUDP(netip.MustParseAddrPort(bind), slog.New(slog.DiscardHandler), func(b []byte, _ netip.AddrPort, at time.Time) {
				select {
				case eager <- bytes.Clone(b):
				default: // more than this test sends: it has failed already
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Shutdown()
			if tr.lazy == nil {
				t.Fatal("no lazy socket on Linux")
			}
			to := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), tr.bind.Port())
			c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(to))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			lazy1 := []byte{FrameLazy, framePlain, 1}
			lazy2 := []byte{FrameLazy, framePlain, 2}
			eagerFrame := []byte{FrameEager, framePlain, 3}
			gossip := []byte{0, 'p', 'i', 'n', 'g'}
			sent := time.Now()
			for _, p := range [][]byte{lazy1, eagerFrame, gossip, lazy2} {
				if _, err := c.Write(p); err != nil {
					t.Fatal(err)
				}
			}
			select {
			case p := <-tr.PacketCh():
				if !bytes.Equal(p.Buf, gossip) {
					t.Errorf("memberlist got %q, want %q", p.Buf, gossip)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("memberlist got nothing")
			}
			// The lazy frame sent before the eager one would come first
			// had it reached the main socket.
			select {
			case b := <-eager:
				if !bytes.Equal(b, eagerFrame) {
					t.Errorf("onFrame got %x first, want the eager frame %x", b, eagerFrame)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("onFrame got nothing")
			}
			// Both lazy frames were queued before the read: their
			// arrival is the kernel's timestamp, not the read's time.
			var got [][]byte
			read := time.Now()
			tr.ReadLazy(func(b []byte, from netip.AddrPort, at time.Time) {
				got = append(got, bytes.Clone(b))
				if want := unmap(netip.MustParseAddrPort(c.LocalAddr().String())); from != want {
					t.Errorf("lazy frame from %v, want the sender %v", from, want)
				}
				if at.Before(sent) || !at.Before(read) {
					t.Errorf("lazy frame %x arrived at %v, outside [%v, %v)", b, at, sent, read)
				}
			})
			if len(got) != 2 || !bytes.Equal(got[0], lazy1) || !bytes.Equal(got[1], lazy2) {
				t.Errorf("readLazy got %x, want %x %x", got, lazy1, lazy2)
			}
			got = nil
			tr.ReadLazy(func(b []byte, _ netip.AddrPort, _ time.Time) { got = append(got, b) })
			if len(got) != 0 {
				t.Errorf("a second readLazy got %x, want nothing", got)
			}
			if len(eager) != 0 {
				t.Errorf("onFrame got %x too, want only the eager frame", <-eager)
			}
			// A burst waiting: all come, in order.
			const burst = 35
			for i := range burst {
				if _, err := c.Write([]byte{FrameLazy, framePlain, byte(i)}); err != nil {
					t.Fatal(err)
				}
			}
			got = nil
			tr.ReadLazy(func(b []byte, _ netip.AddrPort, _ time.Time) { got = append(got, bytes.Clone(b)) })
			if len(got) != burst {
				t.Fatalf("readLazy got %d of %d frames", len(got), burst)
			}
			for i, b := range got {
				if b[2] != byte(i) {
					t.Fatalf("frame %d is %x, out of order", i, b)
				}
			}
		})
	}
}

// TestUDPLazy: a transport that reads frames has the lazy socket on
// Linux; one that does not has none, and its frames go to memberlist.
func TestUDPLazy(t *testing.T) {
	l := slog.New(slog.DiscardHandler)
	tr, err := NewUDP(netip.MustParseAddrPort("127.0.0.1:0"), l, func([]byte, netip.AddrPort, time.Time) {})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Shutdown()
	if !tr.Lazy() {
		t.Error("Lazy() false with a lazy socket")
	}
	plain, err := NewUDP(netip.MustParseAddrPort("127.0.0.1:0"), l, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Shutdown()
	if plain.Lazy() {
		t.Error("Lazy() true without onFrame")
	}
	frame := []byte{FrameLazy, framePlain, 0}
	if err := tr.WriteFrame(frame, plain.Addr()); err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-plain.PacketCh():
		if !bytes.Equal(p.Buf, frame) {
			t.Errorf("memberlist got %x, want the frame %x", p.Buf, frame)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a frame to a transport without onFrame did not reach memberlist")
	}
}

// TestPortStillExclusive: the main UDP socket allows the lazy one to
// share its port, but a second daemon on the same address still fails.
func TestPortStillExclusive(t *testing.T) {
	l := slog.New(slog.DiscardHandler)
	onFrame := func([]byte, netip.AddrPort, time.Time) {}
	a, err := NewUDP(netip.MustParseAddrPort("127.0.0.1:0"), l, onFrame)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Shutdown()
	if b, err := NewUDP(a.bind, l, onFrame); err == nil {
		b.Shutdown()
		t.Fatalf("a second transport opened on %s", a.bind)
	}
}

func TestArrivalTime(t *testing.T) {
	now := time.Now()
	empty := now.Add(-20 * time.Millisecond)
	wall := now.UnixNano()
	for _, tc := range []struct {
		name string
		ts   int64
		ok   bool
		want time.Time
	}{
		{"in the window", wall - int64(5*time.Millisecond), true, now.Add(-5 * time.Millisecond)},
		{"before the socket was last empty", wall - int64(time.Second), true, empty},
		{"after now (wall clock stepped back)", wall + int64(time.Second), true, now},
		{"no timestamp", 0, false, now},
	} {
		if got := arrivalTime(tc.ts, tc.ok, now, empty); !got.Equal(tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got.Sub(now), tc.want.Sub(now))
		}
	}
	// The result is on the monotonic clock: comparable with time.Now
	// readings whatever the wall clock does.
	if got := arrivalTime(wall, true, now, empty); got.Sub(now) != 0 || got.String() == got.Round(0).String() {
		t.Errorf("arrival %v carries no monotonic reading", got)
	}
}

// TestRxTimestamp: the receive timestamp is found among other control
// messages, and a buffer without one (or cut short) gives none.
func TestRxTimestamp(t *testing.T) {
	cmsg := func(level, typ int32, data []byte) []byte {
		b := make([]byte, unix.CmsgSpace(len(data)))
		h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
		h.Level, h.Type = level, typ
		h.SetLen(unix.CmsgLen(len(data)))
		copy(b[unix.CmsgLen(0):], data)
		return b
	}
	want := unix.Timespec{Sec: 1795941373, Nsec: 198777012}
	ts := unsafe.Slice((*byte)(unsafe.Pointer(&want)), unsafe.Sizeof(want))
	other := cmsg(unix.SOL_IP, unix.IP_TTL, []byte{64, 0, 0, 0})
	both := append(bytes.Clone(other), cmsg(unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS, ts)...)
	if got, ok := rxTimestamp(both); !ok || got != want {
		t.Errorf("rxTimestamp = %v, %v; want %v", got, ok, want)
	}
	for name, oob := range map[string][]byte{
		"none":      nil,
		"other":     other,
		"truncated": both[:len(both)-8],
	} {
		if got, ok := rxTimestamp(oob); ok {
			t.Errorf("%s: rxTimestamp = %v, want none", name, got)
		}
	}
}
