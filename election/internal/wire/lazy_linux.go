//go:build linux

package wire

import (
	"errors"
	"net"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// lazySocket is a second UDP socket on the gossip port. A reuseport BPF
// program hands it the lazy heartbeat frames (first byte FrameLazy) and
// everything else to the main socket. It is kept out of the runtime's
// poller and no goroutine waits on it, so a frame arriving wakes nothing;
// the election loop reads the socket whenever it wakes anyway (the pace
// member's heartbeat, its own tick, a timer). Each frame carries the
// kernel's receive timestamp, so a frame read late still counts from
// when it arrived: presence and the lease see the same times as if it
// had been read at once.
type lazySocket struct {
	mu  sync.Mutex
	fd  int // -1 once closed
	buf [maxFrame]byte
	oob [64]byte
	// empty is when a read last found the socket empty: every frame
	// queued since arrived after it.
	empty time.Time
}

// lazyProgram steers packets whose first byte is FrameLazy to the second
// socket of the port's reuseport group (the lazy one) and the rest to the
// first (the main socket). A packet too short to load a byte from ends the
// program with 0: the main socket.
var lazyProgram = []unix.SockFilter{
	{Code: unix.BPF_LD | unix.BPF_B | unix.BPF_ABS, K: 0},
	{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 0, Jf: 1, K: uint32(FrameLazy)},
	{Code: unix.BPF_RET | unix.BPF_K, K: 1},
	{Code: unix.BPF_RET | unix.BPF_K, K: 0},
}

// reusePort is the main socket's Control: the lazy socket can join its
// port only if both set SO_REUSEPORT before binding. The TCP listener on
// the same port does not, so a second daemon on the port still fails.
func reusePort(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	})
	if err != nil {
		return err
	}
	return serr
}

// openLazy opens the lazy socket beside main (bound with reusePort) and
// attaches the steering program to their group.
func openLazy(main *net.UDPConn) (*lazySocket, error) {
	rc, err := main.SyscallConn()
	if err != nil {
		return nil, err
	}
	var (
		sa     unix.Sockaddr
		v6only int
		serr   error
	)
	err = rc.Control(func(fd uintptr) {
		if sa, serr = unix.Getsockname(int(fd)); serr != nil {
			return
		}
		if _, ok := sa.(*unix.SockaddrInet6); ok {
			v6only, serr = unix.GetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_V6ONLY)
		}
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return nil, err
	}
	family := unix.AF_INET
	if _, ok := sa.(*unix.SockaddrInet6); ok {
		family = unix.AF_INET6
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	setup := func() error {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
			return err
		}
		if family == unix.AF_INET6 {
			if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, v6only); err != nil {
				return err
			}
		}
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
			return err
		}
		if err := unix.Bind(fd, sa); err != nil {
			return err
		}
		prog := unix.SockFprog{Len: uint16(len(lazyProgram)), Filter: &lazyProgram[0]}
		return unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_REUSEPORT_CBPF, &prog)
	}
	if err := setup(); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return &lazySocket{fd: fd, empty: time.Now()}, nil
}

// drain reads every frame queued, without waiting, and calls fn with each
// (b is only valid during the call), who sent it and when it arrived.
func (s *lazySocket) drain(fn FrameFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fd < 0 {
		return
	}
	now := time.Now()
	// A bound, so a flood cannot hold the election loop.
	for range 1024 {
		var iov unix.Iovec
		iov.Base = &s.buf[0]
		iov.SetLen(len(s.buf))
		var from unix.RawSockaddrAny
		msg := unix.Msghdr{Name: (*byte)(unsafe.Pointer(&from)), Namelen: uint32(unsafe.Sizeof(from)), Iov: &iov, Iovlen: 1, Control: &s.oob[0]}
		msg.SetControllen(len(s.oob))
		r, _, e := unix.RawSyscall(unix.SYS_RECVMSG, uintptr(s.fd), uintptr(unsafe.Pointer(&msg)), unix.MSG_DONTWAIT)
		switch e {
		case 0:
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			s.empty = now
			return
		default:
			return
		}
		if msg.Flags&unix.MSG_TRUNC != 0 {
			continue
		}
		fn(s.buf[:r], unmap(sockaddrToAddrPort(&from)), s.arrival(&msg, now))
	}
}

// arrival is when the frame in msg arrived, read at now.
func (s *lazySocket) arrival(msg *unix.Msghdr, now time.Time) time.Time {
	ts, ok := rxTimestamp(s.oob[:msg.Controllen])
	return arrivalTime(ts.Nano(), ok, now, s.empty)
}

// arrivalTime turns a kernel receive timestamp (wall clock, ns) into a
// time on this process's monotonic clock, by its age at now. It is kept
// within [empty, now] (empty: when the socket was last found empty), so a
// step of the wall clock cannot move it outside the time the frame can
// have been waiting. Without a timestamp (ok false) it is now.
func arrivalTime(ts int64, ok bool, now, empty time.Time) time.Time {
	if !ok {
		return now
	}
	at := now.Add(-time.Duration(now.UnixNano() - ts))
	if at.Before(empty) {
		return empty
	}
	if at.After(now) {
		return now
	}
	return at
}

// rxTimestamp finds SCM_TIMESTAMPNS in a control message buffer.
func rxTimestamp(oob []byte) (unix.Timespec, bool) {
	for len(oob) > 0 {
		h, data, rest, err := unix.ParseOneSocketControlMessage(oob)
		if err != nil {
			break
		}
		if h.Level == unix.SOL_SOCKET && h.Type == unix.SCM_TIMESTAMPNS && len(data) >= int(unsafe.Sizeof(unix.Timespec{})) {
			return *(*unix.Timespec)(unsafe.Pointer(&data[0])), true
		}
		oob = rest
	}
	return unix.Timespec{}, false
}

func (s *lazySocket) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fd < 0 {
		return errors.New("lazy socket already closed")
	}
	err := unix.Close(s.fd)
	s.fd = -1
	return err
}
