//go:build linux

package election

import (
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// newTicker ticks every d. On Linux it is a timerfd the runtime's poller
// waits on, not a Go timer: the runtime's monitor thread (sysmon) sleeps
// until the next Go timer and then once more, so every Go timer tick is
// two extra context switches; a timerfd tick wakes only the thread that
// waits in the poller. For the heartbeats of the fast profile (50 ticks a
// second) that is a third of an idle daemon's wakeups. It falls back to
// a time.Ticker when the timerfd cannot be set up.
func newTicker(d time.Duration) ticker {
	if t, err := newFDTicker(d); err == nil {
		return t
	}
	return newGoTicker(d)
}

type fdTicker struct {
	c  chan time.Time
	f  *os.File
	rc syscall.RawConn
	d  time.Duration
}

func newFDTicker(d time.Duration) (*fdTicker, error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil, err
	}
	ts := unix.NsecToTimespec(int64(d))
	if err := unix.TimerfdSettime(fd, 0, &unix.ItimerSpec{Interval: ts, Value: ts}, nil); err != nil {
		unix.Close(fd)
		return nil, err
	}
	// A non-blocking descriptor: os.NewFile puts it in the poller.
	f := os.NewFile(uintptr(fd), "timerfd")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	t := &fdTicker{c: make(chan time.Time, 1), f: f, rc: rc, d: d}
	go t.run()
	return t, nil
}

// run delivers a tick each time the timerfd expires (once for several
// missed expirations, and dropping ticks the reader is not ready for, as
// time.Ticker does), until Stop closes it. It stays in one RawConn.Read:
// a read takes every expiration so far, and the poller's readiness is
// kept between reads within one Read (each new Read would clear it and
// have to read once more, in vain, to learn the timer had not expired
// again). The read is a raw call for the reason the wire package's socket
// reads are: the poller waits, the read cannot block. An error other than the descriptor's
// closing cannot come from a timerfd read of 8 bytes; it ends the ticks
// too.
func (t *fdTicker) run() {
	var expirations uint64
	t.rc.Read(func(fd uintptr) bool {
		for {
			_, _, e := unix.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&expirations)), 8)
			switch e {
			case 0:
				select {
				case t.c <- time.Now():
				default:
				}
				return false
			case unix.EINTR:
				continue
			case unix.EAGAIN:
				return false
			default:
				return true
			}
		}
	})
}

func (t *fdTicker) C() <-chan time.Time { return t.c }

// Delay re-arms the timerfd: first from now, then every period. A tick
// already delivered but not read stays. It is a raw call (the loop makes
// it on a heartbeat's arrival; see wire's udpIO), and a failure, possible only
// once Stop closed the descriptor, leaves nothing to re-arm.
func (t *fdTicker) Delay(first time.Duration) {
	spec := unix.ItimerSpec{Interval: unix.NsecToTimespec(int64(t.d)), Value: unix.NsecToTimespec(int64(first))}
	_ = t.rc.Control(func(fd uintptr) {
		unix.RawSyscall6(unix.SYS_TIMERFD_SETTIME, fd, 0, uintptr(unsafe.Pointer(&spec)), 0, 0, 0)
	})
}

// Stop stops the ticks; the goroutine ends as the descriptor closes.
func (t *fdTicker) Stop() { t.f.Close() }
