//go:build linux

package wire

import (
	"net"
	"net/netip"
	"strconv"
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
type udpIO struct {
	rc syscall.RawConn
	v6 bool // an AF_INET6 socket (bound to :: or 0.0.0.0 dual-stack)
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
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return nil, err
	}
	return u, nil
}

// readFrom reads one packet into b, waiting for one to arrive. The source
// address is in the form net.UDPConn gives: IPv4-mapped on a dual-stack
// socket.
func (u *udpIO) readFrom(b []byte) (int, netip.AddrPort, error) {
	var sa unix.RawSockaddrAny
	n, err := rawCall(u.rc.Read, func(fd uintptr) (uintptr, unix.Errno) {
		salen := uint32(unsafe.Sizeof(sa))
		r, _, e := unix.RawSyscall6(unix.SYS_RECVFROM, fd,
			uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)), 0,
			uintptr(unsafe.Pointer(&sa)), uintptr(unsafe.Pointer(&salen)))
		return r, e
	})
	if err != nil {
		return 0, netip.AddrPort{}, err
	}
	return int(n), sockaddrToAddrPort(&sa), nil
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

// writeTo sends b to one address, waiting while the socket's send buffer
// is full.
func (u *udpIO) writeTo(b []byte, to netip.AddrPort) error {
	var (
		sa4   unix.RawSockaddrInet4
		sa6   unix.RawSockaddrInet6
		sa    unsafe.Pointer
		salen uintptr
	)
	a := to.Addr()
	if u.v6 {
		if a.Is4() {
			a = netip.AddrFrom16(a.As16())
		}
		sa6.Family = unix.AF_INET6
		sa6.Port = htons(to.Port())
		sa6.Addr = a.As16()
		if z := a.Zone(); z != "" {
			idx, err := zoneIndex(z)
			if err != nil {
				return err
			}
			sa6.Scope_id = idx
		}
		sa, salen = unsafe.Pointer(&sa6), unsafe.Sizeof(sa6)
	} else {
		if !a.Unmap().Is4() {
			return &net.AddrError{Err: "IPv6 address on an IPv4 socket", Addr: a.String()}
		}
		sa4.Family = unix.AF_INET
		sa4.Port = htons(to.Port())
		sa4.Addr = a.Unmap().As4()
		sa, salen = unsafe.Pointer(&sa4), unsafe.Sizeof(sa4)
	}
	_, err := rawCall(u.rc.Write, func(fd uintptr) (uintptr, unix.Errno) {
		r, _, e := unix.RawSyscall6(unix.SYS_SENDTO, fd,
			uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)), 0,
			uintptr(sa), salen)
		return r, e
	})
	return err
}

// rawCall runs call, a non-blocking system call on a descriptor in the
// poller, through wait (a RawConn's Read or Write): again at once on
// EINTR, after the poller says the descriptor is ready on EAGAIN.
func rawCall(wait func(func(fd uintptr) bool) error, call func(fd uintptr) (uintptr, unix.Errno)) (uintptr, error) {
	var (
		r    uintptr
		serr error
	)
	err := wait(func(fd uintptr) bool {
		for {
			n, e := call(fd)
			switch e {
			case 0:
				r = n
				return true
			case unix.EINTR:
				continue
			case unix.EAGAIN:
				return false
			default:
				serr = e
				return true
			}
		}
	})
	if err == nil {
		err = serr
	}
	return r, err
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
