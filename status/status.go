package status

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
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
	fmt.Fprintf(tw, "node %s, cluster %s, quorum %s", d.Node, d.Cluster, q)
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
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", in.Name, in.State, master,
				strings.Join(in.VIPs, ","), in.Interface, prio, since(in.Since), in.Reason)
		}
	}
	for _, in := range d.Instances {
		if c := in.Cloud; c != nil {
			fmt.Fprintf(tw, "%s\n", c.line(in.Name))
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
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", name, m.Addr, st, m.Priority, h)
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
	Logger   *slog.Logger
	// Handlers adds more endpoints (control commands) on the same socket.
	Handlers map[string]http.Handler
}

// ErrInUse means another daemon answers on the socket.
var ErrInUse = errors.New("another havip daemon is listening on the status socket")

// Listen creates the socket (mode 0660, its directory 0755 if missing; on
// Windows the socket has the access control list its directory passes
// on, see restrictSocket). A
// stale socket file left by a crashed daemon is replaced; a live one is
// refused with ErrInUse.
func Listen(path string) (net.Listener, error) {
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
	if err := restrictSocket(path); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// Serve answers on l until ctx is done, then removes the socket file.
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
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		<-errc
		os.Remove(s.Socket)
		return nil
	case err := <-errc:
		return fmt.Errorf("status server: %w", err)
	}
}

// Client talks to a daemon's socket.
func Client(socket string) *http.Client {
	return &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", socket)
			},
		},
	}
}

// Fetch reads the status document from the daemon on socket.
func Fetch(ctx context.Context, socket string) (*Document, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://havip"+Path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := Client(socket).Do(req)
	if err != nil {
		return nil, fmt.Errorf("no havip daemon answers on %s: %w", socket, err)
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
