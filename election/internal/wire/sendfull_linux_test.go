//go:build linux

package wire

import (
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/havip/havip/internal/nstest"
	"github.com/vishvananda/netlink"
)

// TestSendNeverWaits: packets to a neighbour whose address the kernel
// cannot resolve (nobody answers its ARP requests, as across a partition)
// are queued by the kernel and fill the socket's send buffer for seconds.
// A send then drops the packet with ErrSendBufferFull instead of waiting:
// the election goroutine sends the heartbeats, and waiting stalled it.
// Inside a network namespace of its own.
func TestSendNeverWaits(t *testing.T) {
	ns := nstest.New(t)
	a, _ := ns.Veth(t, "ha0", "ha1")
	if err := ns.Handle().AddrAdd(a, &netlink.Addr{IPNet: &net.IPNet{IP: net.IPv4(198, 18, 7, 1), Mask: net.CIDRMask(24, 32)}}); err != nil {
		t.Fatal(err)
	}
	var c *net.UDPConn
	if err := ns.Do(func() error {
		var err error
		c, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(198, 18, 7, 1)})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	u, err := newUDPIO(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetWriteBuffer(4096); err != nil {
		t.Fatal(err)
	}
	// 198.18.7.2 is on ha0's subnet and nobody has it: ha1, the other
	// end, has no address.
	to := netip.MustParseAddrPort("198.18.7.2:7946")
	msg := make([]byte, 200)
	const sends = 2000
	dropped, other := 0, error(nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range sends {
			switch err := u.writeTo(msg, to); {
			case errors.Is(err, ErrSendBufferFull):
				dropped++
			case err != nil && other == nil:
				other = err
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		// Waiting for the buffer, each send would take until the
		// kernel gave up resolving (about three seconds).
		t.Fatal("sends waited for the send buffer")
	}
	if other != nil {
		t.Errorf("a send failed: %v", other)
	}
	if dropped == 0 {
		t.Errorf("none of %d packets to an unresolved neighbour was dropped; the buffer (4 KiB) cannot have held them", sends)
	}
	t.Logf("%d of %d packets dropped", dropped, sends)
}

// TestSendWhileANeighbourIsUnresolved: the kernel queues packets for a
// neighbour it is resolving, up to unres_qlen_bytes each, against the
// socket's send buffer; the socket's buffer holds the queues of several,
// so packets to other members still go out meanwhile.
func TestSendWhileANeighbourIsUnresolved(t *testing.T) {
	ns := nstest.New(t)
	a, _ := ns.Veth(t, "ha0", "ha1")
	if err := ns.Handle().AddrAdd(a, &netlink.Addr{IPNet: &net.IPNet{IP: net.IPv4(198, 18, 7, 1), Mask: net.CIDRMask(24, 32)}}); err != nil {
		t.Fatal(err)
	}
	var c, peer *net.UDPConn
	if err := ns.Do(func() error {
		var err error
		if c, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(198, 18, 7, 1)}); err != nil {
			return err
		}
		peer, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	defer peer.Close()
	u, err := newUDPIO(c)
	if err != nil {
		t.Fatal(err)
	}
	msg := make([]byte, 200)
	for _, a := range []string{"198.18.7.2:7946", "198.18.7.3:7946", "198.18.7.4:7946"} {
		unresolved := netip.MustParseAddrPort(a)
		for range 2000 {
			if err := u.writeTo(msg, unresolved); err != nil {
				t.Fatalf("send to unresolved neighbour %s: %v", a, err)
			}
		}
	}
	to := peer.LocalAddr().(*net.UDPAddr).AddrPort()
	if err := u.writeTo([]byte("heartbeat"), to); err != nil {
		t.Fatalf("send to another member while a neighbour is unresolved: %v", err)
	}
	buf := make([]byte, 64)
	if err := peer.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if n, _, err := peer.ReadFromUDPAddrPort(buf); err != nil || string(buf[:n]) != "heartbeat" {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
}
