package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/havip/havip/election"
	"github.com/havip/havip/status"
)

// seqs returns the sequence numbers of events.
func seqs(events []status.Event) []uint64 {
	var out []uint64
	for _, e := range events {
		out = append(out, e.Seq)
	}
	return out
}

func span(from, to uint64) []uint64 {
	var out []uint64
	for s := from; s <= to; s++ {
		out = append(out, s)
	}
	return out
}

// TestEventLogBounded keeps the latest events only and says how many a
// cursor missed.
func TestEventLogBounded(t *testing.T) {
	l := newEventLog(10)
	for i := range 13 {
		l.add(status.Event{Kind: status.EventCheck, To: fmt.Sprint(i)})
	}
	tests := []struct {
		cursor uint64
		want   []uint64
		missed uint64
	}{
		{0, span(4, 13), 3},
		{2, span(4, 13), 1},
		{3, span(4, 13), 0},
		{11, span(12, 13), 0},
		{13, nil, 0},
	}
	for _, tt := range tests {
		got, missed, _ := l.after(tt.cursor)
		if diff := cmp.Diff(tt.want, seqs(got)); diff != "" || missed != tt.missed {
			t.Errorf("after %d: missed %d, want %d; sequence numbers (-want +got):\n%s", tt.cursor, missed, tt.missed, diff)
		}
	}
	if got, _, _ := l.after(12); got[0].To != "12" || got[0].At == "" {
		t.Errorf("event 13 is %+v, want the 13th added, with its time", got[0])
	}
}

// serveEvents serves l on a real unix socket, as the daemon does.
func serveEvents(t *testing.T, l *eventLog) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "havip.sock")
	ln, err := status.Listen(sock, -1)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv := &status.Server{Socket: sock, Document: func() status.Document { return status.Document{} },
		Handlers: map[string]http.Handler{status.EventsPath: status.EventsHandler(l.query)}}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		l.close()
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return sock
}

// TestEventsFollowOverSocket follows the log through the socket while
// events are added: with the cursor of each reply, every event arrives
// once, in order, or is counted as missed when the follower fell more
// than the log's size behind.
func TestEventsFollowOverSocket(t *testing.T) {
	l := newEventLog(50)
	sock := serveEvents(t, l)
	const total = 400
	go func() {
		for i := range total {
			l.add(status.Event{Kind: status.EventMember, Member: fmt.Sprint("m", i), To: "alive"})
			if i%7 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	q := status.EventsQuery{Wait: status.MaxEventsWait}
	var got []uint64
	var missed uint64
	for q.After < total {
		r, err := status.FetchEvents(ctx, sock, q)
		if err != nil {
			t.Fatal(err)
		}
		if r.Run != l.run {
			t.Fatalf("run %d, want the log's %d", r.Run, l.run)
		}
		if len(r.Events) == 0 {
			t.Fatalf("a long poll after %d answered with no event", q.After)
		}
		missed += r.Missed
		got = append(got, seqs(r.Events)...)
		q.Run, q.After = r.Run, r.Next
	}
	for i := 1; i < len(got); i++ {
		if got[i] <= got[i-1] {
			t.Fatalf("sequence %d after %d: an event twice or out of order", got[i], got[i-1])
		}
	}
	if uint64(len(got))+missed != total {
		t.Errorf("%d events received and %d missed, want %d in all", len(got), missed, total)
	}
}

// TestEventsLongPoll waits for the next event; a cursor of another run
// reads from the start; a bad cursor is refused.
func TestEventsLongPoll(t *testing.T) {
	l := newEventLog(eventLogSize)
	sock := serveEvents(t, l)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	l.add(status.Event{Kind: status.EventCheck, Check: "interface eth0", To: "ok"})

	got := make(chan *status.EventsReply, 1)
	go func() {
		r, err := status.FetchEvents(ctx, sock, status.EventsQuery{Run: l.run, After: 1, Wait: status.MaxEventsWait})
		if err != nil {
			t.Error(err)
		}
		got <- r
	}()
	eventually(t, "the query waiting", func() bool { return l.waiting() == 1 })
	l.add(status.Event{Kind: status.EventCheck, Check: "interface eth0", From: "ok", To: "failed", Reason: "interface eth0 down"})
	if r := <-got; r == nil || len(r.Events) != 1 || r.Events[0].Seq != 2 || r.Next != 2 {
		t.Errorf("long poll answered %+v, want event 2 alone", r)
	}

	// A restarted daemon's numbering starts again: a cursor of its last
	// run reads the new run's events from the start.
	r, err := status.FetchEvents(ctx, sock, status.EventsQuery{Run: l.run + 1, After: 2})
	if err != nil || len(r.Events) != 2 {
		t.Errorf("cursor of another run: %+v, %v; want both events", r, err)
	}
	// Nothing new and no wait: an empty answer that keeps the cursor.
	r, err = status.FetchEvents(ctx, sock, status.EventsQuery{Run: l.run, After: 2})
	if err != nil || len(r.Events) != 0 || r.Next != 2 || r.Events == nil {
		t.Errorf("nothing new: %+v, %v; want [] and next 2", r, err)
	}
}

func TestMemberEvents(t *testing.T) {
	l := newEventLog(eventLogSize)
	view := l.members(nil, []election.MemberStatus{
		{Name: "a", State: election.MemberAlive, Self: true, Addr: "198.18.0.1:7946"},
	})
	view = l.members(view, []election.MemberStatus{
		{Name: "a", State: election.MemberAlive, Self: true, Addr: "198.18.0.1:7946"},
		{Name: "b", State: election.MemberAlive, Addr: "198.18.0.2:7946"},
		{Name: "c", State: election.MemberAlive, Addr: "198.18.0.3:7946"},
	})
	view = l.members(view, []election.MemberStatus{
		{Name: "a", State: election.MemberAlive, Self: true, Addr: "198.18.0.1:7946", Maintenance: true},
		{Name: "b", State: election.MemberSuspect, Addr: "198.18.0.2:7946"},
		{Name: "c", State: election.MemberAlive, Addr: "198.18.0.3:7946"},
	})
	l.members(view, []election.MemberStatus{
		{Name: "a", State: election.MemberAlive, Self: true, Addr: "198.18.0.1:7946", Maintenance: true},
		{Name: "c", State: election.MemberAlive, Addr: "198.18.0.3:7946"},
	})
	got, _, _ := l.after(0)
	want := []status.Event{
		{Kind: "member", Member: "a", To: "alive", Reason: "at 198.18.0.1:7946"},
		{Kind: "member", Member: "b", To: "alive", Reason: "at 198.18.0.2:7946"},
		{Kind: "member", Member: "c", To: "alive", Reason: "at 198.18.0.3:7946"},
		{Kind: "member", Member: "a", From: "alive", To: "alive,maintenance", Reason: "at 198.18.0.1:7946"},
		{Kind: "member", Member: "b", From: "alive", To: "suspect", Reason: "at 198.18.0.2:7946"},
		{Kind: "member", Member: "b", From: "suspect", To: "gone"},
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(status.Event{}, "Seq", "At")); diff != "" {
		t.Errorf("member events (-want +got):\n%s", diff)
	}
}

// TestCheckAndCloudEvents records what the daemon's observers report:
// a link read (only when it changes), a track script's verdict, the
// cloud runner's results (only when they change).
func TestCheckAndCloudEvents(t *testing.T) {
	l := newEventLog(eventLogSize)
	l.link("eth0", "", false, "")
	l.link("eth0", "", true, "")
	l.link("eth0", "", true, "interface eth0 down")
	l.check("web", "track_script app", false, "exit status 1")
	l.check("web", "track_script app", true, "exit status 0")
	l.transition(election.Transition{Instance: "web", From: election.StateBackup, To: election.StateMaster,
		Master: "a", Reason: "highest priority", At: time.Unix(1700000000, 0)})

	b := &fakeBinder{fail: errors.New("403 Forbidden")}
	h, _, _ := cloudHolder(t, b, 10*time.Millisecond)
	h.cloud.onResult = l.cloudRecorder("web")
	if err := h.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a failed bind", func() bool { return h.cloud.status().Result == "error" })
	// Failing again and again is one event, not one per try.
	eventually(t, "more tries", func() bool { n, _ := b.counts(); return n >= 3 })
	if err := h.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.cloud.wait(5 * time.Second)

	got, _, _ := l.after(0)
	want := []status.Event{
		{Kind: "check", Check: "interface eth0", To: "ok"},
		{Kind: "check", Check: "interface eth0", From: "ok", To: "failed", Reason: "interface eth0 down"},
		{Kind: "check", Instance: "web", Check: "track_script app", From: "ok", To: "failed", Reason: "exit status 1"},
		{Kind: "check", Instance: "web", Check: "track_script app", From: "failed", To: "ok"},
		{Kind: "transition", Instance: "web", From: "BACKUP", To: "MASTER", Master: "a", Reason: "highest priority",
			At: status.FormatTime(time.Unix(1700000000, 0))},
		{Kind: "cloud", Instance: "web", From: "idle", To: "binding"},
		{Kind: "cloud", Instance: "web", From: "binding", To: "error", Reason: "403 Forbidden"},
		{Kind: "cloud", Instance: "web", From: "error", To: "releasing"},
		{Kind: "cloud", Instance: "web", From: "releasing", To: "released"},
	}
	for i := range got {
		// A transition keeps its own time; the others are stamped when
		// recorded.
		if got[i].Kind != status.EventTransition && got[i].At != "" {
			got[i].At = ""
		}
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(status.Event{}, "Seq")); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}
