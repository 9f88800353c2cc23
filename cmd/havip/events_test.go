package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/havip/havip/status"
)

// fakeDaemon answers on a real status socket as the daemon does: the
// status document, and the events it is given with their cursor and
// long poll.
type fakeDaemon struct {
	socket string

	mu     sync.Mutex
	doc    status.Document
	run    uint64
	events []status.Event
	missed uint64
	wake   chan struct{}
}

func newFakeDaemon(t *testing.T) *fakeDaemon {
	t.Helper()
	f := &fakeDaemon{socket: filepath.Join(t.TempDir(), "havip.sock"), run: 1, wake: make(chan struct{}),
		doc: status.Document{Node: "a", Cluster: "web-ha", Instances: []status.Instance{}, Members: []status.Member{}}}
	l, err := status.Listen(f.socket, -1)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv := &status.Server{Socket: f.socket, Document: f.document,
		Handlers: map[string]http.Handler{status.EventsPath: status.EventsHandler(f.query)}}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return f
}

func (f *fakeDaemon) document() status.Document {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.doc
}

// add numbers and keeps events, and wakes the queries that wait.
func (f *fakeDaemon) add(events ...status.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, e := range events {
		e.Seq = uint64(len(f.events) + 1)
		f.events = append(f.events, e)
	}
	close(f.wake)
	f.wake = make(chan struct{})
}

// restart starts a new run whose log holds events.
func (f *fakeDaemon) restart(events ...status.Event) {
	f.mu.Lock()
	f.run++
	f.events = nil
	f.mu.Unlock()
	f.add(events...)
}

func (f *fakeDaemon) query(ctx context.Context, q status.EventsQuery) status.EventsReply {
	deadline := time.NewTimer(q.Wait)
	defer deadline.Stop()
	for {
		f.mu.Lock()
		after := q.After
		if q.Run != f.run {
			after = 0
		}
		r := status.EventsReply{Run: f.run, Events: append([]status.Event{}, f.events[min(after, uint64(len(f.events))):]...), Next: after}
		if after == 0 {
			r.Missed = f.missed
		}
		wake := f.wake
		f.mu.Unlock()
		if n := len(r.Events); n > 0 {
			r.Next = r.Events[n-1].Seq
		}
		if len(r.Events) > 0 || q.Wait == 0 {
			return r
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return r
		case <-deadline.C:
			return r
		}
	}
}

var (
	evTransition = status.Event{At: "2025-05-01T10:00:00Z", Kind: status.EventTransition, Instance: "web",
		From: "BACKUP", To: "MASTER", Master: "a", Reason: "master b left"}
	evMember = status.Event{At: "2025-05-01T10:00:01Z", Kind: status.EventMember, Member: "b", From: "alive", To: "dead"}
	evCheck  = status.Event{At: "2025-05-01T10:00:02Z", Kind: status.EventCheck, Instance: "web", Check: "track_script app",
		From: "ok", To: "failed", Reason: "exit status 1"}
	evCloud = status.Event{At: "2025-05-01T10:00:03Z", Kind: status.EventCloud, Instance: "web", From: "binding", To: "bound"}
)

func TestEvents(t *testing.T) {
	f := newFakeDaemon(t)
	f.add(evTransition, evMember, evCheck, evCloud)
	f.missed = 7

	code, out, errOut := runCmd(t, "events", "--socket", f.socket)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	for i, want := range []string{"transition  web: BACKUP -> MASTER (master a): master b left", "member      member b: alive -> dead",
		"check       web track_script app: ok -> failed: exit status 1", "cloud       web: binding -> bound"} {
		if len(lines) != 4 || !strings.HasSuffix(lines[i], want) {
			t.Errorf("line %d of\n%s\nwant it to end in %q", i+1, out, want)
		}
	}
	if !strings.Contains(errOut, "7 earlier events are no longer kept") {
		t.Errorf("stderr %q does not say that 7 events were dropped", errOut)
	}

	code, out, _ = runCmd(t, "events", "--json", "--socket", f.socket)
	if code != 0 {
		t.Fatalf("--json: exit %d", code)
	}
	dec := json.NewDecoder(strings.NewReader(out))
	for i, want := range []status.Event{evTransition, evMember, evCheck, evCloud} {
		var e status.Event
		if err := dec.Decode(&e); err != nil {
			t.Fatalf("--json line %d: %v\n%s", i+1, err, out)
		}
		want.Seq = uint64(i + 1)
		if e != want {
			t.Errorf("--json line %d: %+v, want %+v", i+1, e, want)
		}
	}
	if strings.Count(out, "\n") != 4 {
		t.Errorf("--json printed %q: want one event a line", out)
	}

	for _, tt := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"events", "--socket", filepath.Join(t.TempDir(), "none.sock")}, 1, "no havip daemon answers"},
		{[]string{"events", "--follow", "--socket", filepath.Join(t.TempDir(), "none.sock")}, 1, "no havip daemon answers"},
		{[]string{"events", "--socket", f.socket, "extra"}, 2, `unexpected argument "extra"`},
	} {
		code, _, errOut := runCmd(t, tt.args...)
		if code != tt.code || !strings.Contains(errOut, tt.msg) {
			t.Errorf("havip %s: exit %d, stderr %q; want %d and %q", strings.Join(tt.args, " "), code, errOut, tt.code, tt.msg)
		}
	}
}

// live is this test binary running as havip in the background, its
// stdout read line by line.
type live struct {
	cmd    *exec.Cmd
	lines  chan string
	stderr *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startLive(t *testing.T, args ...string) *live {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, args...)
	cmd.Env = append(os.Environ(), "HAVIP_TEST_RUN=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	l := &live{cmd: cmd, lines: make(chan string, 1000), stderr: &syncBuffer{}}
	cmd.Stderr = l.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	go func() {
		defer close(l.lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			l.lines <- sc.Text()
		}
	}()
	return l
}

// next returns the next line of output that contains want, and the
// lines before it.
func (l *live) next(t *testing.T, want string) (line string, skipped []string) {
	t.Helper()
	timeout := time.NewTimer(time.Minute)
	defer timeout.Stop()
	for {
		select {
		case line, ok := <-l.lines:
			if !ok {
				t.Fatalf("output ended before a line with %q; stderr: %s", want, l.stderr)
			}
			if strings.Contains(line, want) {
				return line, skipped
			}
			skipped = append(skipped, line)
		case <-timeout.C:
			t.Fatalf("no line with %q; stderr: %s", want, l.stderr)
		}
	}
}

// interrupt sends Ctrl-C and returns the exit code and the rest of the
// output.
func (l *live) interrupt(t *testing.T) (code int, rest []string) {
	t.Helper()
	if err := l.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	for line := range l.lines {
		rest = append(rest, line)
	}
	err := l.cmd.Wait()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return ee.ExitCode(), rest
	case err != nil:
		t.Fatal(err)
	}
	return 0, rest
}

// TestEventsFollow follows the daemon's events through the socket: each
// event is printed once as it comes, a restarted daemon's events follow
// with a notice, and Ctrl-C ends it with success.
func TestEventsFollow(t *testing.T) {
	f := newFakeDaemon(t)
	f.add(evTransition)
	l := startLive(t, "events", "--follow", "--socket", f.socket)
	l.next(t, "BACKUP -> MASTER")
	f.add(evMember)
	f.add(evCheck, evCloud)
	if _, skipped := l.next(t, "binding -> bound"); len(skipped) != 2 ||
		!strings.Contains(skipped[0], "alive -> dead") || !strings.Contains(skipped[1], "ok -> failed") {
		t.Errorf("lines between: %q, want the member and the check events once each", skipped)
	}
	f.restart(evMember)
	if _, skipped := l.next(t, "alive -> dead"); len(skipped) != 0 {
		t.Errorf("after the restart: %q before the new run's event", skipped)
	}
	code, rest := l.interrupt(t)
	if code != 0 || len(rest) != 0 {
		t.Errorf("Ctrl-C: exit %d and more output %q; want 0 and none", code, rest)
	}
	if !strings.Contains(l.stderr.String(), "the daemon restarted") {
		t.Errorf("stderr %q does not say the daemon restarted", l.stderr)
	}
}

// followEvents tries again while the daemon does not answer, and says
// so once.
func TestEventsFollowDaemonAway(t *testing.T) {
	defer func(r time.Duration) { followRetry = r }(followRetry)
	followRetry = time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	var errb syncBuffer
	p := eventPrinter{stdout: io.Discard, stderr: &errb}
	done := make(chan int, 1)
	go func() {
		done <- followEvents(ctx, filepath.Join(t.TempDir(), "gone.sock"), &status.EventsReply{Run: 1, Next: 4}, p)
	}()
	for !strings.Contains(errb.String(), "trying again") {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("exit %d after Ctrl-C, want 0", code)
	}
	if n := strings.Count(errb.String(), "no havip daemon answers"); n != 1 {
		t.Errorf("stderr %q: want the daemon's absence said once", errb.String())
	}
}
