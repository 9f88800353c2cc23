package testbed

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mdlayher/packet"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/havip/havip/internal/nsrun"
)

// Datagram is one IPv4 UDP datagram seen on, or sent to, the bridge.
type Datagram struct {
	// At is when it was read; zero for one built to be sent.
	At       time.Time
	Src, Dst netip.AddrPort
	Payload  []byte
}

// MaxCaptureDuration and MaxCaptureDatagrams bound every UDPCapture, in
// time and in datagrams kept.
const (
	MaxCaptureDuration  = 10 * time.Minute
	MaxCaptureDatagrams = 100_000
)

// UDPCapture records the IPv4 UDP datagrams one node sends to a port,
// read from a packet socket on the node's bridge port in the switch
// namespace: what the node put on its wire, before any fault drops it.
// It only listens, and stops by itself after its maximum duration.
type UDPCapture struct {
	node  netip.Addr
	port  uint16
	conn  *packet.Conn
	done  chan struct{}
	timer *time.Timer
	// stopping is set before the reads are ended on purpose, so that
	// the read that ends is no error.
	stopping atomic.Bool

	mu  sync.Mutex
	ds  []Datagram
	err error
}

// CaptureUDP starts recording the datagrams node i sends to dstPort (any
// destination), for at most max (at most MaxCaptureDuration). Stop it.
func (n *Net) CaptureUDP(i int, dstPort uint16, max time.Duration) (*UDPCapture, error) {
	if i < 0 || i >= len(n.Nodes) {
		return nil, fmt.Errorf("testbed: capture: no node %d", i)
	}
	if max <= 0 || max > MaxCaptureDuration {
		return nil, fmt.Errorf("testbed: capture for %v: want at most %v", max, MaxCaptureDuration)
	}
	var conn *packet.Conn
	err := nsrun.InNamed(n.Switch, func() error {
		ifi, err := net.InterfaceByName(n.Nodes[i].Port)
		if err != nil {
			return err
		}
		// ETH_P_ALL: the frames a bridge port receives reach only the
		// taps of every protocol before the bridge takes them.
		conn, err = packet.Listen(ifi, packet.Raw, unix.ETH_P_ALL, nil)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("testbed: packet socket on %s in %s: %w", n.Nodes[i].Port, n.Switch, err)
	}
	c := &UDPCapture{node: n.Nodes[i].Addr, port: dstPort, conn: conn, done: make(chan struct{})}
	c.timer = time.AfterFunc(max, c.stop)
	go c.read()
	return c, nil
}

func (c *UDPCapture) read() {
	defer close(c.done)
	buf := make([]byte, 65536)
	for {
		nb, _, err := c.conn.ReadFrom(buf)
		at := time.Now()
		if err != nil {
			if !c.stopping.Load() {
				c.mu.Lock()
				c.err = err
				c.mu.Unlock()
			}
			return
		}
		d, ok := parseUDPFrame(buf[:nb])
		if !ok || d.Src.Addr() != c.node || d.Dst.Port() != c.port {
			continue
		}
		d.At = at
		c.mu.Lock()
		if len(c.ds) < MaxCaptureDatagrams {
			c.ds = append(c.ds, d)
		}
		c.mu.Unlock()
	}
}

// Stop ends the capture and returns the datagrams in the order they were
// read.
func (c *UDPCapture) Stop() ([]Datagram, error) {
	c.timer.Stop()
	c.stop()
	<-c.done
	c.conn.Close()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ds, c.err
}

// stop ends the read loop once the frames already queued in the socket
// are read (a datagram that has arrived at its destination may still be
// waiting there): a deadline a little ahead, not a close, which would
// drop them.
func (c *UDPCapture) stop() {
	c.stopping.Store(true)
	if c.conn.SetReadDeadline(time.Now().Add(20*time.Millisecond)) != nil {
		c.conn.Close()
	}
}

// parseUDPFrame reads an Ethernet frame carrying an unfragmented IPv4
// UDP datagram; the payload is a copy.
func parseUDPFrame(f []byte) (Datagram, bool) {
	const ethLen = 14
	if len(f) < ethLen+20+8 || binary.BigEndian.Uint16(f[12:14]) != unix.ETH_P_IP {
		return Datagram{}, false
	}
	ip := f[ethLen:]
	ihl := int(ip[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(ip[2:4]))
	if ip[0]>>4 != 4 || ihl < 20 || total < ihl+8 || total > len(ip) || ip[9] != unix.IPPROTO_UDP {
		return Datagram{}, false
	}
	// More fragments, or not the first one.
	if binary.BigEndian.Uint16(ip[6:8])&0x3fff != 0 {
		return Datagram{}, false
	}
	udp := ip[ihl:total]
	ulen := int(binary.BigEndian.Uint16(udp[4:6]))
	if ulen < 8 || ulen > len(udp) {
		return Datagram{}, false
	}
	src, _ := netip.AddrFromSlice(ip[12:16])
	dst, _ := netip.AddrFromSlice(ip[16:20])
	return Datagram{
		Src:     netip.AddrPortFrom(src, binary.BigEndian.Uint16(udp[0:2])),
		Dst:     netip.AddrPortFrom(dst, binary.BigEndian.Uint16(udp[2:4])),
		Payload: append([]byte(nil), udp[8:ulen]...),
	}, true
}

// Injector sends hand-built IPv4 UDP datagrams out of the observer's
// eth0, through a packet socket opened in the observer namespace: the
// source address and port are whatever the caller says (a node's, for a
// spoofed or replayed datagram), the Ethernet source is the observer's,
// and the bridge forwards the frame like any other from the observer's
// port. It sends only to the topology's nodes.
type Injector struct {
	n    *Net
	conn *packet.Conn

	mu sync.Mutex
	id uint16
}

// OpenInjector opens the observer's packet socket. Close it.
func (n *Net) OpenInjector() (*Injector, error) {
	// The socket only sends: a filter that keeps nothing stops the
	// observer's traffic from queueing in it.
	drop, err := bpf.Assemble([]bpf.Instruction{bpf.RetConstant{Val: 0}})
	if err != nil {
		return nil, err
	}
	var conn *packet.Conn
	err = nsrun.InNamed(n.Observer.NS, func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		conn, err = packet.Listen(ifi, packet.Datagram, unix.ETH_P_IP, &packet.Config{Filter: drop})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("testbed: packet socket in %s: %w", n.Observer.NS, err)
	}
	return &Injector{n: n, conn: conn}, nil
}

// Send sends payload from src to dst, which must be a node's address.
func (inj *Injector) Send(src, dst netip.AddrPort, payload []byte) error {
	mac := inj.macOf(dst.Addr())
	if mac == nil {
		return fmt.Errorf("testbed: inject to %s: not a node of the topology", dst)
	}
	if !src.Addr().Is4() {
		return fmt.Errorf("testbed: inject from %s: IPv4 only", src)
	}
	if len(payload) > 1500-20-8 {
		return fmt.Errorf("testbed: inject %d bytes: more than one unfragmented frame", len(payload))
	}
	inj.mu.Lock()
	inj.id++
	id := inj.id
	inj.mu.Unlock()
	_, err := inj.conn.WriteTo(buildUDP4(src, dst, id, payload), &packet.Addr{HardwareAddr: mac})
	return err
}

func (inj *Injector) macOf(a netip.Addr) net.HardwareAddr {
	for _, h := range inj.n.Nodes {
		if h.Addr == a {
			return h.MAC
		}
	}
	return nil
}

// MaxReplayDuration bounds every Replay.
const MaxReplayDuration = 10 * time.Minute

// Replay sends ds again and again, each to its own destination, spaced
// as they were captured (by At), until ctx ends or MaxReplayDuration
// passes. from gives the source each datagram claims; nil keeps its own.
// It returns how many were sent and how many sends failed (a full send
// buffer, say: a replayed datagram lost like any other).
func (inj *Injector) Replay(ctx context.Context, ds []Datagram, from func(Datagram) netip.AddrPort) (sent, failed int, err error) {
	if len(ds) == 0 {
		return 0, 0, errors.New("testbed: replay: nothing to send")
	}
	for _, d := range ds {
		if inj.macOf(d.Dst.Addr()) == nil {
			return 0, 0, fmt.Errorf("testbed: replay to %s: not a node of the topology", d.Dst)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, MaxReplayDuration)
	defer cancel()
	// One round lasts as long as the capture plus the mean spacing, so
	// that the next round does not start on top of the last datagram,
	// and at least a few milliseconds, so that a capture of one datagram
	// is not sent in a busy loop.
	span := ds[len(ds)-1].At.Sub(ds[0].At)
	round := max(span+span/time.Duration(len(ds)), 10*time.Millisecond)
	t := time.NewTimer(time.Hour)
	t.Stop()
	for start := time.Now(); ; start = start.Add(round) {
		for _, d := range ds {
			// Behind time (a busy machine), the late ones go at once.
			if wait := time.Until(start.Add(d.At.Sub(ds[0].At))); wait > 0 {
				t.Reset(wait)
				select {
				case <-ctx.Done():
					return sent, failed, nil
				case <-t.C:
				}
			} else if ctx.Err() != nil {
				return sent, failed, nil
			}
			src := d.Src
			if from != nil {
				src = from(d)
			}
			if inj.Send(src, d.Dst, d.Payload) != nil {
				failed++
			} else {
				sent++
			}
		}
	}
}

// Close closes the socket.
func (inj *Injector) Close() error { return inj.conn.Close() }

// buildUDP4 renders an IPv4 packet (don't fragment, TTL 64) carrying a
// UDP datagram, both checksums computed.
func buildUDP4(src, dst netip.AddrPort, id uint16, payload []byte) []byte {
	const ipLen, udpLen = 20, 8
	b := make([]byte, ipLen+udpLen+len(payload))
	b[0] = 0x45
	binary.BigEndian.PutUint16(b[2:4], uint16(len(b)))
	binary.BigEndian.PutUint16(b[4:6], id)
	binary.BigEndian.PutUint16(b[6:8], 0x4000)
	b[8] = 64
	b[9] = unix.IPPROTO_UDP
	s, d := src.Addr().As4(), dst.Addr().As4()
	copy(b[12:16], s[:])
	copy(b[16:20], d[:])
	binary.BigEndian.PutUint16(b[10:12], checksum(0, b[:ipLen]))

	u := b[ipLen:]
	binary.BigEndian.PutUint16(u[0:2], src.Port())
	binary.BigEndian.PutUint16(u[2:4], dst.Port())
	binary.BigEndian.PutUint16(u[4:6], uint16(len(u)))
	copy(u[udpLen:], payload)
	// The pseudo-header: addresses, protocol, UDP length.
	var pseudo [12]byte
	copy(pseudo[0:4], s[:])
	copy(pseudo[4:8], d[:])
	pseudo[9] = unix.IPPROTO_UDP
	binary.BigEndian.PutUint16(pseudo[10:12], uint16(len(u)))
	sum := checksum(sum16(0, pseudo[:]), u)
	if sum == 0 {
		// 0 means "no checksum" in UDP over IPv4.
		sum = 0xffff
	}
	binary.BigEndian.PutUint16(u[6:8], sum)
	return b
}

// sum16 adds b to the running ones' complement sum as 16-bit words.
func sum16(sum uint32, b []byte) uint32 {
	for len(b) >= 2 {
		sum += uint32(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	return sum
}

// checksum is the Internet checksum of b, continuing sum.
func checksum(sum uint32, b []byte) uint16 {
	sum = sum16(sum, b)
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}
