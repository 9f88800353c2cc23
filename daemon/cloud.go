package daemon

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/havip/havip/cloudbind"
	"github.com/havip/havip/config"
	"github.com/havip/havip/status"
)

// cloudReleaseTimeout bounds the provider's release step after a
// step-down.
const cloudReleaseTimeout = 30 * time.Second

// cloudRunner drives one instance's cloud binding from its own
// goroutines: start after the VIPs are added and announced, a reconcile
// loop while master, stop (and the provider's release) on step-down.
// Nothing here ever blocks the election or touches the VIPs on the
// interface: a cloud failure is logged and shown in the status, and the
// L2 master keeps its VIPs.
type cloudRunner struct {
	prov     cloudbind.Provider
	b        cloudbind.Binder // guarded by mu: a reload replaces it
	interval time.Duration
	log      *slog.Logger
	// moved is called after each successful cloud move (announce again).
	moved func()
	// onResult, if set, is called with r.mu held when the result or its
	// error changes (the event log).
	onResult func(from, to, err string)

	// kicks asks the bind loop for a check now.
	kicks chan struct{}

	mu     sync.Mutex
	cancel context.CancelFunc // of the running bind loop
	last   chan struct{}      // closed when the latest goroutine ends
	gen    uint64
	st     cloudStatus
}

type cloudStatus struct {
	result string // idle, ready, binding, bound, error, releasing, released
	err    string
	at     time.Time
	bound  bool
	agrees *bool
	moves  int64
}

func newCloudRunner(p cloudbind.Provider, b cloudbind.Binder, interval time.Duration, l *slog.Logger, moved func()) *cloudRunner {
	return &cloudRunner{prov: p, b: b, interval: interval, log: l.With("provider", p.Name()), moved: moved,
		kicks: make(chan struct{}, 1), st: cloudStatus{result: "idle"}}
}

// rebind replaces the binder after the instance's VIPs or interface
// changed (a reload); a running loop binds the new VIPs at once.
func (r *cloudRunner) rebind(inst config.Instance) {
	r.mu.Lock()
	r.b = r.prov.Binder(inst)
	r.mu.Unlock()
	r.kick()
}

func (r *cloudRunner) binder() cloudbind.Binder {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.b
}

// kick makes a running bind loop check the binding now rather than at
// the end of its interval.
func (r *cloudRunner) kick() {
	select {
	case r.kicks <- struct{}{}:
	default:
	}
}

// prepare resolves, in the background, what a takeover needs (the
// provider caches it), so that the first takeover costs no lookup. A
// failure is logged and shown; takeovers try again anyway.
func (r *cloudRunner) prepare() {
	p, ok := r.binder().(cloudbind.Preparer)
	if !ok {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), cloudReleaseTimeout)
		defer cancel()
		err := p.Prepare(ctx)
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.gen != 0 {
			return // a takeover already reports its own result
		}
		if err != nil {
			r.log.Warn("cloud binding not ready: takeovers will try again", "err", err)
			r.setLocked(0, "error", err, false, nil)
			return
		}
		r.log.Debug("cloud binding ready")
		r.setLocked(0, "ready", nil, false, nil)
	}()
}

// start begins binding in the background; it returns at once.
func (r *cloudRunner) start() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cancel != nil {
		r.cancel()
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.gen++
	gen, prev, done := r.gen, r.last, make(chan struct{})
	r.cancel, r.last = cancel, done
	r.setLocked(gen, "binding", nil, false, nil)
	go func() {
		defer close(done)
		if prev != nil {
			// A release still running finishes first, so it cannot
			// undo this binding.
			select {
			case <-prev:
			case <-ctx.Done():
				return
			}
		}
		r.loop(ctx, gen)
	}()
}

// stop cancels the bind loop and runs the provider's release in the
// background, with a timeout; it returns at once.
func (r *cloudRunner) stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	r.gen++
	gen, prev, done := r.gen, r.last, make(chan struct{})
	r.last = done
	r.setLocked(gen, "releasing", nil, r.st.bound, nil)
	go func() {
		defer close(done)
		<-prev
		ctx, cancel := context.WithTimeout(context.Background(), cloudReleaseTimeout)
		defer cancel()
		if err := r.binder().Unbind(ctx); err != nil {
			r.log.Warn("cloud release failed", "err", err)
			r.set(gen, "error", err, false, nil)
			return
		}
		r.set(gen, "released", nil, false, nil)
	}()
}

// wait waits for the background work to end, for tests and shutdown.
func (r *cloudRunner) wait(timeout time.Duration) bool {
	r.mu.Lock()
	last := r.last
	r.mu.Unlock()
	if last == nil {
		return true
	}
	select {
	case <-last:
		return true
	case <-time.After(timeout):
		return false
	}
}

func (r *cloudRunner) loop(ctx context.Context, gen uint64) {
	failures := 0
	first := true
	for {
		moved, err := r.binder().Bind(ctx)
		if ctx.Err() != nil {
			return
		}
		wait := r.interval
		if err != nil {
			failures++
			r.log.Warn("cloud binding failed; the VIPs stay on this node", "err", err, "failures", failures)
			r.set(gen, "error", err, false, nil)
			// Bind retried already; come back sooner than the
			// reconcile interval while it fails.
			wait = min(r.interval, time.Second<<min(failures-1, 6))
		} else {
			if failures > 0 {
				r.log.Info("cloud binding works again", "after_failures", failures)
			}
			failures = 0
			yes := true
			r.set(gen, "bound", nil, true, &yes)
			if moved {
				r.mu.Lock()
				r.st.moves++
				r.mu.Unlock()
				if !first {
					r.log.Warn("cloud binding had been changed by someone else; re-asserted it")
				}
				r.moved()
			}
			first = false
			if !cloudbind.Reconciles(r.prov) {
				return
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-r.kicks:
			t.Stop()
			r.log.Debug("checking the cloud binding now")
		case <-t.C:
		}
	}
}

func (r *cloudRunner) set(gen uint64, result string, err error, bound bool, agrees *bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.setLocked(gen, result, err, bound, agrees)
}

// setLocked records a result unless a newer start or stop superseded the
// goroutine that reports it.
func (r *cloudRunner) setLocked(gen uint64, result string, err error, bound bool, agrees *bool) {
	if gen != r.gen {
		return
	}
	from, fromErr := r.st.result, r.st.err
	r.st.result, r.st.at, r.st.bound, r.st.agrees = result, time.Now(), bound, agrees
	r.st.err = ""
	if err != nil {
		r.st.err = err.Error()
	}
	if r.onResult != nil && (from != result || fromErr != r.st.err) {
		r.onResult(from, result, r.st.err)
	}
}

// status is the instance's cloud object in the status document.
func (r *cloudRunner) status() *status.Cloud {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := &status.Cloud{
		Provider: r.prov.Name(),
		Mode:     r.prov.Mode(),
		Result:   r.st.result,
		Error:    r.st.err,
		Bound:    r.st.bound,
		Agrees:   r.st.agrees,
		Moves:    r.st.moves,
		Calls:    r.prov.Calls(),
	}
	if !r.st.at.IsZero() {
		s.At = status.FormatTime(r.st.at)
	}
	return s
}
