package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/havip/havip/status"
)

// Terminal control of `havip status --watch`: cursor home, clear to the
// end of the line, clear to the end of the screen, clear the screen.
const (
	ansiHome      = "\x1b[H"
	ansiClearLine = "\x1b[K"
	ansiClearDown = "\x1b[J"
	ansiClear     = "\x1b[2J"
)

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// watcher is `havip status --watch`: it prints the status every
// interval, like watch(1) would. On a terminal each frame replaces the
// last in place; elsewhere (a pipe, a file) the frames follow each
// other, each under a header line, or as one JSON document a line.
type watcher struct {
	socket   string
	interval time.Duration
	json     bool
	tty      bool
	stdout   io.Writer
	stderr   io.Writer
}

// run prints a frame every interval until ctx ends (Ctrl-C): a success,
// whether or not the daemon answered.
func (w watcher) run(ctx context.Context) int {
	t := time.NewTicker(w.interval)
	defer t.Stop()
	for first := true; ; first = false {
		if err := w.frame(ctx, first); err != nil && ctx.Err() == nil {
			return exitRuntime
		}
		select {
		case <-ctx.Done():
			if w.tty {
				fmt.Fprintln(w.stdout)
			}
			return exitOK
		case <-t.C:
		}
	}
}

// frame fetches the status and prints it; only a failure to write is
// returned. A daemon that does not answer is shown in the frame on a
// terminal, and said on stderr elsewhere.
func (w watcher) frame(ctx context.Context, first bool) error {
	fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	doc, err := status.Fetch(fctx, w.socket)
	if ctx.Err() != nil {
		return nil
	}
	now := time.Now().Format("2006-01-02 15:04:05")
	var body bytes.Buffer
	switch {
	case err != nil && !w.tty:
		fmt.Fprintf(w.stderr, "%s havip status: %v\n", now, err)
		return nil
	case err != nil:
		fmt.Fprintf(&body, "havip status: %v\n", err)
	case w.json && !w.tty:
		// One document a line, for a reader of the stream.
		return json.NewEncoder(w.stdout).Encode(doc)
	case w.json:
		enc := json.NewEncoder(&body)
		enc.SetIndent("", "  ")
		_ = enc.Encode(doc)
	default:
		_ = doc.WriteTable(&body)
	}
	header := fmt.Sprintf("Every %s: havip status on %s    %s\n\n", w.interval, w.socket, now)
	if !w.tty {
		_, err := io.WriteString(w.stdout, header+body.String()+"\n")
		return err
	}
	return w.redraw(first, header+body.String())
}

// redraw replaces the terminal's screen with text in one write: the
// cursor goes home, each line clears what the last frame left on it,
// and what is below the text is cleared.
func (w watcher) redraw(first bool, text string) error {
	var b strings.Builder
	if first {
		b.WriteString(ansiHome + ansiClear)
	}
	b.WriteString(ansiHome)
	for line := range strings.Lines(text) {
		b.WriteString(strings.TrimSuffix(line, "\n") + ansiClearLine + "\n")
	}
	b.WriteString(ansiClearDown)
	_, err := io.WriteString(w.stdout, b.String())
	return err
}
