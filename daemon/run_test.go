package daemon

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/havip/havip/config"
	"github.com/havip/havip/status"
)

// bareDaemon is a daemon with what its tasks need and no host state.
func bareDaemon() *Daemon {
	d := &Daemon{log: slog.New(slog.DiscardHandler), fatal: make(chan error, 1), events: newEventLog(eventLogSize)}
	d.metrics = newMetrics(d)
	return d
}

func taskNames(tasks []task) []string {
	var names []string
	for _, t := range tasks {
		names = append(names, t.String())
	}
	return names
}

// testListeners opens the status socket and, with metrics, a metrics
// address on the loopback.
func testListeners(t *testing.T, metrics bool) listeners {
	t.Helper()
	st := statusConfig(t)
	if metrics {
		st.Metrics = "127.0.0.1:0"
	}
	lns, err := listen(st)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(lns.close)
	return lns
}

func TestBuildTasks(t *testing.T) {
	d := bareDaemon()
	got := taskNames(d.buildTasks(testListeners(t, false), nil))
	if diff := cmp.Diff([]string{"status socket", "fatal errors", "events", "election"}, got); diff != "" {
		t.Errorf("tasks without metrics (-want +got):\n%s", diff)
	}
	got = taskNames(d.buildTasks(testListeners(t, true), nil))
	if diff := cmp.Diff([]string{"status socket", "metrics", "fatal errors", "events", "election"}, got); diff != "" {
		t.Errorf("tasks with metrics (-want +got):\n%s", diff)
	}
}

// TestServerTasks runs the tasks that serve (all but the election) and
// checks that they answer, then end cleanly with their context.
func TestServerTasks(t *testing.T) {
	d := bareDaemon()
	d.cfg = &config.Config{Path: filepath.Join(t.TempDir(), "missing.toml")}
	lns := testListeners(t, true)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type end struct {
		name string
		err  error
		// waiting counts the followers still waiting when it ended.
		waiting int
	}
	ended := make(chan end, 5)
	running := 0
	for _, tk := range d.buildTasks(lns, nil) {
		if tk.String() == "election" {
			continue
		}
		running++
		go func() {
			err := tk.Run(ctx)
			ended <- end{tk.String(), err, d.events.waiting()}
		}()
	}

	resp, err := http.Get("http://" + lns.metrics.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "go_goroutines") {
		t.Errorf("/metrics answered %s without the Go collector's metrics", resp.Status)
	}
	rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
	defer rcancel()
	err = status.Post(rctx, lns.socket, status.ReloadPath, struct{}{}, nil)
	var re *status.RequestError
	if !errors.As(err, &re) || re.Code != http.StatusBadRequest {
		t.Errorf("reload of a missing file on the status socket: %v, want it refused (400)", err)
	}
	// A follower of `havip events` waits for the next event.
	go func() {
		_, err := status.FetchEvents(context.Background(), lns.socket, status.EventsQuery{Run: d.events.run, Wait: status.MaxEventsWait})
		ended <- end{"follower", err, 0}
	}()
	eventually(t, "the follower waiting", func() bool { return d.events.waiting() == 1 })

	cancel()
	var order []string
	for range running + 1 {
		select {
		case e := <-ended:
			if e.err != nil {
				t.Errorf("%s after cancel: %v, want nil", e.name, e.err)
			}
			// The follower is answered when the daemon stops: the
			// status socket's shutdown does not give up on it.
			if e.name == "status socket" && e.waiting != 0 {
				t.Errorf("the status socket stopped with %d followers still waiting", e.waiting)
			}
			order = append(order, e.name)
		case <-time.After(5 * time.Second):
			t.Fatalf("a task did not end with its context; ended: %q", order)
		}
	}
}

func TestFatalTask(t *testing.T) {
	d := bareDaemon()
	boom := errors.New("watching interface eth0: boom")
	d.fatal <- boom
	if err := d.watchFatal(context.Background()); !errors.Is(err, boom) {
		t.Errorf("watchFatal with a fatal error: %v, want %v", err, boom)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := d.watchFatal(ctx); err != nil {
		t.Errorf("watchFatal after cancel: %v, want nil", err)
	}
}

func TestListenMetricsInUse(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	st := statusConfig(t)
	st.Metrics = taken.Addr().String()
	if _, err := listen(st); err == nil || !strings.Contains(err.Error(), "listening for metrics on "+st.Metrics) {
		t.Fatalf("listen with the metrics address taken: %v", err)
	}
	// The status socket opened first is closed again: a second try finds
	// it stale, not in use.
	st.Metrics = ""
	lns, err := listen(st)
	if err != nil {
		t.Fatalf("listen after a failed listen: %v", err)
	}
	lns.close()
}

// statusConfig is a [status] table with the socket in a temporary
// directory.
func statusConfig(t *testing.T) config.Status {
	return config.Status{Socket: filepath.Join(t.TempDir(), "havip.sock")}
}
