package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/havip/havip/config"
)

// A state file that cannot be read may have said "drained": the node
// starts drained, says how to undo it, and the next save writes a sound
// file that keeps it drained.
func TestCorruptStateStartsDrained(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, config.StateFile), []byte(`{"maintenance": tr`), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	d := bareDaemon()
	d.log = slog.New(slog.NewTextHandler(&logs, nil))
	cfg := &config.Config{Node: config.Node{StateDir: dir}}
	st := d.loadState(cfg)
	if !st.Maintenance {
		t.Error("a corrupt state file started the node out of maintenance")
	}
	for _, want := range []string{"level=ERROR", "starting in maintenance", "havip maintenance off", filepath.Join(dir, config.StateFile)} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
	d.nextEpoch(cfg, st)
	again, err := loadState(dir)
	if err != nil || !again.Maintenance || again.Epoch == 0 {
		t.Errorf("state after the next save: %+v, %v; want drained with an epoch", again, err)
	}

	// A missing file is a fresh node, out of maintenance.
	if st := d.loadState(&config.Config{Node: config.Node{StateDir: t.TempDir()}}); st.Maintenance {
		t.Error("a missing state file started the node in maintenance")
	}
}

// Ready waits for a member to be alive or for startup_grace; it gives up
// when the daemon stops.
func TestAwaitSettled(t *testing.T) {
	var calls atomic.Int32
	joinedAfter := func(n int32) func() bool {
		calls.Store(0)
		return func() bool { return calls.Add(1) > n }
	}
	far := time.Now().Add(time.Hour)
	if !awaitSettled(context.Background(), far, time.Millisecond, joinedAfter(3)) {
		t.Error("not settled once joined")
	}
	if got := calls.Load(); got != 4 {
		t.Errorf("looked %d times, want 4", got)
	}
	never := func() bool { return false }
	if !awaitSettled(context.Background(), time.Now().Add(20*time.Millisecond), time.Millisecond, never) {
		t.Error("not settled once the grace passed")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if awaitSettled(ctx, far, time.Millisecond, never) {
		t.Error("settled after the daemon stopped")
	}
}

// Without peers a node is ready as soon as the election says so; with
// peers the callback returns at once (the election's goroutine must not
// wait) and ready comes later, once.
func TestReadyWhenSettled(t *testing.T) {
	var ready atomic.Int32
	d := bareDaemon()
	d.ready = func() { ready.Add(1) }
	alone := &config.Config{}
	d.readyWhenSettled(context.Background(), alone)()
	if ready.Load() != 1 {
		t.Fatalf("no peers: ready %d times, want 1", ready.Load())
	}
	ready.Store(0)
	withPeers := &config.Config{Cluster: config.Cluster{Peers: []string{"192.0.2.2:7946"},
		Timing: config.Timing{StartupGrace: 50 * time.Millisecond, HeartbeatInterval: time.Millisecond}}}
	f := d.readyWhenSettled(context.Background(), withPeers)
	f()
	f()
	if ready.Load() != 0 {
		t.Error("ready before the node settled")
	}
	deadline := time.Now().Add(10 * time.Second)
	for ready.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	if got := ready.Load(); got != 1 {
		t.Errorf("ready %d times, want 1", got)
	}
}

// multi formats its errors as hashicorp/go-multierror does, which is
// what memberlist's Join returns.
type multi []error

func (m multi) WrappedErrors() []error { return m }

func (m multi) Error() string {
	if len(m) == 1 {
		return fmt.Sprintf("1 error occurred:\n\t* %s\n\n", m[0])
	}
	points := make([]string, len(m))
	for i, e := range m {
		points[i] = "* " + e.Error()
	}
	return fmt.Sprintf("%d errors occurred:\n\t%s\n\n", len(m), strings.Join(points, "\n\t"))
}

// memberlist's multi-errors reach the log on one line.
func TestFlatErrors(t *testing.T) {
	var b bytes.Buffer
	log := slog.New(flatErrors{slog.NewTextHandler(&b, nil)})
	one := multi{fmt.Errorf("failed to join 10.0.0.2:7946: dial tcp 10.0.0.2:7946: connect: connection refused")}
	two := multi{fmt.Errorf("failed to join a: refused"), fmt.Errorf("failed to join b: timeout")}
	log.Warn("no configured peer reachable", "err", one, "peers", 1)
	log.With("err", fmt.Errorf("joining: %w", two)).Warn("rejoin failed")
	log.Info("plain", "err", fmt.Errorf("plain error"))
	// Every multi-error of an errors.Join, not only the first.
	log.Warn("joined", "err", errors.Join(multi{errors.New("a")}, multi{errors.New("b"), errors.New("c")}))
	log.Warn("wrapped join", "err", fmt.Errorf("starting: %w", errors.Join(errors.New("x"), fmt.Errorf("y: %w", two))))
	// The text of a multi-error, as the election logs a rejoin's.
	log.Warn("cannot join configured peer", "peer", "10.0.0.3:7946", "err", two.Error())
	log.Warn("nested text", "err", multi{errors.New("outer"), one}.Error())
	log.Info("lines", "text", "two\nlines")
	want := `level=WARN msg="no configured peer reachable" err="failed to join 10.0.0.2:7946: dial tcp 10.0.0.2:7946: connect: connection refused" peers=1
level=WARN msg="rejoin failed" err="joining: failed to join a: refused; failed to join b: timeout"
level=INFO msg=plain err="plain error"
level=WARN msg=joined err="a; b; c"
level=WARN msg="wrapped join" err="starting: x; y: failed to join a: refused; failed to join b: timeout"
level=WARN msg="cannot join configured peer" peer=10.0.0.3:7946 err="failed to join a: refused; failed to join b: timeout"
level=WARN msg="nested text" err="outer; failed to join 10.0.0.2:7946: dial tcp 10.0.0.2:7946: connect: connection refused"
level=INFO msg=lines text="two\nlines"
`
	var got []string
	for _, line := range strings.SplitAfter(b.String(), "\n") {
		if _, rest, ok := strings.Cut(line, " "); ok {
			got = append(got, rest)
		}
	}
	if g := strings.Join(got, ""); g != want {
		t.Errorf("log:\n%s\nwant:\n%s", g, want)
	}
}
