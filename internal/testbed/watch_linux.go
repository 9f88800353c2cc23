package testbed

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/packet"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"

	"github.com/havip/havip/internal/nsrun"
)

// GARP is one gratuitous ARP (sender and target address both the
// announced address) the observer received.
type GARP struct {
	At  time.Time
	MAC net.HardwareAddr
	// Node is the index of the node whose eth0 has MAC, -1 for none.
	Node int
	Op   arp.Operation
}

// ARPWatch records the gratuitous ARPs for one address that reach the
// observer's eth0, from a packet socket opened in the observer namespace.
type ARPWatch struct {
	addr netip.Addr
	conn *packet.Conn
	done chan struct{}

	mu    sync.Mutex
	garps []GARP
	wake  chan struct{}
	err   error
}

// WatchGARP starts recording the gratuitous ARPs for addr the observer
// sees. It only listens. Close it.
func (n *Net) WatchGARP(addr netip.Addr) (*ARPWatch, error) {
	if !addr.Is4() {
		return nil, fmt.Errorf("testbed: watching ARP for %s: IPv4 only", addr)
	}
	var conn *packet.Conn
	err := nsrun.InNamed(n.Observer.NS, func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		conn, err = packet.Listen(ifi, packet.Datagram, 0x0806, nil)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("testbed: ARP socket in %s: %w", n.Observer.NS, err)
	}
	w := &ARPWatch{addr: addr, conn: conn, done: make(chan struct{}), wake: make(chan struct{})}
	go w.read(n)
	return w, nil
}

func (w *ARPWatch) read(n *Net) {
	defer close(w.done)
	buf := make([]byte, 1500)
	for {
		nb, _, err := w.conn.ReadFrom(buf)
		at := time.Now()
		if err != nil {
			w.mu.Lock()
			w.err = err
			w.mu.Unlock()
			return
		}
		var p arp.Packet
		if p.UnmarshalBinary(buf[:nb]) != nil {
			continue
		}
		if p.SenderIP != w.addr || p.TargetIP != w.addr {
			continue
		}
		g := GARP{At: at, MAC: p.SenderHardwareAddr, Node: n.NodeOfMAC(p.SenderHardwareAddr), Op: p.Operation}
		w.mu.Lock()
		w.garps = append(w.garps, g)
		close(w.wake)
		w.wake = make(chan struct{})
		w.mu.Unlock()
	}
}

// First returns the first gratuitous ARP received at or after since from
// a node other than not (-1: any), waiting up to timeout for it.
func (w *ARPWatch) First(since time.Time, not int, timeout time.Duration) (GARP, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		w.mu.Lock()
		for _, g := range w.garps {
			if !g.At.Before(since) && (not < 0 || g.Node != not) {
				w.mu.Unlock()
				return g, nil
			}
		}
		wake, err := w.wake, w.err
		w.mu.Unlock()
		if err != nil {
			return GARP{}, fmt.Errorf("testbed: ARP watch: %w", err)
		}
		select {
		case <-wake:
		case <-deadline.C:
			return GARP{}, fmt.Errorf("testbed: no gratuitous ARP for %s within %v", w.addr, timeout)
		}
	}
}

// All returns every gratuitous ARP recorded so far.
func (w *ARPWatch) All() []GARP {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]GARP(nil), w.garps...)
}

// Close stops the watch.
func (w *ARPWatch) Close() error {
	err := w.conn.Close()
	<-w.done
	return err
}

// Pinger sends ICMP echo requests from the observer to one address at a
// fixed interval, from a socket opened in the observer namespace, and
// records when each reply came back. It stops by itself after its
// maximum duration.
type Pinger struct {
	to       netip.Addr
	interval time.Duration
	id       int
	conn     *icmp.PacketConn
	stop     chan struct{}
	once     sync.Once
	done     chan struct{}

	mu    sync.Mutex
	sent  []time.Time // by sequence number
	rtt   map[int]time.Duration
	start time.Time
}

// MaxPingDuration bounds every Pinger.
const MaxPingDuration = 10 * time.Minute

// StartPinger pings to (an address of the topology's IPv4 segment) from
// the observer every interval (at least 1 ms) until Stop or max (at most
// MaxPingDuration).
func (n *Net) StartPinger(to netip.Addr, interval, max time.Duration) (*Pinger, error) {
	if !Subnet4.Contains(to) {
		return nil, fmt.Errorf("testbed: pinging %s: only addresses in %s", to, Subnet4)
	}
	if interval < time.Millisecond || max <= 0 || max > MaxPingDuration {
		return nil, fmt.Errorf("testbed: pinging every %v for %v: want ≥ 1ms for at most %v", interval, max, MaxPingDuration)
	}
	var conn *icmp.PacketConn
	err := nsrun.InNamed(n.Observer.NS, func() error {
		var err error
		conn, err = icmp.ListenPacket("ip4:icmp", n.Observer.Addr.String())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("testbed: ICMP socket in %s: %w", n.Observer.NS, err)
	}
	p := &Pinger{
		to: to, interval: interval, id: rand.IntN(0xffff) + 1, conn: conn,
		stop: make(chan struct{}), done: make(chan struct{}), rtt: map[int]time.Duration{},
		start: time.Now(),
	}
	go p.receive()
	go p.send(max)
	return p, nil
}

func (p *Pinger) send(max time.Duration) {
	defer close(p.done)
	t := time.NewTicker(p.interval)
	defer t.Stop()
	end := time.NewTimer(max)
	defer end.Stop()
	dst := &net.IPAddr{IP: p.to.AsSlice()}
	for seq := 0; ; seq++ {
		msg := icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: p.id, Seq: seq & 0xffff, Data: []byte("havip-bench")}}
		b, err := msg.Marshal(nil)
		if err == nil {
			p.mu.Lock()
			p.sent = append(p.sent, time.Now())
			p.mu.Unlock()
			// A send error (no route, neighbour unresolved) is a lost
			// echo like any other. Echoes queued behind an unresolved
			// neighbour fill the socket's send buffer, and a blocked
			// send would stop the count of lost echoes: never wait.
			_ = p.conn.SetWriteDeadline(time.Now().Add(p.interval / 2))
			_, _ = p.conn.WriteTo(b, dst)
		}
		select {
		case <-p.stop:
			return
		case <-end.C:
			return
		case <-t.C:
		}
	}
}

func (p *Pinger) receive() {
	buf := make([]byte, 1500)
	for {
		nb, _, err := p.conn.ReadFrom(buf)
		at := time.Now()
		if err != nil {
			return
		}
		m, err := icmp.ParseMessage(1, buf[:nb])
		if err != nil || m.Type != ipv4.ICMPTypeEchoReply {
			continue
		}
		e, ok := m.Body.(*icmp.Echo)
		if !ok || e.ID != p.id {
			continue
		}
		p.mu.Lock()
		// Sequence numbers wrap at 65536: take the latest echo with it.
		for seq := len(p.sent) - 1; seq >= 0; seq-- {
			if seq&0xffff == e.Seq {
				if _, dup := p.rtt[seq]; !dup {
					p.rtt[seq] = at.Sub(p.sent[seq])
				}
				break
			}
		}
		p.mu.Unlock()
	}
}

// Stop ends the pinging (idempotent) and closes the socket.
func (p *Pinger) Stop() {
	p.once.Do(func() {
		close(p.stop)
		<-p.done
		// Let the last replies in.
		time.Sleep(20 * time.Millisecond)
		p.conn.Close()
	})
}

// PingStats summarize the echoes sent in a time window.
type PingStats struct {
	Sent int
	// Lost counts the echoes with no reply within the late limit.
	Lost int
	// LongestRun is the longest run of consecutive lost echoes.
	LongestRun int
	// FirstLost is when the first lost echo was sent, Recovered when the
	// first answered echo after the last lost one was (zero: none).
	FirstLost, Recovered time.Time
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

// Stats counts the echoes sent in [from, to): an echo whose reply did
// not come back within late counts as lost.
func (p *Pinger) Stats(from, to time.Time, late time.Duration) PingStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	var s PingStats
	run := 0
	for seq, at := range p.sent {
		if at.Before(from) || !at.Before(to) {
			continue
		}
		s.Sent++
		rtt, ok := p.rtt[seq]
		if ok && rtt <= late {
			if run > 0 {
				s.Recovered = at
			}
			run = 0
			continue
		}
		s.Lost++
		if s.FirstLost.IsZero() {
			s.FirstLost = at
		}
		run++
		s.LongestRun = max(s.LongestRun, run)
	}
	return s
}

// Interval is the pinger's sending interval.
func (p *Pinger) Interval() time.Duration { return p.interval }
