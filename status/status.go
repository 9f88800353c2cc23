package status

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/havip/havip/internal/httpserve"
)

// Document is what `havip status --json` prints. Field names are a
// contract with operators' tooling: add fields, never rename or drop one.
type Document struct {
	Node        string     `json:"node"`
	Cluster     string     `json:"cluster"`
	Version     string     `json:"version,omitempty"`
	Maintenance bool       `json:"maintenance"`
	Quorum      Quorum     `json:"quorum"`
	Instances   []Instance `json:"instances"`
	Members     []Member   `json:"members"`
}

// Quorum tells how many members this node sees and needs.
type Quorum struct {
	// Mode is "majority" or "off" (auto resolved).
	Mode string `json:"mode"`
	Seen int    `json:"seen"`
	// Needed is 0 when quorum is off.
	Needed int  `json:"needed"`
	OK     bool `json:"ok"`
}

// Instance is this node's view of one instance.
type Instance struct {
	Name      string   `json:"name"`
	State     string   `json:"state"`
	Master    string   `json:"master"`
	VIPs      []string `json:"vips"`
	Since     string   `json:"since"`
	Interface string   `json:"interface"`
	// Priority is the configured one, EffectivePriority what is published.
	Priority          int    `json:"priority"`
	EffectivePriority int    `json:"effective_priority"`
	Preempt           bool   `json:"preempt"`
	Reason            string `json:"reason"`
	// Cloud is the binding through the cloud API; absent with provider
	// none.
	Cloud *Cloud `json:"cloud,omitempty"`
	// Penalty is what failing weighted track scripts take off Priority.
	Penalty int `json:"penalty"`
	// Switchover is the node a switchover in force prefers, if any.
	Switchover string `json:"switchover,omitempty"`
	// LastTransition is this node's last change of state for the
	// instance; nil before the first.
	LastTransition *Transition `json:"last_transition,omitempty"`
	// Checks are the instance's health checks on this node: its
	// interface, the tracked interfaces and the track scripts.
	Checks []Check `json:"checks"`
}

// Cloud is one instance's binding through the cloud API, as this node
// last saw it.
type Cloud struct {
	Provider string `json:"provider"`
	// Mode is exclusive or shared; empty where it does not apply.
	Mode string `json:"mode,omitempty"`
	// Result of the last step: idle, ready (IDs resolved at start),
	// binding, bound, error, releasing, released.
	Result string `json:"result"`
	// Error is the last failure, when Result is error.
	Error string `json:"error,omitempty"`
	// At is when Result was reached.
	At string `json:"at,omitempty"`
	// Bound is whether the cloud forwarded the VIPs to this node at the
	// last successful check.
	Bound bool `json:"bound"`
	// Agrees is whether the cloud's binding matches this node's role;
	// null when unknown (not master, or the last check failed).
	Agrees *bool `json:"agrees"`
	// Moves counts the writes this node made to the binding.
	Moves int64 `json:"moves"`
	// Calls counts the provider's API calls since start (all instances).
	Calls int64 `json:"calls"`
}

// Transition is one change of an instance's state on this node.
type Transition struct {
	From   string `json:"from"`
	To     string `json:"to"`
	Reason string `json:"reason"`
	At     string `json:"at"`
}

// Check is one health check and its last result.
type Check struct {
	// Type is "interface", "track_interface" or "track_script".
	Type string `json:"type"`
	// Name is the interface or the script's name.
	Name    string `json:"name"`
	Healthy bool   `json:"healthy"`
	// Detail says why a check is not healthy, or how the last run went.
	Detail string `json:"detail,omitempty"`
	// Weight is a track script's weight (0: a failure means FAULT).
	Weight int `json:"weight"`
	// Since is when the check last changed between healthy and failed.
	Since string `json:"since,omitempty"`
	// Track scripts only: runs so far, the last run's time, duration in
	// seconds and exit status (-1: killed or not started), and the
	// results in a row.
	Runs         int     `json:"runs,omitempty"`
	LastRun      string  `json:"last_run,omitempty"`
	LastDuration float64 `json:"last_duration,omitempty"`
	LastExit     *int    `json:"last_exit,omitempty"`
	Successes    int     `json:"successes,omitempty"`
	Failures     int     `json:"failures,omitempty"`
}

// Member is one member of the cluster as this node sees it.
type Member struct {
	Name  string `json:"name"`
	Addr  string `json:"addr"`
	State string `json:"state"`
	// Priority is the member's highest effective priority.
	Priority    int              `json:"priority"`
	Self        bool             `json:"self,omitempty"`
	Maintenance bool             `json:"maintenance"`
	Instances   []MemberInstance `json:"instances"`
}

// MemberInstance is what a member publishes for one instance.
type MemberInstance struct {
	Name     string `json:"name"`
	Priority int    `json:"priority"`
	Holding  bool   `json:"holding"`
}

// FormatTime formats a time the way the document carries it.
func FormatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// WriteTable prints the document for people.
func (d *Document) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	q := "off"
	if d.Quorum.Needed > 0 {
		q = fmt.Sprintf("%d/%d seen", d.Quorum.Seen, d.Quorum.Needed)
		if !d.Quorum.OK {
			q += " (LOST)"
		}
	}
	fmt.Fprintf(tw, "node %s, cluster %s, quorum %s", printable(d.Node), printable(d.Cluster), q)
	if d.Maintenance {
		fmt.Fprint(tw, ", MAINTENANCE")
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw)
	if len(d.Instances) == 0 {
		fmt.Fprintln(tw, "no instances (witness)")
	} else {
		fmt.Fprintln(tw, "INSTANCE\tSTATE\tMASTER\tVIPS\tINTERFACE\tPRIO\tSINCE\tREASON")
		for _, in := range d.Instances {
			prio := fmt.Sprint(in.Priority)
			if in.EffectivePriority != in.Priority {
				prio = fmt.Sprintf("%d (eff %d)", in.Priority, in.EffectivePriority)
			}
			master := in.Master
			if master == "" {
				master = "-"
			}
			reason := in.Reason
			if in.Switchover != "" {
				reason = strings.TrimPrefix(reason+"; switchover to "+in.Switchover, "; ")
			}
			row(tw, in.Name, in.State, master, strings.Join(in.VIPs, ","), in.Interface, prio, since(in.Since), reason)
		}
		writeHealth(tw, d.Instances)
	}
	first := true
	for _, in := range d.Instances {
		if c := in.Cloud; c != nil {
			if first {
				fmt.Fprintln(tw)
				first = false
			}
			row(tw, c.line(in.Name))
		}
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "MEMBER\tADDR\tSTATE\tPRIO\tHOLDS")
	members := append([]Member(nil), d.Members...)
	sort.SliceStable(members, func(i, j int) bool { return members[i].Self && !members[j].Self })
	for _, m := range members {
		name := m.Name
		if m.Self {
			name += " (this node)"
		}
		var holds []string
		for _, mi := range m.Instances {
			if mi.Holding {
				holds = append(holds, mi.Name)
			}
		}
		h := strings.Join(holds, ",")
		if h == "" {
			h = "-"
		}
		st := m.State
		if m.Maintenance {
			st += ",maintenance"
		}
		row(tw, name, m.Addr, st, fmt.Sprint(m.Priority), h)
	}
	return tw.Flush()
}

// line describes the binding in one line of the table.
func (c *Cloud) line(instance string) string {
	b := "cloud " + instance + ": " + c.Provider
	if c.Mode != "" {
		b += " " + c.Mode
	}
	b += ", " + c.Result
	switch {
	case c.Agrees == nil:
		b += ", agreement unknown"
	case *c.Agrees:
		b += ", cloud agrees"
	default:
		b += ", CLOUD DISAGREES"
	}
	if c.At != "" {
		b += " at " + since(c.At)
	}
	b += fmt.Sprintf(", %d moves, %d calls", c.Moves, c.Calls)
	if c.Error != "" {
		b += ": " + c.Error
	}
	return b
}

// writeHealth prints the last transition and the checks of every
// instance.
func writeHealth(tw io.Writer, instances []Instance) {
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "INSTANCE\tLAST TRANSITION\tAT\tREASON")
	for _, in := range instances {
		if t := in.LastTransition; t != nil {
			row(tw, in.Name, t.From+" -> "+t.To, since(t.At), t.Reason)
		} else {
			row(tw, in.Name, "-", "-", "-")
		}
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "INSTANCE\tCHECK\tRESULT\tON FAILURE\tDETAIL")
	for _, in := range instances {
		for _, c := range in.Checks {
			res := "ok"
			if !c.Healthy {
				res = "FAILED"
			}
			effect := "FAULT"
			if c.Weight > 0 {
				effect = fmt.Sprintf("priority -%d", c.Weight)
			}
			detail := c.Detail
			if c.Type == "track_script" && c.Runs > 0 {
				detail = strings.TrimSpace(fmt.Sprintf("%s (%d ok / %d failed in a row, last run %.3fs)", detail, c.Successes, c.Failures, c.LastDuration))
			}
			weight := effect
			row(tw, in.Name, c.Type+" "+c.Name, res, weight, detail)
		}
	}
}

// row prints one row of a table, each cell made printable.
func row(tw io.Writer, cells ...string) {
	for i, c := range cells {
		cells[i] = printable(c)
	}
	fmt.Fprintln(tw, strings.Join(cells, "\t"))
}

// printable makes a name or a message that may come from another member
// safe to print on a terminal and in a table: invalid UTF-8 becomes
// U+FFFD, and control and formatting characters (terminal escapes,
// tabs, newlines, bidirectional overrides) are written as \u{…}
// escapes. Plain text is returned as it is.
func printable(s string) string {
	if !strings.ContainsFunc(s, unprintable) && utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		if unprintable(r) {
			fmt.Fprintf(&b, "\\u{%x}", r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func unprintable(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Cf, r)
}

func since(s string) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return s
	}
	return t.Local().Format("15:04:05") + " (" + time.Since(t).Truncate(time.Second).String() + " ago)"
}

// Path of the status document on the socket.
const Path = "/v1/status"

// Server serves the status document on a unix socket.
type Server struct {
	Socket   string
	Document func() Document
	// Logger gets the HTTP server's own error messages; nil discards
	// them.
	Logger *slog.Logger
	// Handlers adds more endpoints (control commands) on the same socket.
	Handlers map[string]http.Handler
}

// ErrInUse means another daemon answers on the socket.
var ErrInUse = errors.New("another havip daemon is listening on the status socket")

// Listen creates the socket (mode 0660, its directory 0755 if missing; on
// Windows the socket has the access control list its directory passes
// on, see restrictSocket). gid, unless negative, is the socket's group:
// its members may use it as root does. A stale socket file left by a
// crashed daemon is replaced; a live one is refused with ErrInUse.
func Listen(path string, gid int) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("creating directory for status socket %s: %w", path, err)
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("status socket %s exists and is not a socket", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("%s: %w", path, ErrInUse)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("removing stale status socket %s: %w", path, err)
		}
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listening on status socket %s: %w", path, err)
	}
	if err := restrictSocket(path, gid); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// Serve answers on l until ctx is done, then removes the socket file. It
// is the status socket's task in the daemon: a cancelled context is a
// clean stop.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+Path, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(s.Document())
	})
	for p, h := range s.Handlers {
		mux.Handle(p, h)
	}
	if err := httpserve.Serve(ctx, l, mux, httpserve.WithLogger(s.Logger)); err != nil {
		return fmt.Errorf("status server: %w", err)
	}
	os.Remove(s.Socket)
	return nil
}

// Client talks to a daemon's socket. Each request has a connection of
// its own, closed after it: a client that asks again and again (`havip
// status --watch`, `havip events --follow`) holds none of the daemon's
// few connections between requests.
func Client(socket string) *http.Client {
	return &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{
			DisableKeepAlives: true,
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", socket)
			},
		},
	}
}

// dialError says why the daemon on socket could not be reached. A
// socket this user may not open is not a daemon that is down: it says
// who may use it.
func dialError(socket string, err error) error {
	if errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("permission denied on %s: %s", socket, whoMayConnect(socket))
	}
	return fmt.Errorf("no havip daemon answers on %s: %w", socket, err)
}

// Fetch reads the status document from the daemon on socket.
func Fetch(ctx context.Context, socket string) (*Document, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://havip"+Path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := Client(socket).Do(req)
	if err != nil {
		return nil, dialError(socket, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("status from %s: %s: %s", socket, resp.Status, strings.TrimSpace(string(b)))
	}
	var d Document
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		return nil, fmt.Errorf("decoding status from %s: %w", socket, err)
	}
	return &d, nil
}

// Control endpoints on the socket.
const (
	MaintenancePath = "/v1/maintenance"
	SwitchoverPath  = "/v1/switchover"
	ReloadPath      = "/v1/reload"
	// EventsPath serves the daemon's recent events (GET, see
	// EventsQuery).
	EventsPath = "/v1/events"
)

// MaintenanceRequest turns maintenance on or off.
type MaintenanceRequest struct {
	On bool `json:"on"`
}

// MaintenanceReply says what the node does now.
type MaintenanceReply struct {
	Maintenance bool `json:"maintenance"`
	// StateFile is where the setting is kept across restarts.
	StateFile string `json:"state_file"`
}

// SwitchoverRequest moves an instance; empty fields mean "the only
// instance" and "the best other node".
type SwitchoverRequest struct {
	Instance string `json:"instance,omitempty"`
	To       string `json:"to,omitempty"`
}

// SwitchoverReply names the instance and the node it moves to.
type SwitchoverReply struct {
	Instance string `json:"instance"`
	To       string `json:"to"`
}

// ReloadReply says what a reload did.
type ReloadReply struct {
	// Changed, Added and Removed name instances.
	Changed []string `json:"changed"`
	Added   []string `json:"added"`
	Removed []string `json:"removed"`
	// NeedRestart lists the settings that changed in the file but only
	// take effect after a restart.
	NeedRestart []string `json:"need_restart"`
}

// ErrorReply is the body of a refused control request.
type ErrorReply struct {
	Error string `json:"error"`
}

// RequestError is a control request the daemon refused.
type RequestError struct {
	// Code is the HTTP status: 400 for a request that cannot be
	// understood, 404 for an unknown instance, 409 when the cluster
	// cannot do it now, 500 for a failure of the daemon.
	Code int
	Msg  string
}

func (e *RequestError) Error() string { return e.Msg }

// Post sends a control request to the daemon on socket and decodes its
// reply into reply.
func Post(ctx context.Context, socket, path string, req, reply any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://havip"+path, strings.NewReader(string(body)))
	if err != nil {
		return err
	}
	hreq.Header.Set("Content-Type", "application/json")
	resp, err := Client(socket).Do(hreq)
	if err != nil {
		return dialError(socket, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("reading the reply from %s: %w", socket, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e ErrorReply
		if json.Unmarshal(data, &e) != nil || e.Error == "" {
			e.Error = fmt.Sprintf("%s: %s", resp.Status, strings.TrimSpace(string(data)))
		}
		return &RequestError{Code: resp.StatusCode, Msg: e.Error}
	}
	if reply == nil {
		return nil
	}
	if err := json.Unmarshal(data, reply); err != nil {
		return fmt.Errorf("decoding the reply from %s: %w", socket, err)
	}
	return nil
}

// Handle returns a POST handler that decodes a request of type Req, calls
// f and encodes its reply; a *RequestError from f sets the status.
func Handle[Req any, Reply any](f func(context.Context, Req) (Reply, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fail := func(code int, msg string) { writeError(w, code, msg) }
		if r.Method != http.MethodPost {
			fail(http.StatusMethodNotAllowed, "use POST")
			return
		}
		var req Req
		dec := json.NewDecoder(io.LimitReader(r.Body, 1<<16))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil && !errors.Is(err, io.EOF) {
			fail(http.StatusBadRequest, "bad request: "+err.Error())
			return
		}
		reply, err := f(r.Context(), req)
		if err != nil {
			var re *RequestError
			if errors.As(err, &re) {
				fail(re.Code, re.Msg)
			} else {
				fail(http.StatusInternalServerError, err.Error())
			}
			return
		}
		_ = json.NewEncoder(w).Encode(reply)
	})
}
