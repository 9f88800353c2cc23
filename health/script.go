package health

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/havip/havip/config"
	"github.com/havip/havip/internal/proc"
)

// Status is what is known about one check.
type Status struct {
	Name string
	// Healthy is the verdict after rise and fall; before the first run,
	// what SetHealthy said (true by default).
	Healthy bool
	// Runs counts the runs so far.
	Runs int
	// Successes and Failures count the last results in a row.
	Successes, Failures int
	// Last is the result of the last run (zero before the first).
	Last    proc.Result
	LastRun time.Time
	// Since is when the verdict last changed (the start before that).
	Since time.Time
}

// Runner runs one command, as cred (nil: as the daemon); proc.RunAs in
// real use.
type Runner func(ctx context.Context, cred *proc.Credential, argv, env []string, timeout time.Duration) proc.Result

// Script is one track script of one instance.
type Script struct {
	// Node is this node's name, given to the command as HAVIP_NODE.
	Node     string
	Instance string
	Config   config.TrackScript
	// Run runs the command; proc.RunAs when nil.
	Runner Runner
	Logger *slog.Logger
	// OnChange, if set, is called with the new verdict after the first
	// run and whenever the verdict changes.
	OnChange func(Status)
	// OnResult, if set, is called after every run.
	OnResult func(Status)

	mu sync.Mutex
	st Status
	// ran is closed once the first run has been recorded.
	ran     chan struct{}
	ranOnce sync.Once
}

// NewScript returns a check that has not run yet.
func NewScript(instance string, cfg config.TrackScript, l *slog.Logger) *Script {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	return &Script{
		Instance: instance,
		Config:   cfg,
		Logger:   l.With("instance", instance, "check", cfg.Name),
		st:       Status{Name: cfg.Name, Healthy: true, Since: time.Now()},
		ran:      make(chan struct{}),
	}
}

// Ran returns a channel closed once the first run's result is known and
// reported (OnChange has returned).
func (s *Script) Ran() <-chan struct{} { return s.ran }

// SetHealthy sets the verdict before the first run (NewScript starts
// healthy). The first run decides anyway.
func (s *Script) SetHealthy(healthy bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.Healthy = healthy
}

// Status returns the check's current status; safe from any goroutine.
func (s *Script) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st
}

// Run runs the command at once and then Config.Interval after each run
// ends, until ctx is done. Runs never overlap.
func (s *Script) Run(ctx context.Context) error {
	run := s.Runner
	if run == nil {
		run = proc.RunAs
	}
	env := proc.Environ("HAVIP_NODE="+s.Node, "HAVIP_INSTANCE="+s.Instance, "HAVIP_CHECK="+s.Config.Name)
	var cred *proc.Credential
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		var r proc.Result
		if cred == nil && !s.Config.RunAs.IsZero() {
			// Looked up once; a user that is missing now may be
			// created, and is looked up again at the next run.
			var err error
			if cred, err = s.Config.RunAs.Credential(); err != nil {
				r = proc.Result{ExitCode: -1, Err: err}
			}
		}
		if r.Err == nil {
			r = run(ctx, cred, s.Config.Command, env, s.Config.Timeout)
		}
		if ctx.Err() != nil {
			// Killed because we stop: not a result.
			return nil
		}
		st, changed := s.Record(r, time.Now())
		if s.OnResult != nil {
			s.OnResult(st)
		}
		if changed {
			if st.Healthy {
				s.Logger.Info("check healthy", "runs", st.Runs, "result", r.Summary())
			} else {
				s.Logger.Warn("check failed", "runs", st.Runs, "result", r.Summary(), "stderr", r.Stderr)
			}
			if s.OnChange != nil {
				s.OnChange(st)
			}
			s.ranOnce.Do(func() { close(s.ran) })
		} else if !r.OK() {
			s.Logger.Debug("check run failed", "result", r.Summary(), "stderr", r.Stderr, "failures", st.Failures)
		}
		t.Reset(s.Config.Interval)
	}
}

// Record applies one result: the first decides the verdict at once;
// after that Fall failures in a row make a healthy check failed and Rise
// successes in a row make a failed one healthy. It returns the new status
// and whether the verdict is new (always true for the first run).
func (s *Script) Record(r proc.Result, at time.Time) (Status, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := &s.st
	first := st.Runs == 0
	st.Runs++
	st.Last = r
	st.LastRun = at
	if r.OK() {
		st.Successes++
		st.Failures = 0
	} else {
		st.Failures++
		st.Successes = 0
	}
	before := st.Healthy
	switch {
	case first:
		st.Healthy = r.OK()
	case !st.Healthy && st.Successes >= s.Config.Rise:
		st.Healthy = true
	case st.Healthy && st.Failures >= s.Config.Fall:
		st.Healthy = false
	}
	changed := first || st.Healthy != before
	if st.Healthy != before {
		st.Since = at
	}
	return *st, changed
}
