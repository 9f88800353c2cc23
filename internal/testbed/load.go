package testbed

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"time"
)

// Load is a set of busy-loop processes that keep CPUs saturated, the way
// other work on a server would. Each process is a bash loop that ends by
// itself at the deadline (bash's SECONDS), is killed by its PID when the
// deadline passes or Stop is called, and dies with the thread that
// started it. Load runs no network code and needs no namespace.
type Load struct {
	procs []*exec.Cmd
	timer *time.Timer
	once  sync.Once
	done  chan struct{}
	mu    sync.Mutex // guards timer
}

// MaxLoadProcs bounds StartLoad.
const MaxLoadProcs = 64

// StartLoad starts procs busy loops that run for at most d.
func StartLoad(procs int, d time.Duration) (*Load, error) {
	if procs < 1 || procs > MaxLoadProcs {
		return nil, fmt.Errorf("testbed: load of %d processes: want 1..%d", procs, MaxLoadProcs)
	}
	if d <= 0 {
		return nil, fmt.Errorf("testbed: load for %v: want a positive duration", d)
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		return nil, fmt.Errorf("testbed: load needs bash: %w", err)
	}
	secs := int((d + time.Second - 1) / time.Second)
	l := &Load{done: make(chan struct{})}
	for range procs {
		cmd := exec.Command(bash, "-c", fmt.Sprintf("while [ $SECONDS -lt %d ]; do :; done", secs))
		cmd.SysProcAttr = procAttr()
		if err := cmd.Start(); err != nil {
			l.Stop()
			return nil, fmt.Errorf("testbed: starting a busy loop: %w", err)
		}
		l.procs = append(l.procs, cmd)
	}
	// Stop, run by the timer, reads l.timer: it may fire before
	// AfterFunc has returned.
	l.mu.Lock()
	l.timer = time.AfterFunc(d, l.Stop)
	l.mu.Unlock()
	return l, nil
}

// PIDs returns the process ids of the busy loops.
func (l *Load) PIDs() []int {
	pids := make([]int, len(l.procs))
	for i, c := range l.procs {
		pids[i] = c.Process.Pid
	}
	return pids
}

// Stop kills every busy loop by its PID and reaps it. It is safe to call
// more than once and from the deadline timer.
func (l *Load) Stop() {
	l.once.Do(func() {
		l.mu.Lock()
		t := l.timer
		l.mu.Unlock()
		if t != nil {
			t.Stop()
		}
		for _, c := range l.procs {
			if err := c.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
				continue
			}
			_ = c.Wait()
		}
		close(l.done)
	})
	<-l.done
}

// Done is closed once every busy loop has been stopped.
func (l *Load) Done() <-chan struct{} { return l.done }
