package status

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Kinds of events.
const (
	// EventTransition is an instance's change of state on this node.
	EventTransition = "transition"
	// EventMember is a member's change of state as this node sees it
	// (maintenance included, as in the status table: "alive,maintenance").
	EventMember = "member"
	// EventCheck is a health check's new verdict: "ok" or "failed".
	EventCheck = "check"
	// EventCloud is a new result of an instance's cloud binding (see
	// Cloud.Result).
	EventCloud = "cloud"
)

// Event is one thing that happened on this node, as `havip events`
// prints it. Field names are a contract, as the document's are: add
// fields, never rename or drop one.
type Event struct {
	// Seq numbers the events of one run of the daemon from 1, without
	// gaps.
	Seq uint64 `json:"seq"`
	// At is when it happened (RFC 3339).
	At   string `json:"at"`
	Kind string `json:"kind"`
	// Instance is the instance a transition, a check or a cloud result
	// is about; empty for a check of an interface that several
	// instances share, and for members.
	Instance string `json:"instance,omitempty"`
	// Member names the member of a member event.
	Member string `json:"member,omitempty"`
	// Check names the check of a check event: its type and name
	// ("track_script app", "interface eth0").
	Check string `json:"check,omitempty"`
	// From and To are the states, verdicts or results before and after;
	// From is empty for the first one seen.
	From string `json:"from,omitempty"`
	To   string `json:"to"`
	// Master is the master a transition names.
	Master string `json:"master,omitempty"`
	// Reason says why, where the daemon knows.
	Reason string `json:"reason,omitempty"`
}

// EventsQuery asks the daemon for its events after a cursor.
type EventsQuery struct {
	// Run is the run of the daemon the cursor belongs to (an earlier
	// reply's Run); 0, or another run's, reads from the start of the
	// log.
	Run uint64
	// After is the cursor: the sequence number of the last event seen.
	After uint64
	// Wait, when no event follows After, is how long the daemon waits
	// for one before it answers with none (a long poll). At most
	// MaxEventsWait.
	Wait time.Duration
}

// MaxEventsWait bounds EventsQuery.Wait, below the socket server's
// write timeout.
const MaxEventsWait = 20 * time.Second

// EventsReply is the daemon's answer on EventsPath.
type EventsReply struct {
	// Run identifies this run of the daemon: sequence numbers start
	// again at 1 with each run.
	Run uint64 `json:"run"`
	// Events follow the cursor, oldest first.
	Events []Event `json:"events"`
	// Next is the cursor of the next query: the last event's sequence
	// number, or the cursor asked when there is none.
	Next uint64 `json:"next"`
	// Missed counts the events after the cursor that the log, which
	// keeps only the latest ones, no longer holds.
	Missed uint64 `json:"missed"`
}

// values encodes the query for the URL.
func (q EventsQuery) values() url.Values {
	v := url.Values{}
	v.Set("run", strconv.FormatUint(q.Run, 10))
	v.Set("after", strconv.FormatUint(q.After, 10))
	if q.Wait > 0 {
		v.Set("wait", q.Wait.String())
	}
	return v
}

// parseEventsQuery reads a query from the URL's parameters.
func parseEventsQuery(v url.Values) (EventsQuery, error) {
	var q EventsQuery
	var err error
	seq := func(key string) uint64 {
		s := v.Get(key)
		if s == "" || err != nil {
			return 0
		}
		n, perr := strconv.ParseUint(s, 10, 64)
		if perr != nil {
			err = fmt.Errorf("%s: %q is not a sequence number", key, s)
		}
		return n
	}
	q.Run, q.After = seq("run"), seq("after")
	if err != nil {
		return q, err
	}
	if s := v.Get("wait"); s != "" {
		d, perr := time.ParseDuration(s)
		if perr != nil || d < 0 {
			return q, fmt.Errorf("wait: %q is not a duration such as 10s", s)
		}
		q.Wait = min(d, MaxEventsWait)
	}
	return q, nil
}

// EventsHandler serves GET EventsPath with events, which answers a query
// (waiting as it asks, until ctx ends).
func EventsHandler(events func(ctx context.Context, q EventsQuery) EventsReply) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method != http.MethodGet {
			writeError(w, http.StatusMethodNotAllowed, "use GET")
			return
		}
		q, err := parseEventsQuery(r.URL.Query())
		if err != nil {
			writeError(w, http.StatusBadRequest, "bad request: "+err.Error())
			return
		}
		_ = json.NewEncoder(w).Encode(events(r.Context(), q))
	})
}

// writeError answers a request the socket refuses: the status code and
// an ErrorReply.
func writeError(w http.ResponseWriter, code int, msg string) {
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(ErrorReply{Error: msg})
}

// FetchEvents reads the events after q's cursor from the daemon on
// socket, waiting up to q.Wait for one.
func FetchEvents(ctx context.Context, socket string, q EventsQuery) (*EventsReply, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://havip"+EventsPath+"?"+q.values().Encode(), nil)
	if err != nil {
		return nil, err
	}
	c := Client(socket)
	c.Timeout += min(q.Wait, MaxEventsWait)
	resp, err := c.Do(req)
	if err != nil {
		return nil, dialError(socket, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e ErrorReply
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		if json.Unmarshal(b, &e) != nil || e.Error == "" {
			e.Error = resp.Status + ": " + strings.TrimSpace(string(b))
		}
		return nil, &RequestError{Code: resp.StatusCode, Msg: fmt.Sprintf("events from %s: %s", socket, e.Error)}
	}
	var reply EventsReply
	if err := json.NewDecoder(resp.Body).Decode(&reply); err != nil {
		return nil, fmt.Errorf("decoding events from %s: %w", socket, err)
	}
	return &reply, nil
}

// WriteEvent prints one event on a line for people: local time, kind,
// what it is about, the change and the reason.
func WriteEvent(w io.Writer, e Event) error {
	at := e.At
	if t, err := time.Parse(time.RFC3339Nano, e.At); err == nil {
		at = t.Local().Format("2006-01-02 15:04:05.000")
	}
	change := e.To
	if e.From != "" {
		change = e.From + " -> " + e.To
	}
	var subject string
	switch e.Kind {
	case EventMember:
		subject = "member " + e.Member
	case EventCheck:
		subject = strings.TrimSpace(e.Instance + " " + e.Check)
	default:
		subject = e.Instance
	}
	line := fmt.Sprintf("%s  %-10s  %s: %s", at, e.Kind, subject, change)
	if e.Master != "" {
		line += " (master " + e.Master + ")"
	}
	if e.Reason != "" {
		line += ": " + e.Reason
	}
	_, err := fmt.Fprintln(w, printable(line))
	return err
}
