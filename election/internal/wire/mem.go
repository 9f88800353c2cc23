package wire

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/memberlist"
)

// Network is an in-memory network for tests: the transports it makes
// reach each other by address, as UDP and TCP on the gossip port would,
// and its faults drop traffic the way a switch rule would. The zero value
// is not usable; use NewNetwork.
type Network struct {
	mu       sync.Mutex
	nodes    map[netip.AddrPort]*MemTransport
	cuts     map[link]bool
	isolated map[netip.AddrPort]bool
	// nextPort is where the search for a free port starts when a
	// transport asks for port 0, as the kernel picks an ephemeral one.
	nextPort uint16
}

// link is one direction between two addresses.
type link struct{ from, to netip.AddrPort }

// The queues of an in-memory transport are bounded, as a socket's buffers
// are: what arrives while one is full is dropped.
const (
	// memPackets is how many packets wait for memberlist.
	memPackets = 1024
	// memStreams is how many streams wait to be accepted (the listen
	// backlog): a dial beyond it is refused.
	memStreams = 128
	// memFrames is how many eager frames wait for onFrame, and how many
	// lazy ones for ReadLazy (the lazy socket's 1024 reads a wakeup).
	memFrames = 1024
)

// firstEphemeral is the first port given to a transport that asks for
// port 0 (Linux's ephemeral range starts there too).
const firstEphemeral = 32768

// NewNetwork returns an empty network, without faults.
func NewNetwork() *Network {
	return &Network{
		nodes:    map[netip.AddrPort]*MemTransport{},
		cuts:     map[link]bool{},
		isolated: map[netip.AddrPort]bool{},
		nextPort: firstEphemeral,
	}
}

// NewTransport attaches a transport to the network at addr (port 0: a
// free port is chosen; see Addr). onFrame, if set, gets the heartbeat
// frames sent to it, as with NewUDP, and its lazy frames wait for
// ReadLazy; without it frames go to memberlist. It fails if addr is taken
// by a transport not shut down, or is not one address.
func (nw *Network) NewTransport(addr netip.AddrPort, onFrame FrameFunc) (*MemTransport, error) {
	addr = unmap(addr)
	if !addr.Addr().IsValid() || addr.Addr().IsUnspecified() {
		return nil, fmt.Errorf("in-memory transport on %s: needs a definite address", addr)
	}
	nw.mu.Lock()
	defer nw.mu.Unlock()
	if addr.Port() == 0 {
		p, ok := nw.freePortLocked(addr.Addr())
		if !ok {
			return nil, fmt.Errorf("in-memory transport on %s: %w", addr, syscall.EADDRINUSE)
		}
		addr = netip.AddrPortFrom(addr.Addr(), p)
	}
	if nw.nodes[addr] != nil {
		return nil, fmt.Errorf("in-memory transport on %s: %w", addr, syscall.EADDRINUSE)
	}
	t := &MemTransport{
		nw:      nw,
		addr:    addr,
		onFrame: onFrame,
		packets: make(chan *memberlist.Packet, memPackets),
		streams: make(chan net.Conn, memStreams),
		done:    make(chan struct{}),
	}
	if onFrame != nil {
		t.frames = make(chan memFrame, memFrames)
		t.wg.Add(1)
		go t.deliverFrames()
	}
	nw.nodes[addr] = t
	return t, nil
}

// freePortLocked finds a port no transport on a holds.
func (nw *Network) freePortLocked(a netip.Addr) (uint16, bool) {
	for range 65536 - firstEphemeral {
		p := nw.nextPort
		nw.nextPort++
		if nw.nextPort == 0 {
			nw.nextPort = firstEphemeral
		}
		if nw.nodes[netip.AddrPortFrom(a, p)] == nil {
			return p, true
		}
	}
	return 0, false
}

// Cut drops everything from → to from now on: packets, frames and new
// streams (a stream needs both directions, so a cut either way refuses
// it). Streams already open stay open. A transport is never cut from
// itself.
func (nw *Network) Cut(from, to netip.AddrPort) {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	nw.cuts[link{unmap(from), unmap(to)}] = true
}

// Partition cuts every member of a from every member of b, both ways.
func (nw *Network) Partition(a, b []netip.AddrPort) {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	for _, x := range a {
		for _, y := range b {
			x, y := unmap(x), unmap(y)
			nw.cuts[link{x, y}] = true
			nw.cuts[link{y, x}] = true
		}
	}
}

// Isolate cuts addr from every other address, both ways, including
// transports attached later.
func (nw *Network) Isolate(addr netip.AddrPort) {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	nw.isolated[unmap(addr)] = true
}

// Unisolate ends addr's isolation; cuts made with Cut and Partition stay.
func (nw *Network) Unisolate(addr netip.AddrPort) {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	delete(nw.isolated, unmap(addr))
}

// Heal removes every cut, partition and isolation.
func (nw *Network) Heal() {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	clear(nw.cuts)
	clear(nw.isolated)
}

// cutLocked reports whether from → to is cut.
func (nw *Network) cutLocked(from, to netip.AddrPort) bool {
	return from != to && (nw.cuts[link{from, to}] || nw.isolated[from] || nw.isolated[to])
}

// route returns the transport a packet from → to reaches, nil if there
// is none or the link is cut.
func (nw *Network) route(from, to netip.AddrPort) *MemTransport {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	if nw.cutLocked(from, to) {
		return nil
	}
	return nw.nodes[to]
}

// remove detaches t, freeing its address.
func (nw *Network) remove(t *MemTransport) {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	if nw.nodes[t.addr] == t {
		delete(nw.nodes, t.addr)
	}
}

// MemTransport is a Transport on a Network. It classifies what reaches it
// as the UDP transport's sockets do, by the first byte and whatever way it
// was sent: with onFrame, eager frames go to onFrame from a goroutine of
// the transport (never the sender's, which may hold locks) and lazy ones
// wait for ReadLazy with their arrival time; everything else, and every
// frame without onFrame, goes to memberlist. A frame's bytes are cleared
// once onFrame or ReadLazy's fn returns, so a caller that keeps them sees
// at once what it would see with the UDP transport only when the buffer
// is next reused.
type MemTransport struct {
	nw      *Network
	addr    netip.AddrPort
	onFrame FrameFunc
	packets chan *memberlist.Packet
	streams chan net.Conn
	frames  chan memFrame // eager frames for onFrame; nil without it

	mu       sync.Mutex
	shutdown bool
	lazy     []memFrame // lazy frames waiting for ReadLazy

	// readMu makes ReadLazy calls take turns, as the lazy socket's
	// drains do.
	readMu sync.Mutex
	done   chan struct{}
	wg     sync.WaitGroup
}

// memFrame is a frame and when it arrived.
type memFrame struct {
	b    []byte
	from netip.AddrPort
	at   time.Time
}

var _ Transport = (*MemTransport)(nil)

// Addr is the transport's address on the network.
func (t *MemTransport) Addr() netip.AddrPort { return t.addr }

// FinalAdvertiseAddr returns the transport's address, or the configured
// one as the UDP transport does.
func (t *MemTransport) FinalAdvertiseAddr(ip string, port int) (net.IP, int, error) {
	if ip != "" {
		return configuredAdvertise(ip, port, t.addr.Port())
	}
	return net.IP(t.addr.Addr().AsSlice()), int(t.addr.Port()), nil
}

// WriteTo sends one packet. Like UDP it is dropped silently when nobody
// is at addr or the link is cut; only a transport shut down fails.
func (t *MemTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	ap, err := ResolveUDP(addr)
	if err != nil {
		return time.Time{}, err
	}
	err = t.send(b, ap)
	return time.Now(), err
}

func (t *MemTransport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	return t.WriteTo(b, a.Addr)
}

// WriteFrame sends a heartbeat frame.
func (t *MemTransport) WriteFrame(b []byte, to netip.AddrPort) error {
	return t.send(b, unmap(to))
}

// send hands a copy of b to the transport at to, if the link lets it.
func (t *MemTransport) send(b []byte, to netip.AddrPort) error {
	if t.closing() {
		return &net.OpError{Op: "write", Net: "udp", Source: net.UDPAddrFromAddrPort(t.addr), Addr: net.UDPAddrFromAddrPort(to), Err: net.ErrClosed}
	}
	if dst := t.nw.route(t.addr, to); dst != nil {
		dst.receive(t.addr, b)
	}
	return nil
}

// receive queues a copy of b, from from, where the kernel would put it.
func (t *MemTransport) receive(from netip.AddrPort, b []byte) {
	if len(b) < 1 {
		return
	}
	now := time.Now()
	buf := make([]byte, len(b))
	copy(buf, b)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.shutdown {
		return
	}
	switch {
	case t.onFrame != nil && b[0] == FrameLazy:
		if len(t.lazy) < memFrames {
			t.lazy = append(t.lazy, memFrame{buf, from, now})
		}
	case t.onFrame != nil && IsFrame(b):
		select {
		case t.frames <- memFrame{buf, from, now}:
		default:
		}
	default:
		select {
		case t.packets <- &memberlist.Packet{Buf: buf, From: net.UDPAddrFromAddrPort(from), Timestamp: now}:
		default:
		}
	}
}

// deliverFrames hands the eager frames to onFrame until Shutdown.
func (t *MemTransport) deliverFrames() {
	defer t.wg.Done()
	for {
		select {
		case f := <-t.frames:
			t.onFrame(f.b, f.from, f.at)
			clear(f.b)
		case <-t.done:
			return
		}
	}
}

// ReadLazy calls fn with each lazy frame waiting, in arrival order, and
// when it arrived.
func (t *MemTransport) ReadLazy(fn FrameFunc) {
	t.readMu.Lock()
	defer t.readMu.Unlock()
	t.mu.Lock()
	q := t.lazy
	t.lazy = nil
	t.mu.Unlock()
	for _, f := range q {
		fn(f.b, f.from, f.at)
		clear(f.b)
	}
}

// Lazy reports whether the transport reads frames: then lazy ones always
// wait for ReadLazy.
func (t *MemTransport) Lazy() bool { return t.onFrame != nil }

func (t *MemTransport) PacketCh() <-chan *memberlist.Packet { return t.packets }
func (t *MemTransport) StreamCh() <-chan net.Conn           { return t.streams }

// DialTimeout opens a stream to the transport at addr: one end of a pipe,
// whose other end goes to that transport's StreamCh. It is refused at
// once when nobody is at addr, the link is cut either way, or the
// backlog there is full. As with the UDP transport, whose dials do not
// use its listener, it works after Shutdown too.
func (t *MemTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	to, err := ResolveUDP(addr)
	if err != nil {
		return nil, err
	}
	t.nw.mu.Lock()
	dst := t.nw.nodes[to]
	if t.nw.cutLocked(t.addr, to) || t.nw.cutLocked(to, t.addr) {
		dst = nil
	}
	t.nw.mu.Unlock()
	refused := &net.OpError{Op: "dial", Net: "tcp", Source: net.TCPAddrFromAddrPort(t.addr), Addr: net.TCPAddrFromAddrPort(to), Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	if dst == nil {
		return nil, refused
	}
	near, far := net.Pipe()
	if !dst.accept(&memConn{Conn: far, local: to, remote: t.addr}) {
		near.Close()
		far.Close()
		return nil, refused
	}
	return &memConn{Conn: near, local: t.addr, remote: to}, nil
}

func (t *MemTransport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	return t.DialTimeout(a.Addr, timeout)
}

// accept queues c for StreamCh, unless shut down or the backlog is full.
func (t *MemTransport) accept(c net.Conn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.shutdown {
		return false
	}
	select {
	case t.streams <- c:
		return true
	default:
		return false
	}
}

func (t *MemTransport) closing() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.shutdown
}

// Shutdown detaches the transport from the network (its address is free
// again) and stops delivery to it: nothing reaches onFrame once it
// returns, and what was queued is dropped, the streams closed. PacketCh
// and StreamCh are not closed: memberlist calls Shutdown while its
// listeners still read them, and would take a closed channel's zero value
// for a packet or stream.
func (t *MemTransport) Shutdown() error {
	t.mu.Lock()
	if t.shutdown {
		t.mu.Unlock()
		return nil
	}
	t.shutdown = true
	t.lazy = nil
	t.mu.Unlock()
	t.nw.remove(t)
	close(t.done)
	t.wg.Wait()
	for {
		select {
		case <-t.packets:
		case <-t.frames:
		case c := <-t.streams:
			c.Close()
		default:
			return nil
		}
	}
}

// memConn is one end of an in-memory stream, with the TCP addresses its
// ends would have.
type memConn struct {
	net.Conn
	local, remote netip.AddrPort
}

func (c *memConn) LocalAddr() net.Addr  { return net.TCPAddrFromAddrPort(c.local) }
func (c *memConn) RemoteAddr() net.Addr { return net.TCPAddrFromAddrPort(c.remote) }

// unmap gives an IPv4-mapped address as IPv4, so each address has one
// form on the network.
func unmap(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}
