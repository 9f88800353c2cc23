package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/havip/havip/status"
)

// followWait is how long one query of `havip events --follow` waits for
// the next event; followRetry how long it waits before asking again a
// daemon that did not answer.
var (
	followWait  = 10 * time.Second
	followRetry = time.Second
)

// interrupted returns a context that ends on Ctrl-C (SIGINT) or
// SIGTERM: what ends `havip events --follow` and `havip status --watch`,
// with success.
func interrupted() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

func cmdEvents(args []string, stdout, stderr io.Writer) int {
	fs := flags("events", stderr)
	follow := fs.BoolP("follow", "f", false, "keep printing events as they happen, until interrupted")
	asJSON := fs.Bool("json", false, "print each event as a JSON object on a line of its own")
	path, sock := socketFlags(fs)
	if !parse(fs, args, 0, stderr) {
		return exitUsage
	}
	socket := resolveSocket("events", *path, *sock, stderr)
	ctx, stop := interrupted()
	defer stop()
	p := eventPrinter{stdout: stdout, stderr: stderr, json: *asJSON}
	reply, err := fetchEvents(ctx, socket, status.EventsQuery{})
	if err != nil {
		fmt.Fprintf(stderr, "havip events: %v\n", err)
		return exitRuntime
	}
	if err := p.print(reply); err != nil {
		return exitRuntime
	}
	if !*follow {
		return exitOK
	}
	return followEvents(ctx, socket, reply, p)
}

// fetchEvents asks the daemon once, for at most q.Wait and a little.
func fetchEvents(ctx context.Context, socket string, q status.EventsQuery) (*status.EventsReply, error) {
	ctx, cancel := context.WithTimeout(ctx, q.Wait+5*time.Second)
	defer cancel()
	return status.FetchEvents(ctx, socket, q)
}

// followEvents prints the events that follow last until ctx ends (exit
// 0). Each query carries the cursor of the last event printed, so no
// event is printed twice; the daemon's reply counts those its log no
// longer held. While the daemon does not answer (a restart, say) it
// tries again every followRetry; a restarted daemon's events are
// printed from the start of its log.
func followEvents(ctx context.Context, socket string, last *status.EventsReply, p eventPrinter) int {
	q := status.EventsQuery{Run: last.Run, After: last.Next, Wait: followWait}
	down := false
	for ctx.Err() == nil {
		reply, err := fetchEvents(ctx, socket, q)
		var re *status.RequestError
		switch {
		case ctx.Err() != nil:
		case errors.As(err, &re):
			fmt.Fprintf(p.stderr, "havip events: %v\n", err)
			return exitRuntime
		case err != nil:
			if !down {
				fmt.Fprintf(p.stderr, "havip events: %v; trying again every %s\n", err, followRetry)
				down = true
			}
			sleep(ctx, followRetry)
		default:
			if reply.Run != q.Run {
				fmt.Fprintln(p.stderr, "havip events: the daemon restarted; the events of its new run follow")
			} else if down {
				fmt.Fprintln(p.stderr, "havip events: the daemon answers again")
			}
			down = false
			if err := p.print(reply); err != nil {
				return exitRuntime
			}
			q.Run, q.After = reply.Run, reply.Next
		}
	}
	return exitOK
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// eventPrinter prints events as lines for people or as JSON lines, and
// says on stderr how many the daemon's log no longer held.
type eventPrinter struct {
	stdout, stderr io.Writer
	json           bool
}

func (p eventPrinter) print(r *status.EventsReply) error {
	if r.Missed > 0 {
		fmt.Fprintf(p.stderr, "havip events: %d earlier events are no longer kept (the daemon keeps the latest ones only)\n", r.Missed)
	}
	enc := json.NewEncoder(p.stdout)
	for _, e := range r.Events {
		var err error
		if p.json {
			err = enc.Encode(e)
		} else {
			err = status.WriteEvent(p.stdout, e)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
