package notify

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/havip/havip/config"
	"github.com/havip/havip/internal/proc"
)

// Event is one transition to report.
type Event struct {
	Node     string
	Instance string
	// State and Previous are state names: "MASTER", "BACKUP", "FAULT",
	// and "STOP" when the daemon stops.
	State, Previous string
	Reason          string
	VIPs            []string
	// Priority is the priority this node publishes for the instance.
	Priority int
	// Command is the argv to run (nil: nothing to run); Args says what
	// is appended to it, Timeout bounds it and RunAs says who runs it.
	Command []string
	Args    Args
	Timeout time.Duration
	RunAs   config.RunAs
}

// Args says which arguments are appended to an event's command.
type Args uint8

const (
	// StateArgs: the instance, the state and the VIPs (comma
	// separated), for the commands of one state.
	StateArgs Args = iota
	// KeepalivedArgs: "INSTANCE", the instance, the state and the
	// priority, as keepalived passes them to its notify script, for the
	// command run on every transition.
	KeepalivedArgs
)

// Argv is the command with its arguments appended (see Args).
func (e Event) Argv() []string {
	argv := append([]string(nil), e.Command...)
	if e.Args == KeepalivedArgs {
		return append(argv, "INSTANCE", e.Instance, e.State, strconv.Itoa(e.Priority))
	}
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
		"HAVIP_PRIORITY="+strconv.Itoa(e.Priority),
	)
}

// Runner runs one command, as cred (nil: as the daemon); proc.RunAs in
// real use.
type Runner func(ctx context.Context, cred *proc.Credential, argv, env []string, timeout time.Duration) proc.Result

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

// NewQueue returns a queue; Run works it. run may be nil for proc.RunAs.
func NewQueue(run Runner, l *slog.Logger) *Queue {
	if run == nil {
		run = proc.RunAs
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

		r := q.runEvent(ctx, e)
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

// runEvent runs the command of e as its user. A user that cannot be
// looked up fails the command: it never runs as root instead.
func (q *Queue) runEvent(ctx context.Context, e Event) proc.Result {
	cred, err := e.RunAs.Credential()
	if err != nil {
		return proc.Result{ExitCode: -1, Err: err}
	}
	return q.run(ctx, cred, e.Argv(), e.Env(), e.Timeout)
}
