//go:build !linux

package wire

import (
	"net"
	"net/netip"
)

// udpIO reads and writes the gossip socket through net.UDPConn. Linux has
// its own, lighter version (udpio_linux.go).
type udpIO struct{ c *net.UDPConn }

func newUDPIO(c *net.UDPConn) (*udpIO, error) { return &udpIO{c: c}, nil }

func (u *udpIO) readFrom(b []byte) (int, netip.AddrPort, error) {
	return u.c.ReadFromUDPAddrPort(b)
}

func (u *udpIO) writeTo(b []byte, to netip.AddrPort) error {
	_, err := u.c.WriteToUDPAddrPort(b, to)
	return err
}
