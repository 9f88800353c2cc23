package keepalived

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/havip/havip/config"
)

// Result is the havip configuration a conversion produced, with the
// keys it sets (the others keep havip's defaults), and its report.
type Result struct {
	// Source is the keepalived configuration converted.
	Source    string
	Node      NodeKeys
	Cluster   ClusterKeys
	Instances []Instance
	// Report lists, in the order of the keepalived configuration, what
	// was not carried over, what behaves differently and what to do.
	Report Report
}

// NodeKeys are the [node] keys the conversion sets.
type NodeKeys struct {
	Name string `toml:"name,omitempty"`
	Bind string `toml:"bind,omitempty"`
}

// ClusterKeys are the [cluster] keys the conversion sets.
type ClusterKeys struct {
	Name          string   `toml:"name"`
	Peers         []string `toml:"peers"`
	SecretKeyFile string   `toml:"secret_key_file"`
	Timing        string   `toml:"timing"`
}

// Instance is one [[instance]].
type Instance struct {
	Name             string        `toml:"name"`
	Interface        string        `toml:"interface"`
	VIPs             []VIPEntry    `toml:"vips"`
	Priority         int           `toml:"priority"`
	Preempt          bool          `toml:"preempt"`
	PreemptDelay     string        `toml:"preempt_delay,omitempty"`
	AnnounceCount    int           `toml:"announce_count,omitzero"`
	AnnounceInterval string        `toml:"announce_interval,omitempty"`
	AnnounceRefresh  string        `toml:"announce_refresh,omitempty"`
	TrackInterfaces  []Tracked     `toml:"track_interfaces,omitempty"`
	TrackScripts     []TrackScript `toml:"track_script,omitempty"`
	Notify           *Notify       `toml:"notify,omitempty"`
	// From says where in the keepalived configuration it comes from.
	From string `toml:"-"`
}

// VIPEntry is one item of vips: the address (with its prefix length when it
// has one), written as a string, or as a table when it has an interface
// or a label of its own.
type VIPEntry struct {
	Address   string
	Interface string
	Label     string
}

// MarshalTOML writes the VIP as havip reads it.
func (v VIPEntry) MarshalTOML() ([]byte, error) {
	return inlineItem([][2]string{{"address", tomlQuote(v.Address)}, {"interface", tomlQuote(v.Interface)}, {"label", tomlQuote(v.Label)}}), nil
}

// Tracked is one item of track_interfaces: the interface, written as a
// string, or as a table when it has a weight.
type Tracked struct {
	Interface string
	Weight    int
}

// MarshalTOML writes the tracked interface as havip reads it.
func (t Tracked) MarshalTOML() ([]byte, error) {
	w := ""
	if t.Weight != 0 {
		w = strconv.Itoa(t.Weight)
	}
	return inlineItem([][2]string{{"interface", tomlQuote(t.Interface)}, {"weight", w}}), nil
}

// inlineItem writes the first value alone when the others are empty,
// and an inline table of the values that are not otherwise.
func inlineItem(kv [][2]string) []byte {
	var set []string
	for i, p := range kv {
		if i == 0 || p[1] != "" && p[1] != `""` {
			set = append(set, p[0]+" = "+p[1])
		}
	}
	if len(set) == 1 {
		return []byte(kv[0][1])
	}
	return []byte("{ " + strings.Join(set, ", ") + " }")
}

// tomlQuote writes s as a TOML string, as the encoder writes one.
func tomlQuote(s string) string {
	b, err := toml.Marshal(struct {
		V string `toml:"v"`
	}{s})
	if err != nil {
		return strconv.Quote(s) // a string always encodes
	}
	return strings.TrimSpace(strings.TrimPrefix(string(b), "v = "))
}

// TrackScript is one [[instance.track_script]].
type TrackScript struct {
	Name     string   `toml:"name"`
	Command  []string `toml:"command"`
	Interval string   `toml:"interval"`
	Timeout  string   `toml:"timeout"`
	Rise     int      `toml:"rise"`
	Fall     int      `toml:"fall"`
	Weight   int      `toml:"weight"`
	User     string   `toml:"user,omitempty"`
	Group    string   `toml:"group,omitempty"`
}

// Notify is an [instance.notify] table.
type Notify struct {
	Master Hook   `toml:"master,omitempty"`
	Backup Hook   `toml:"backup,omitempty"`
	Fault  Hook   `toml:"fault,omitempty"`
	Stop   Hook   `toml:"stop,omitempty"`
	Any    Hook   `toml:"any,omitempty"`
	User   string `toml:"user,omitempty"`
	Group  string `toml:"group,omitempty"`
}

// Hook is one notify command: its argv, written as a list, or as a
// table { command = [...], user = "...", group = "..." } when it runs
// as a user of its own, not the table's.
type Hook struct {
	Command []string
	// User and Group are the command's own; "" when it runs as the
	// table's user.
	User, Group string
}

// MarshalTOML writes the command as havip reads it.
func (h Hook) MarshalTOML() ([]byte, error) {
	return inlineItem([][2]string{{"command", tomlArgv(h.Command)}, {"user", tomlQuote(h.User)}, {"group", tomlQuote(h.Group)}}), nil
}

func (h Hook) equal(o Hook) bool {
	return slices.Equal(h.Command, o.Command) && h.User == o.User && h.Group == o.Group
}

// TOML renders the configuration, with comments saying where each part
// comes from.
func (r *Result) TOML() ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# havip configuration converted from %s by `havip import keepalived`.\n", r.Source)
	b.WriteString("# Read the report the conversion printed (what was not carried over and\n")
	b.WriteString("# what behaves differently), then check this file with `havip check`.\n\n")
	sections := []struct {
		comment string
		value   any
	}{
		{"", struct {
			Node NodeKeys `toml:"node"`
		}{r.Node}},
		{"# The key must be the same file on every member: create it once with\n" +
			"# `havip init --no-config --secret-key-file " + r.Cluster.SecretKeyFile + "` and copy it.\n",
			struct {
				Cluster ClusterKeys `toml:"cluster"`
			}{r.Cluster}},
	}
	for _, in := range r.Instances {
		sections = append(sections, struct {
			comment string
			value   any
		}{"# from " + in.From + "\n", struct {
			Instance []Instance `toml:"instance"`
		}{[]Instance{in}}})
	}
	for _, s := range sections {
		b.WriteString(s.comment)
		enc := toml.NewEncoder(&b)
		enc.Indent = ""
		if err := enc.Encode(s.value); err != nil {
			return nil, err
		}
		b.WriteString("\n")
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// Check renders the configuration and loads it as havip would, without
// reading the key file (which the conversion does not write); path names
// it in the errors.
func (r *Result) Check(path string) ([]byte, error) {
	text, err := r.TOML()
	if err != nil {
		return nil, err
	}
	text = append(text, '\n')
	if _, err := config.ParseWithOptions(text, path, config.ParseOptions{SkipKeyFile: true}); err != nil {
		return text, err
	}
	return text, nil
}

// Summary says in one line what the conversion produced.
func (r *Result) Summary() string {
	names := make([]string, len(r.Instances))
	for i, in := range r.Instances {
		names[i] = in.Name
	}
	return fmt.Sprintf("%s: %d instances (%s); %d directives not carried over, %d carried over with a difference, %d problems, %d notes",
		r.Source, len(r.Instances), strings.Join(names, ", "),
		r.Report.Count(Dropped), r.Report.Count(Changed), r.Report.Count(Problem), r.Report.Count(Note))
}
