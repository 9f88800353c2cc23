package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/havip/havip/status"
)

// TestStatusWatch runs `havip status --watch` as the operator would, its
// output a pipe: the status again and again, each under a header, and
// the daemon's changes show; Ctrl-C ends it with success.
func TestStatusWatch(t *testing.T) {
	f := newFakeDaemon(t)
	l := startLive(t, "status", "--watch", "--interval", "20ms", "--socket", f.socket)
	l.next(t, "Every 20ms: havip status on "+f.socket)
	l.next(t, "node a, cluster web-ha, quorum off")
	f.mu.Lock()
	f.doc.Maintenance = true
	f.mu.Unlock()
	l.next(t, "node a, cluster web-ha, quorum off, MAINTENANCE")
	code, _ := l.interrupt(t)
	if code != 0 {
		t.Errorf("Ctrl-C: exit %d, want 0; stderr: %s", code, l.stderr)
	}
}

// TestStatusWatchJSON prints one document a line into a pipe, and goes
// on while the daemon does not answer, saying so on stderr.
func TestStatusWatchJSON(t *testing.T) {
	f := newFakeDaemon(t)
	l := startLive(t, "status", "--watch", "--json", "--interval", "20ms", "--socket", f.socket)
	for range 2 {
		line, _ := l.next(t, "")
		var doc status.Document
		if err := json.Unmarshal([]byte(line), &doc); err != nil || doc.Node != "a" {
			t.Errorf("line %q is not the document: %v", line, err)
		}
	}
	gone := startLive(t, "status", "--watch", "--interval", "20ms", "--socket", filepath.Join(t.TempDir(), "none.sock"))
	for strings.Count(gone.stderr.String(), "no havip daemon answers") < 2 {
		time.Sleep(10 * time.Millisecond)
	}
	for _, p := range []*live{l, gone} {
		if code, _ := p.interrupt(t); code != 0 {
			t.Errorf("Ctrl-C: exit %d, want 0; stderr: %s", code, p.stderr)
		}
	}
}

// TestWatchRedraw checks the frames on a terminal: the first clears the
// screen, each one rewrites the screen from the top and clears what the
// last one left, and a daemon that does not answer is shown in place.
func TestWatchRedraw(t *testing.T) {
	f := newFakeDaemon(t)
	var out bytes.Buffer
	w := watcher{socket: f.socket, interval: time.Second, tty: true, stdout: &out, stderr: &out}
	ctx := context.Background()
	if err := w.frame(ctx, true); err != nil {
		t.Fatal(err)
	}
	first := out.String()
	if !strings.HasPrefix(first, ansiHome+ansiClear+ansiHome+"Every 1s: havip status on ") || !strings.HasSuffix(first, ansiClearDown) {
		t.Errorf("first frame %q: want a cleared screen, the header, and the rest cleared", first)
	}
	if !strings.Contains(first, "node a, cluster web-ha, quorum off"+ansiClearLine+"\n") {
		t.Errorf("first frame %q: want each line to clear what was on it", first)
	}
	out.Reset()
	w.socket = filepath.Join(t.TempDir(), "none.sock")
	if err := w.frame(ctx, false); err != nil {
		t.Fatal(err)
	}
	second := out.String()
	if !strings.HasPrefix(second, ansiHome+"Every") || strings.Contains(second, ansiClear) || !strings.Contains(second, "no havip daemon answers") {
		t.Errorf("second frame %q: want it drawn over the first, with the daemon's absence", second)
	}

	// --json on a terminal: the indented document, redrawn.
	out.Reset()
	w = watcher{socket: f.socket, interval: time.Second, tty: true, json: true, stdout: &out}
	if err := w.frame(ctx, false); err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(out.String(), ansiClearLine, "")
	body := text[strings.Index(text, "{") : strings.LastIndex(text, "}")+1]
	var doc status.Document
	if err := json.Unmarshal([]byte(body), &doc); err != nil || doc.Node != "a" {
		t.Errorf("--json frame %q: %v", out.String(), err)
	}
}

func TestStatusWatchUsage(t *testing.T) {
	for _, iv := range []string{"0s", "-1s"} {
		code, _, errOut := runCmd(t, "status", "--watch", "--interval", iv, "--socket", "x.sock")
		if code != 2 || !strings.Contains(errOut, "--interval: "+iv+" is not a positive duration") {
			t.Errorf("--interval %s: exit %d, stderr %q; want 2 and the flag named", iv, code, errOut)
		}
	}
}
