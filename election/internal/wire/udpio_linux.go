//go:build linux

package wire

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// udpIO reads and writes the gossip socket with raw system calls. The
// socket is non-blocking and the runtime's poller does the waiting, so
// recvfrom and sendto never block; a raw call skips the runtime's
// syscall bookkeeping, whose entry wakes the runtime's monitor thread
// (sysmon) whenever the daemon was idle. With heartbeats every 20 ms to
// and from each peer (fast's interval when this was measured) that was
// two thirds of the daemon's context switches: every packet woke two
// threads instead of one.
//
// A call's arguments and result live in the udpIO (one read and one
// write at a time) and the functions the poller runs are made once, so
// a packet allocates nothing: at ten members a daemon sends and takes
// hundreds of heartbeats a second, and their garbage woke the collector.
type udpIO struct {
	rc syscall.RawConn
	v6 bool // an AF_INET6 socket (bound to :: or 0.0.0.0 dual-stack)

	rmu sync.Mutex
	r   recvOp
	rfn func(fd uintptr) bool

	wmu sync.Mutex
	w   sendOp
	wfn func(fd uintptr) bool
}

func newUDPIO(c *net.UDPConn) (*udpIO, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	u := &udpIO{rc: rc}
	var serr error
	err = rc.Control(func(fd uintptr) {
		var sa unix.Sockaddr
		sa, serr = unix.Getsockname(int(fd))
		_, u.v6 = sa.(*unix.SockaddrInet6)
		// Beyond the system's cap with CAP_NET_ADMIN; within it
		// otherwise. Best effort: a smaller buffer only drops more.
		if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, sendBuffer) != nil {
			_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF, sendBuffer)
		}
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return nil, err
	}
	u.rfn, u.wfn = u.r.call, u.w.call
	return u, nil
}

// recvOp is one recvfrom.
type recvOp struct {
	b     []byte
	sa    unix.RawSockaddrAny
	salen uint32
	n     uintptr
	err   error
}

// call makes the system call for the poller (RawConn.Read): again at once
// on EINTR, false (wait until readable) on EAGAIN.
func (o *recvOp) call(fd uintptr) bool {
	for {
		o.salen = uint32(unsafe.Sizeof(o.sa))
		n, _, e := unix.RawSyscall6(unix.SYS_RECVFROM, fd,
			uintptr(unsafe.Pointer(unsafe.SliceData(o.b))), uintptr(len(o.b)), 0,
			uintptr(unsafe.Pointer(&o.sa)), uintptr(unsafe.Pointer(&o.salen)))
		if done, err := result(e); done {
			o.n, o.err = n, err
			return true
		} else if e == unix.EAGAIN {
			return false
		}
	}
}

// sendOp is one sendto; sa points at sa4 or sa6.
type sendOp struct {
	b     []byte
	sa4   unix.RawSockaddrInet4
	sa6   unix.RawSockaddrInet6
	sa    unsafe.Pointer
	salen uintptr
	err   error
}

// call makes the system call for the poller (RawConn.Write): again at
// once on EINTR; on EAGAIN (the send buffer is full) it does not wait —
// the packet is dropped with ErrSendBufferFull. The buffer fills when the
// kernel holds packets back: to a neighbour whose address it is still
// resolving (ARP, for up to three seconds when the neighbour is cut off),
// it queues them, and they count against the socket until they are sent
// or dropped. Waiting there stalled the election goroutine, which sends
// the heartbeats, for as long — a node back from a link down while a
// partition was in force stopped for 2.6 s while holding a VIP. A lost
// heartbeat or gossip packet is what UDP allows anyway.
func (o *sendOp) call(fd uintptr) bool {
	for {
		_, _, e := unix.RawSyscall6(unix.SYS_SENDTO, fd,
			uintptr(unsafe.Pointer(unsafe.SliceData(o.b))), uintptr(len(o.b)), 0,
			uintptr(o.sa), o.salen)
		switch done, err := result(e); {
		case done:
			o.err = err
			return true
		case e == unix.EAGAIN:
			o.err = ErrSendBufferFull
			return true
		}
	}
}

// sendBuffer is the send buffer the socket asks for (the kernel doubles
// it). Packets the kernel queues for a neighbour whose address it is
// resolving count against the socket, up to unres_qlen_bytes per
// neighbour (208 KiB by default, as much as a socket's default send
// buffer): with the default, one member that does not answer ARP would
// take the whole buffer, and the heartbeats to every other member would
// be dropped with it. This holds the queues of nine such members. It is
// memory only while packets wait.
const sendBuffer = 2 << 20

// ErrSendBufferFull is returned for a packet dropped because the socket's
// send buffer was full.
var ErrSendBufferFull = fmt.Errorf("send buffer full, packet dropped: %w", unix.EAGAIN)

// result says whether a raw call with errno e is done, and its error:
// done (nil) on success, done with e on a failure, not done on EINTR
// (call again) and EAGAIN (wait for the poller).
func result(e unix.Errno) (bool, error) {
	switch e {
	case 0:
		return true, nil
	case unix.EINTR, unix.EAGAIN:
		return false, nil
	}
	return true, e
}

// readFrom reads one packet into b, waiting for one to arrive. The source
// address is in the form net.UDPConn gives: IPv4-mapped on a dual-stack
// socket.
func (u *udpIO) readFrom(b []byte) (int, netip.AddrPort, error) {
	u.rmu.Lock()
	defer u.rmu.Unlock()
	u.r.b, u.r.err = b, nil
	err := u.rc.Read(u.rfn)
	u.r.b = nil
	if err == nil {
		err = u.r.err
	}
	if err != nil {
		return 0, netip.AddrPort{}, err
	}
	return int(u.r.n), sockaddrToAddrPort(&u.r.sa), nil
}

func sockaddrToAddrPort(sa *unix.RawSockaddrAny) netip.AddrPort {
	switch sa.Addr.Family {
	case unix.AF_INET:
		p := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(p.Addr), ntohs(p.Port))
	case unix.AF_INET6:
		p := (*unix.RawSockaddrInet6)(unsafe.Pointer(sa))
		a := netip.AddrFrom16(p.Addr)
		if p.Scope_id != 0 {
			a = a.WithZone(strconv.FormatUint(uint64(p.Scope_id), 10))
		}
		return netip.AddrPortFrom(a, ntohs(p.Port))
	}
	return netip.AddrPort{}
}

// writeTo sends b to one address; it never waits (see sendOp.call).
func (u *udpIO) writeTo(b []byte, to netip.AddrPort) error {
	a := to.Addr()
	var scope uint32
	if z := a.Zone(); u.v6 && z != "" {
		idx, err := zoneIndex(z)
		if err != nil {
			return err
		}
		scope = idx
	}
	if !u.v6 && !a.Unmap().Is4() {
		return &net.AddrError{Err: "IPv6 address on an IPv4 socket", Addr: a.String()}
	}
	u.wmu.Lock()
	defer u.wmu.Unlock()
	o := &u.w
	if u.v6 {
		if a.Is4() {
			a = netip.AddrFrom16(a.As16())
		}
		o.sa6 = unix.RawSockaddrInet6{Family: unix.AF_INET6, Port: htons(to.Port()), Addr: a.As16(), Scope_id: scope}
		o.sa, o.salen = unsafe.Pointer(&o.sa6), unsafe.Sizeof(o.sa6)
	} else {
		o.sa4 = unix.RawSockaddrInet4{Family: unix.AF_INET, Port: htons(to.Port()), Addr: a.Unmap().As4()}
		o.sa, o.salen = unsafe.Pointer(&o.sa4), unsafe.Sizeof(o.sa4)
	}
	o.b, o.err = b, nil
	err := u.rc.Write(u.wfn)
	o.b = nil
	if err == nil {
		err = o.err
	}
	return err
}

// zoneIndex turns an IPv6 zone (an interface name or index) into the
// interface index.
func zoneIndex(z string) (uint32, error) {
	if i, err := strconv.ParseUint(z, 10, 32); err == nil {
		return uint32(i), nil
	}
	ifi, err := net.InterfaceByName(z)
	if err != nil {
		return 0, err
	}
	return uint32(ifi.Index), nil
}

// The port fields of sockaddr_in and sockaddr_in6 are in network order.
func htons(p uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(&p))
	b[0], b[1] = byte(p>>8), byte(p)
	return p
}

func ntohs(p uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(&p))
	return uint16(b[0])<<8 | uint16(b[1])
}
