//go:build !linux

package testbed

import (
	"context"
	"net/netip"
	"time"
)

// Datagram is one IPv4 UDP datagram seen on, or sent to, the bridge.
type Datagram struct {
	At       time.Time
	Src, Dst netip.AddrPort
	Payload  []byte
}

// UDPCapture records a node's UDP datagrams; Linux only.
type UDPCapture struct{}

// CaptureUDP fails: Linux only.
func (n *Net) CaptureUDP(int, uint16, time.Duration) (*UDPCapture, error) {
	return nil, errLinuxOnly
}

// Stop is never reached.
func (c *UDPCapture) Stop() ([]Datagram, error) { return nil, errLinuxOnly }

// Injector sends hand-built datagrams from the observer; Linux only.
type Injector struct{}

// OpenInjector fails: Linux only.
func (n *Net) OpenInjector() (*Injector, error) { return nil, errLinuxOnly }

// Send is never reached.
func (inj *Injector) Send(netip.AddrPort, netip.AddrPort, []byte) error { return errLinuxOnly }

// Replay is never reached.
func (inj *Injector) Replay(context.Context, []Datagram, func(Datagram) netip.AddrPort) (int, int, error) {
	return 0, 0, errLinuxOnly
}

// Close does nothing.
func (inj *Injector) Close() error { return nil }
