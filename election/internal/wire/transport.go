package wire

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// FrameFunc gets one heartbeat frame: b is only valid during the call;
// from is the address it came from (an IPv4-mapped address unmapped), at
// when it arrived.
type FrameFunc func(b []byte, from netip.AddrPort, at time.Time)

// Transport is what the election needs from the network: memberlist's
// transport plus heartbeat frames. UDP is the real one; Network makes
// in-memory ones for tests.
type Transport interface {
	memberlist.NodeAwareTransport
	// WriteFrame sends one heartbeat frame (already sealed) to a member.
	WriteFrame(b []byte, to netip.AddrPort) error
	// ReadLazy calls fn with every lazy frame waiting, in arrival order,
	// with its arrival time; b is only valid during the call.
	ReadLazy(fn FrameFunc)
	// Lazy reports whether lazy frames wait for ReadLazy (true) or reach
	// onFrame as they arrive (false; also when there is no onFrame, and
	// frames go to memberlist).
	Lazy() bool
}

// UDP is memberlist's UDP+TCP transport, written for havip's
// traffic: many tiny packets (heartbeats every few milliseconds with the
// fast profiles). memberlist's own NetTransport allocates a fresh 64 KiB
// buffer for every packet it receives, which at 400 packets a second is
// 25 MB/s of garbage; this one reads into one scratch buffer and hands
// memberlist a copy of exactly the packet's size.
type UDP struct {
	log  *slog.Logger
	bind netip.AddrPort
	udp  *net.UDPConn
	io   *udpIO
	// lazy is the socket lazy heartbeat frames go to, nil where it
	// could not be opened (they then reach udp and onFrame).
	lazy *lazySocket
	// onFrame, if set, gets the heartbeat frames read from udp (b only
	// valid during the call, at when it was read); memberlist gets the
	// rest.
	onFrame FrameFunc
	tcp     *net.TCPListener
	packets chan *memberlist.Packet
	streams chan net.Conn

	wg       sync.WaitGroup
	mu       sync.Mutex
	shutdown bool
}

// maxPacket is the largest UDP payload.
const maxPacket = 65536

// udpReadBuffer is the socket receive buffer asked for, so bursts of
// gossip are not dropped while the daemon is descheduled.
const udpReadBuffer = 2 << 20

var _ Transport = (*UDP)(nil)

// NewUDP listens on bind (UDP and TCP, same port). With onFrame set it
// also opens the lazy heartbeat socket where it can, and hands onFrame
// the heartbeat frames (b only valid during the call, at when it was
// read), from the goroutine that reads the socket. Without onFrame the
// node reads no frames: any that arrive go to memberlist, which drops
// them (logging an unknown message type, or a label or decryption
// failure).
func NewUDP(bind netip.AddrPort, l *slog.Logger, onFrame FrameFunc) (*UDP, error) {
	tl, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(bind))
	if err != nil {
		return nil, fmt.Errorf("listening on TCP %s: %w", bind, err)
	}
	// With port 0 the kernel chose one: use it for UDP too.
	port := uint16(tl.Addr().(*net.TCPAddr).Port)
	bind = netip.AddrPortFrom(bind.Addr(), port)
	lc := net.ListenConfig{}
	if onFrame != nil {
		lc.Control = reusePort
	}
	pc, err := lc.ListenPacket(context.Background(), "udp", bind.String())
	if err != nil {
		tl.Close()
		return nil, fmt.Errorf("listening on UDP %s: %w", bind, err)
	}
	ul := pc.(*net.UDPConn)
	if err := ul.SetReadBuffer(udpReadBuffer); err != nil {
		l.Debug("cannot enlarge the UDP receive buffer", "err", err)
	}
	uio, err := newUDPIO(ul)
	if err != nil {
		ul.Close()
		tl.Close()
		return nil, fmt.Errorf("UDP socket on %s: %w", bind, err)
	}
	t := &UDP{
		log:     l,
		bind:    bind,
		udp:     ul,
		io:      uio,
		onFrame: onFrame,
		tcp:     tl,
		packets: make(chan *memberlist.Packet),
		streams: make(chan net.Conn),
	}
	if onFrame != nil {
		if t.lazy, err = openLazy(ul); err != nil {
			l.Info("heartbeat frames are read as they arrive: no lazy socket", "err", err)
		}
	}
	t.wg.Add(2)
	go t.readPackets()
	go t.acceptStreams()
	return t, nil
}

func (t *UDP) closing() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.shutdown
}

func (t *UDP) readPackets() {
	defer t.wg.Done()
	scratch := make([]byte, maxPacket)
	for {
		n, from, err := t.io.readFrom(scratch)
		ts := time.Now()
		if err != nil {
			if t.closing() || errors.Is(err, net.ErrClosed) {
				return
			}
			t.log.Debug("reading gossip packet", "err", err)
			continue
		}
		if n < 1 {
			continue
		}
		if t.onFrame != nil && IsFrame(scratch[:n]) {
			t.onFrame(scratch[:n], unmap(from), ts)
			continue
		}
		buf := make([]byte, n)
		copy(buf, scratch[:n])
		t.packets <- &memberlist.Packet{Buf: buf, From: net.UDPAddrFromAddrPort(from), Timestamp: ts}
	}
}

func (t *UDP) acceptStreams() {
	defer t.wg.Done()
	delay := 5 * time.Millisecond
	for {
		c, err := t.tcp.AcceptTCP()
		if err != nil {
			if t.closing() || errors.Is(err, net.ErrClosed) {
				return
			}
			t.log.Debug("accepting gossip stream", "err", err)
			time.Sleep(delay)
			delay = min(2*delay, time.Second)
			continue
		}
		delay = 5 * time.Millisecond
		t.streams <- c
	}
}

// Addr is the address the transport is bound to, with the port the
// kernel chose if bind had none.
func (t *UDP) Addr() netip.AddrPort { return t.bind }

// FinalAdvertiseAddr returns the address peers reach this node on.
func (t *UDP) FinalAdvertiseAddr(ip string, port int) (net.IP, int, error) {
	if ip != "" {
		return configuredAdvertise(ip, port, t.bind.Port())
	}
	if !t.bind.Addr().IsUnspecified() {
		return net.IP(t.bind.Addr().Unmap().AsSlice()), int(t.bind.Port()), nil
	}
	a, err := privateAddr()
	if err != nil {
		return nil, 0, err
	}
	return net.IP(a.AsSlice()), int(t.bind.Port()), nil
}

// configuredAdvertise is the advertise address memberlist was given (ip,
// and port, 0 for the transport's own).
func configuredAdvertise(ip string, port int, own uint16) (net.IP, int, error) {
	a := net.ParseIP(ip)
	if a == nil {
		return nil, 0, fmt.Errorf("advertise address %q is not an IP address", ip)
	}
	if a4 := a.To4(); a4 != nil {
		a = a4
	}
	if port == 0 {
		port = int(own)
	}
	return a, port, nil
}

// privateAddr picks the address to advertise when bound to 0.0.0.0: the
// first private IPv4 address of an interface that is up, else the first
// global unicast one.
func privateAddr() (netip.Addr, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return netip.Addr{}, err
	}
	var fallback netip.Addr
	for _, ifi := range ifs {
		if ifi.Flags&net.FlagUp == 0 || ifi.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, _ := ifi.Addrs()
		for _, a := range addrs {
			n, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(n.IP)
			if !ok {
				continue
			}
			ip = ip.Unmap()
			if !ip.Is4() || !ip.IsGlobalUnicast() {
				continue
			}
			if ip.IsPrivate() {
				return ip, nil
			}
			if !fallback.IsValid() {
				fallback = ip
			}
		}
	}
	if fallback.IsValid() {
		return fallback, nil
	}
	return netip.Addr{}, errors.New("no address to advertise: set node.bind or node.advertise to this node's address")
}

// WriteTo sends one packet.
func (t *UDP) WriteTo(b []byte, addr string) (time.Time, error) {
	ap, err := ResolveUDP(addr)
	if err != nil {
		return time.Time{}, err
	}
	err = t.io.writeTo(b, ap)
	return time.Now(), err
}

func (t *UDP) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	return t.WriteTo(b, a.Addr)
}

// LookupIP resolves a host name (a variable so tests can stand in for
// the resolver).
var LookupIP = net.LookupIP

// ResolveUDP parses "ip:port", resolving a host name if needed, the way
// the transports resolve memberlist's addresses.
func ResolveUDP(addr string) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(addr); err == nil {
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return netip.AddrPort{}, err
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("bad port in %q", addr)
	}
	ips, err := LookupIP(host)
	if err != nil || len(ips) == 0 {
		return netip.AddrPort{}, fmt.Errorf("resolving %q: %w", host, err)
	}
	ip, _ := netip.AddrFromSlice(ips[0])
	return netip.AddrPortFrom(ip.Unmap(), uint16(p)), nil
}

// ReadLazy reads the heartbeat frames waiting in the lazy socket, if
// there is one, and calls fn with each and when it arrived.
func (t *UDP) ReadLazy(fn FrameFunc) {
	if t.lazy != nil {
		t.lazy.drain(fn)
	}
}

// Lazy reports whether the lazy socket could be opened.
func (t *UDP) Lazy() bool { return t.lazy != nil }

// WriteFrame sends a heartbeat frame.
func (t *UDP) WriteFrame(b []byte, to netip.AddrPort) error {
	return t.io.writeTo(b, to)
}

func (t *UDP) PacketCh() <-chan *memberlist.Packet { return t.packets }
func (t *UDP) StreamCh() <-chan net.Conn           { return t.streams }

func (t *UDP) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout}
	return d.Dial("tcp", addr)
}

func (t *UDP) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	return t.DialTimeout(a.Addr, timeout)
}

// Shutdown closes the sockets and waits for the readers. A reader may be
// blocked handing memberlist a packet or a stream nobody takes any more
// (memberlist calls Shutdown while its listeners still run, but a node
// whose memberlist could not start shuts the transport down alone), so
// it is released by draining here.
func (t *UDP) Shutdown() error {
	t.mu.Lock()
	t.shutdown = true
	t.mu.Unlock()
	t.udp.Close()
	t.tcp.Close()
	if t.lazy != nil {
		t.lazy.close()
	}
	done := make(chan struct{})
	go func() { t.wg.Wait(); close(done) }()
	for {
		select {
		case <-done:
			return nil
		case <-t.packets:
		case c := <-t.streams:
			c.Close()
		}
	}
}
