package notify

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/havip/havip/internal/proc"
)

// Event is one transition to report.
type Event struct {
	Node     string
	Instance string
	// State and Previous are state names: "MASTER", "BACKUP", "FAULT".
	State, Previous string
	Reason          string
	VIPs            []string
	// Command is the argv to run (nil: nothing to run); Timeout bounds it.
	Command []string
	Timeout time.Duration
}

// Argv is the command with the instance, the state and the VIPs
// (comma separated) appended.
func (e Event) Argv() []string {
	argv := append([]string(nil), e.Command...)
	return append(argv, e.Instance, e.State, strings.Join(e.VIPs, ","))
}

// Env is the environment the command gets: the daemon's (see
// proc.Environ), plus the HAVIP_* variables.
func (e Event) Env() []string {
	return proc.Environ(
		"HAVIP_NODE="+e.Node,
		"HAVIP_INSTANCE="+e.Instance,
		"HAVIP_STATE="+e.State,
		"HAVIP_PREVIOUS_STATE="+e.Previous,
		"HAVIP_REASON="+e.Reason,
		"HAVIP_VIPS="+strings.Join(e.VIPs, ","),
	)
}

// Runner runs one command; proc.Run in real use.
type Runner func(ctx context.Context, argv, env []string, timeout time.Duration) proc.Result

// MaxPending bounds the events waiting in one queue; beyond it the oldest
// waiting event is dropped (and logged), so a hook that always hangs
// cannot grow the daemon without bound.
const MaxPending = 64

// Queue runs the commands of one instance, one at a time, in the order
// the events were pushed.
type Queue struct {
	run Runner
	log *slog.Logger
	// OnDone, if set, is called after each command with its result.
	OnDone func(Event, proc.Result)

	mu      sync.Mutex
	pending []Event
	wake    chan struct{}
	idle    chan struct{} // closed while nothing is pending or running
	busy    bool
}

// NewQueue returns a queue; Run works it. run may be nil for proc.Run.
func NewQueue(run Runner, l *slog.Logger) *Queue {
	if run == nil {
		run = proc.Run
	}
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	idle := make(chan struct{})
	close(idle)
	return &Queue{run: run, log: l, wake: make(chan struct{}, 1), idle: idle}
}

// Push queues an event and returns at once. Events without a command are
// ignored.
func (q *Queue) Push(e Event) {
	if len(e.Command) == 0 {
		return
	}
	q.mu.Lock()
	if len(q.pending) >= MaxPending {
		d := q.pending[0]
		q.pending = q.pending[1:]
		q.log.Warn("notify queue full, dropping the oldest waiting command", "instance", d.Instance, "state", d.State)
	}
	q.pending = append(q.pending, e)
	if !q.busy && len(q.pending) == 1 {
		q.idle = make(chan struct{})
	}
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Idle returns a channel closed once nothing is pending or running.
func (q *Queue) Idle() <-chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.idle
}

// Run works the queue until ctx is done. A command running then is
// killed.
func (q *Queue) Run(ctx context.Context) {
	for {
		q.mu.Lock()
		if len(q.pending) == 0 {
			q.busy = false
			select {
			case <-q.idle:
			default:
				close(q.idle)
			}
			q.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-q.wake:
				continue
			}
		}
		e := q.pending[0]
		q.pending = q.pending[1:]
		q.busy = true
		q.mu.Unlock()

		r := q.run(ctx, e.Argv(), e.Env(), e.Timeout)
		if r.OK() {
			q.log.Info("notify command done", "instance", e.Instance, "state", e.State, "command", e.Command[0], "duration", r.Duration.Round(time.Millisecond))
		} else {
			q.log.Error("notify command failed", "instance", e.Instance, "state", e.State, "command", e.Command[0],
				"exit_status", r.ExitCode, "err", r.Summary(), "stderr", r.Stderr)
		}
		if q.OnDone != nil {
			q.OnDone(e, r)
		}
		if ctx.Err() != nil {
			return
		}
	}
}
