package status

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestEventsQueryParse(t *testing.T) {
	tests := []struct {
		query string
		want  EventsQuery
		err   string
	}{
		{"", EventsQuery{}, ""},
		{"run=7&after=42&wait=10s", EventsQuery{Run: 7, After: 42, Wait: 10 * time.Second}, ""},
		{"after=3&wait=1h", EventsQuery{After: 3, Wait: MaxEventsWait}, ""},
		{"after=-1", EventsQuery{}, `after: "-1" is not a sequence number`},
		{"run=x", EventsQuery{}, `run: "x" is not a sequence number`},
		{"wait=soon", EventsQuery{}, `wait: "soon" is not a duration such as 10s`},
		{"wait=-1s", EventsQuery{}, `wait: "-1s" is not a duration`},
	}
	for _, tt := range tests {
		v, err := url.ParseQuery(tt.query)
		if err != nil {
			t.Fatal(err)
		}
		got, err := parseEventsQuery(v)
		switch {
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%q: error %v, want %q", tt.query, err, tt.err)
		case tt.err == "" && err != nil:
			t.Errorf("%q: %v", tt.query, err)
		case tt.err == "" && got != tt.want:
			t.Errorf("%q: %+v, want %+v", tt.query, got, tt.want)
		}
	}
	// What the client sends is what the server reads.
	q := EventsQuery{Run: 1700000000000, After: 9, Wait: 1500 * time.Millisecond}
	if got, err := parseEventsQuery(q.values()); err != nil || got != q {
		t.Errorf("round trip of %+v: %+v, %v", q, got, err)
	}
}

// TestEventsEndpoint serves events on a real socket: the query reaches
// the daemon's function as sent, each request closes its connection,
// and requests that are not understood are refused.
func TestEventsEndpoint(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "havip.sock")
	l, err := Listen(sock, -1)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var asked []EventsQuery
	var keptOpen int
	events := EventsHandler(func(_ context.Context, q EventsQuery) EventsReply {
		mu.Lock()
		defer mu.Unlock()
		asked = append(asked, q)
		return EventsReply{Run: 5, Events: []Event{{Seq: q.After + 1, Kind: EventCheck, To: "ok"}}, Next: q.After + 1}
	})
	srv := &Server{Socket: sock, Document: sample, Handlers: map[string]http.Handler{
		EventsPath: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !r.Close {
				mu.Lock()
				keptOpen++
				mu.Unlock()
			}
			events.ServeHTTP(w, r)
		}),
	}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, l) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()

	rctx, rcancel := context.WithTimeout(context.Background(), time.Minute)
	defer rcancel()
	for i := range 20 {
		r, err := FetchEvents(rctx, sock, EventsQuery{Run: 5, After: uint64(i), Wait: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Events) != 1 || r.Next != uint64(i+1) {
			t.Fatalf("reply %+v", r)
		}
	}
	mu.Lock()
	if asked[3] != (EventsQuery{Run: 5, After: 3, Wait: time.Second}) {
		t.Errorf("the daemon was asked %+v, want run 5 after 3 for 1s", asked[3])
	}
	if keptOpen > 0 {
		t.Errorf("%d requests kept their connection open: a follower would hold the daemon's few connections", keptOpen)
	}
	mu.Unlock()

	for _, tt := range []struct {
		method, query string
		code          int
	}{
		{http.MethodGet, "after=x", http.StatusBadRequest},
		{http.MethodPost, "", http.StatusMethodNotAllowed},
	} {
		req, _ := http.NewRequestWithContext(rctx, tt.method, "http://havip"+EventsPath+"?"+tt.query, nil)
		resp, err := Client(sock).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.code {
			t.Errorf("%s ?%s: %s, want %d", tt.method, tt.query, resp.Status, tt.code)
		}
	}
}

func TestWriteEvent(t *testing.T) {
	at := FormatTime(time.Date(2025, 5, 1, 12, 0, 0, 250e6, time.Local))
	tests := []struct {
		e    Event
		want string
	}{
		{Event{At: at, Kind: EventTransition, Instance: "web", From: "BACKUP", To: "MASTER", Master: "a", Reason: "master b left"},
			"2025-05-01 12:00:00.250  transition  web: BACKUP -> MASTER (master a): master b left"},
		{Event{At: at, Kind: EventMember, Member: "b", To: "alive", Reason: "at 198.18.0.2:7946"},
			"2025-05-01 12:00:00.250  member      member b: alive: at 198.18.0.2:7946"},
		{Event{At: at, Kind: EventCheck, Instance: "web", Check: "track_script app", From: "ok", To: "failed", Reason: "exit status 1"},
			"2025-05-01 12:00:00.250  check       web track_script app: ok -> failed: exit status 1"},
		{Event{At: at, Kind: EventCheck, Check: "interface eth0", From: "failed", To: "ok"},
			"2025-05-01 12:00:00.250  check       interface eth0: failed -> ok"},
		{Event{At: at, Kind: EventCloud, Instance: "web", From: "binding", To: "error", Reason: "403\x1b[31m"},
			"2025-05-01 12:00:00.250  cloud       web: binding -> error: 403\\u{1b}[31m"},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		if err := WriteEvent(&b, tt.e); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.want+"\n", b.String()); diff != "" {
			t.Errorf("%s event (-want +got):\n%s", tt.e.Kind, diff)
		}
	}
}
