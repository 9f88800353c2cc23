//go:build !linux

package testbed

import (
	"errors"
	"net"
	"net/netip"
	"time"
)

var errLinuxOnly = errors.New("testbed: observer sockets need Linux network namespaces")

// GARP is one gratuitous ARP the observer received.
type GARP struct {
	At   time.Time
	MAC  net.HardwareAddr
	Node int
}

// ARPWatch records gratuitous ARPs; Linux only.
type ARPWatch struct{}

// WatchGARP fails: Linux only.
func (n *Net) WatchGARP(netip.Addr) (*ARPWatch, error) { return nil, errLinuxOnly }

// First is never reached.
func (w *ARPWatch) First(time.Time, int, time.Duration) (GARP, error) { return GARP{}, errLinuxOnly }

// All is never reached.
func (w *ARPWatch) All() []GARP { return nil }

// Close does nothing.
func (w *ARPWatch) Close() error { return nil }

// Pinger pings from the observer; Linux only.
type Pinger struct{}

// PingStats summarize the echoes sent in a time window.
type PingStats struct {
	Sent, Lost, LongestRun int
	FirstLost, Recovered   time.Time
}

// Outage is how long a client pinging every interval went without
// answers: lost echoes × interval, taken as the time from the first lost
// echo to the first answered one after the last lost one. The two agree
// while the sender keeps pace; the span stays right when a busy machine
// delays or drops some of the sends. Without a recovery in the window it
// is Lost × interval.
func (s PingStats) Outage(interval time.Duration) time.Duration {
	if s.Lost == 0 {
		return 0
	}
	if !s.FirstLost.IsZero() && !s.Recovered.IsZero() {
		return s.Recovered.Sub(s.FirstLost)
	}
	return time.Duration(s.Lost) * interval
}

// StartPinger fails: Linux only.
func (n *Net) StartPinger(netip.Addr, time.Duration, time.Duration) (*Pinger, error) {
	return nil, errLinuxOnly
}

// Stop does nothing.
func (p *Pinger) Stop() {}

// Stats is never reached.
func (p *Pinger) Stats(time.Time, time.Time, time.Duration) PingStats { return PingStats{} }

// Interval is never reached.
func (p *Pinger) Interval() time.Duration { return 0 }
