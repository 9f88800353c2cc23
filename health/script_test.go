package health

import (
	"context"
	"errors"
	"os"
	"os/user"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/havip/havip/config"
	"github.com/havip/havip/internal/proc"
)

var (
	ok   = proc.Result{ExitCode: 0}
	fail = proc.Result{ExitCode: 1, Err: errors.New("exit status 1")}
)

func TestRiseFall(t *testing.T) {
	type step struct {
		r           proc.Result
		healthy     bool
		changed     bool
		succ, fails int
	}
	tests := []struct {
		name       string
		rise, fall int
		steps      []step
	}{
		{"first success decides", 2, 2, []step{{ok, true, true, 1, 0}, {ok, true, false, 2, 0}}},
		{"first failure decides", 2, 2, []step{{fail, false, true, 0, 1}, {ok, false, false, 1, 0}, {ok, true, true, 2, 0}}},
		{"fall 2", 2, 2, []step{{ok, true, true, 1, 0}, {fail, true, false, 0, 1}, {ok, true, false, 1, 0}, {fail, true, false, 0, 1}, {fail, false, true, 0, 2}, {fail, false, false, 0, 3}}},
		{"rise 3", 3, 1, []step{{ok, true, true, 1, 0}, {fail, false, true, 0, 1}, {ok, false, false, 1, 0}, {ok, false, false, 2, 0}, {fail, false, false, 0, 1}, {ok, false, false, 1, 0}, {ok, false, false, 2, 0}, {ok, true, true, 3, 0}}},
		{"rise 1 fall 1", 1, 1, []step{{ok, true, true, 1, 0}, {fail, false, true, 0, 1}, {ok, true, true, 1, 0}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewScript("web", config.TrackScript{Name: "app", Rise: tt.rise, Fall: tt.fall}, nil)
			for i, st := range tt.steps {
				got, changed := s.Record(st.r, time.Now())
				if got.Healthy != st.healthy || changed != st.changed || got.Successes != st.succ || got.Failures != st.fails {
					t.Fatalf("step %d: healthy %t changed %t successes %d failures %d, want %t %t %d %d",
						i, got.Healthy, changed, got.Successes, got.Failures, st.healthy, st.changed, st.succ, st.fails)
				}
				if got.Runs != i+1 {
					t.Fatalf("step %d: runs %d", i, got.Runs)
				}
			}
		})
	}
}

// TestRunLoop drives a script with a fake runner: results in order, the
// verdicts reported through OnChange, runs spaced by the interval and
// never overlapping.
func TestRunLoop(t *testing.T) {
	results := []proc.Result{ok, fail, fail, ok, ok}
	var mu sync.Mutex
	calls, running := 0, false
	done := make(chan struct{})
	s := NewScript("web", config.TrackScript{Name: "app", Command: []string{"x"}, Interval: 5 * time.Millisecond, Timeout: time.Second, Rise: 2, Fall: 2}, nil)
	s.Runner = func(ctx context.Context, _ *proc.Credential, argv, env []string, timeout time.Duration) proc.Result {
		mu.Lock()
		defer mu.Unlock()
		if running {
			t.Error("runs overlap")
		}
		if calls >= len(results) {
			if calls == len(results) {
				close(done)
			}
			calls++
			return ok
		}
		r := results[calls]
		calls++
		return r
	}
	var verdicts []bool
	s.OnChange = func(st Status) { verdicts = append(verdicts, st.Healthy) }
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.Run(ctx) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the script did not run 5 times in 5s")
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if want := []bool{true, false, true}; len(verdicts) != len(want) || verdicts[0] != want[0] || verdicts[1] != want[1] || verdicts[2] != want[2] {
		t.Errorf("verdicts %v, want %v", verdicts, want)
	}
}

// TestRealTimeout runs a real command that hangs: it counts as a failure
// once the timeout kills it.
func TestRealTimeout(t *testing.T) {
	s := NewScript("web", config.TrackScript{Name: "hang", Command: []string{"/bin/sh", "-c", "sleep 30"}, Interval: time.Hour, Timeout: 100 * time.Millisecond, Rise: 1, Fall: 1}, nil)
	changed := make(chan Status, 1)
	s.OnChange = func(st Status) { changed <- st }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	select {
	case st := <-changed:
		if st.Healthy || !st.Last.TimedOut {
			t.Errorf("status %+v, want failed by a timeout", st)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no verdict 5s after a 100ms timeout")
	}
}

func TestRanAndSetHealthy(t *testing.T) {
	s := NewScript("web", config.TrackScript{Name: "app", Command: []string{"x"}, Interval: time.Hour, Timeout: time.Second, Rise: 1, Fall: 1}, nil)
	s.SetHealthy(false)
	if s.Status().Healthy {
		t.Fatal("SetHealthy(false) ignored")
	}
	s.Runner = func(context.Context, *proc.Credential, []string, []string, time.Duration) proc.Result { return ok }
	select {
	case <-s.Ran():
		t.Fatal("Ran closed before any run")
	default:
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	select {
	case <-s.Ran():
	case <-time.After(5 * time.Second):
		t.Fatal("Ran not closed after the first run")
	}
	if !s.Status().Healthy {
		t.Error("first successful run did not make the check healthy")
	}
}

// TestRunAsUser runs a check as another user: the runner gets that
// user's credential, and a user that does not exist fails the check
// rather than run it as root.
func TestRunAsUser(t *testing.T) {
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("needs the user nobody on this host: %v", err)
	}
	got := make(chan *proc.Credential, 1)
	s := NewScript("web", config.TrackScript{Name: "app", Command: []string{"x"}, Interval: time.Hour, Timeout: time.Second, Rise: 1, Fall: 1,
		RunAs: config.RunAs{User: "nobody"}}, nil)
	s.Runner = func(_ context.Context, cred *proc.Credential, _, _ []string, _ time.Duration) proc.Result {
		got <- cred
		return ok
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	select {
	case cred := <-got:
		if cred == nil || strconv.FormatUint(uint64(cred.UID), 10) != u.Uid || strconv.FormatUint(uint64(cred.GID), 10) != u.Gid {
			t.Errorf("credential %+v, want uid %s gid %s", cred, u.Uid, u.Gid)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the check did not run")
	}

	missing := NewScript("web", config.TrackScript{Name: "app", Command: []string{"x"}, Interval: time.Hour, Timeout: time.Second, Rise: 1, Fall: 1,
		RunAs: config.RunAs{User: "no-such-user-here"}}, nil)
	missing.Runner = func(context.Context, *proc.Credential, []string, []string, time.Duration) proc.Result {
		t.Error("the command ran without its user")
		return ok
	}
	changed := make(chan Status, 1)
	missing.OnChange = func(st Status) { changed <- st }
	go missing.Run(ctx)
	select {
	case st := <-changed:
		if st.Healthy || !strings.Contains(st.Last.Summary(), `"no-such-user-here" is not a user of this host`) {
			t.Errorf("status %+v, want failed naming the user", st)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no verdict")
	}
}

// TestRealRunAs runs a real command as nobody.
func TestRealRunAs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: starts a command as another user")
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("needs the user nobody on this host: %v", err)
	}
	s := NewScript("web", config.TrackScript{Name: "app", Command: []string{"/bin/sh", "-c", `test "$(id -u)" = "$0"`, u.Uid},
		Interval: time.Hour, Timeout: 5 * time.Second, Rise: 1, Fall: 1, RunAs: config.RunAs{User: "nobody"}}, nil)
	changed := make(chan Status, 1)
	s.OnChange = func(st Status) { changed <- st }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	select {
	case st := <-changed:
		if !st.Healthy {
			t.Errorf("status %+v: the command did not run as uid %s", st, u.Uid)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no verdict")
	}
}
