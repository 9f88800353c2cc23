//go:build linux

package wire

import (
	"net"
	"net/netip"
	"testing"
)

// A packet sent and read through udpIO arrives whole, from its sender,
// and allocates nothing (each heartbeat is one; at ten members a daemon
// sends and takes hundreds a second). Loopback only.
func TestUDPIO(t *testing.T) {
	for _, network := range []string{"udp4", "udp"} {
		t.Run(network, func(t *testing.T) {
			addr := "127.0.0.1:0"
			if network == "udp" {
				addr = "[::]:0"
			}
			c, err := net.ListenUDP(network, mustResolve(t, network, addr))
			if err != nil {
				t.Skipf("no %s socket here: %v", network, err)
			}
			defer c.Close()
			u, err := newUDPIO(c)
			if err != nil {
				t.Fatal(err)
			}
			port := c.LocalAddr().(*net.UDPAddr).Port
			to := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
			msg := []byte("heartbeat")
			buf := make([]byte, 64)
			roundTrip := func() {
				if err := u.writeTo(msg, to); err != nil {
					t.Fatalf("writeTo: %v", err)
				}
				n, from, err := u.readFrom(buf)
				if err != nil {
					t.Fatalf("readFrom: %v", err)
				}
				if string(buf[:n]) != string(msg) {
					t.Fatalf("read %q, want %q", buf[:n], msg)
				}
				if from.Addr().Unmap() != to.Addr() || from.Port() != uint16(port) {
					t.Fatalf("from %v, want %v", from, to)
				}
			}
			roundTrip()
			if allocs := testing.AllocsPerRun(100, roundTrip); allocs != 0 {
				t.Errorf("a send and a read allocate %.1f times, want 0", allocs)
			}
		})
	}
}

func mustResolve(t *testing.T, network, addr string) *net.UDPAddr {
	t.Helper()
	a, err := net.ResolveUDPAddr(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
