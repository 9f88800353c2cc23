package config

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// The raw structs mirror the file. Every value is a leaf type that
// accepts any TOML value and remembers a wrong one, so that a type
// mismatch becomes a message naming the key (with its array index)
// instead of stopping the decoder at the first one.

type rawFile struct {
	Node      rawNode       `toml:"node"`
	Cluster   rawCluster    `toml:"cluster"`
	Instances []rawInstance `toml:"instance"`
	Status    rawStatus     `toml:"status"`
	Cloud     rawCloud      `toml:"cloud"`
}

type rawNode struct {
	Name      optString `toml:"name"`
	Bind      optString `toml:"bind"`
	Advertise optString `toml:"advertise"`
	StateDir  optString `toml:"state_dir"`
}

type rawCluster struct {
	Name          optString  `toml:"name"`
	Peers         optStrings `toml:"peers"`
	SecretKeyFile optString  `toml:"secret_key_file"`
	Insecure      optBool    `toml:"insecure"`
	Quorum        optString  `toml:"quorum"`
	Timing        optString  `toml:"timing"`
	Tuning        rawTuning  `toml:"tuning"`
}

type rawTuning struct {
	ProbeInterval           optDuration `toml:"probe_interval"`
	ProbeTimeout            optDuration `toml:"probe_timeout"`
	SuspicionMult           optInt      `toml:"suspicion_mult"`
	SuspicionMaxTimeoutMult optInt      `toml:"suspicion_max_timeout_mult"`
	IndirectChecks          optInt      `toml:"indirect_checks"`
	AwarenessMaxMultiplier  optInt      `toml:"awareness_max_multiplier"`
	GossipInterval          optDuration `toml:"gossip_interval"`
	GossipNodes             optInt      `toml:"gossip_nodes"`
	RetransmitMult          optInt      `toml:"retransmit_mult"`
	PushPullInterval        optDuration `toml:"push_pull_interval"`
	TCPTimeout              optDuration `toml:"tcp_timeout"`
	RejoinInterval          optDuration `toml:"rejoin_interval"`
	StartupGrace            optDuration `toml:"startup_grace"`
	HeartbeatInterval       optDuration `toml:"heartbeat_interval"`
	Lease                   optDuration `toml:"lease"`
	LeaseMargin             optDuration `toml:"lease_margin"`
	HeartbeatTimeout        optDuration `toml:"heartbeat_timeout"`
	AddressLifetime         optDuration `toml:"address_lifetime"`
}

type rawInstance struct {
	Name             optString   `toml:"name"`
	Interface        optString   `toml:"interface"`
	VIPs             optVIPs     `toml:"vips"`
	Priority         optInt      `toml:"priority"`
	Preempt          optBool     `toml:"preempt"`
	PreemptDelay     optDuration `toml:"preempt_delay"`
	AnnounceCount    optInt      `toml:"announce_count"`
	AnnounceInterval optDuration `toml:"announce_interval"`
	AnnounceRefresh  optDuration `toml:"announce_refresh"`
	TrackInterfaces  optTracks   `toml:"track_interfaces"`
	TrackScripts     []rawScript `toml:"track_script"`
	Notify           rawNotify   `toml:"notify"`
	NotifyTimeout    optDuration `toml:"notify_timeout"`
}

type rawScript struct {
	Name     optString   `toml:"name"`
	Command  optStrings  `toml:"command"`
	Interval optDuration `toml:"interval"`
	Timeout  optDuration `toml:"timeout"`
	Rise     optInt      `toml:"rise"`
	Fall     optInt      `toml:"fall"`
	Weight   optInt      `toml:"weight"`
	User     optString   `toml:"user"`
	Group    optString   `toml:"group"`
}

type rawNotify struct {
	Master optHook   `toml:"master"`
	Backup optHook   `toml:"backup"`
	Fault  optHook   `toml:"fault"`
	Stop   optHook   `toml:"stop"`
	Any    optHook   `toml:"any"`
	User   optString `toml:"user"`
	Group  optString `toml:"group"`
}

type rawStatus struct {
	Socket      optString `toml:"socket"`
	SocketGroup optString `toml:"socket_group"`
	Metrics     optString `toml:"metrics"`
}

// Leaf types. set is true when the key is in the file; problem, when not
// empty, says why its value is unusable and val is then meaningless.

type optString struct {
	val     string
	set     bool
	problem string
}

func (o *optString) UnmarshalTOML(v any) error {
	o.set = true
	if s, ok := v.(string); ok {
		o.val = s
	} else {
		o.problem = "must be a string, not " + describe(v)
	}
	return nil
}

type optStrings struct {
	val     []string
	set     bool
	problem string
}

func (o *optStrings) UnmarshalTOML(v any) error {
	o.set = true
	list, ok := v.([]any)
	if !ok {
		o.problem = "must be a list of strings, not " + describe(v)
		return nil
	}
	o.val = make([]string, len(list))
	for i, e := range list {
		s, ok := e.(string)
		if !ok {
			o.problem = fmt.Sprintf("must be a list of strings, but item %d is %s", i, describe(e))
			return nil
		}
		o.val[i] = s
	}
	return nil
}

type optInt struct {
	val     int
	set     bool
	problem string
}

func (o *optInt) UnmarshalTOML(v any) error {
	o.set = true
	if n, ok := v.(int64); ok && int64(int(n)) == n {
		o.val = int(n)
	} else {
		o.problem = "must be an integer, not " + describe(v)
	}
	return nil
}

type optBool struct {
	val     bool
	set     bool
	problem string
}

func (o *optBool) UnmarshalTOML(v any) error {
	o.set = true
	if b, ok := v.(bool); ok {
		o.val = b
	} else {
		o.problem = "must be true or false, not " + describe(v)
	}
	return nil
}

// optHook is a notify command: its argv as a list of strings, or an
// inline table that may also say who runs it,
// { command = ["/usr/local/bin/on-master"], user = "haproxy", group = "haproxy" }.
// A table's other keys are unknown keys, which checkShape reports.
type optHook struct {
	set bool
	// problem says why the value is neither a list nor a table.
	problem string
	// table is true for the table form; command, user and group are
	// then its keys, each with its own problem.
	table       bool
	command     optStrings
	user, group optString
}

// hookKeys are the keys of a notify command's table.
var hookKeys = []string{"command", "user", "group"}

func (o *optHook) inlineKeys() []string { return hookKeys }

func (o *optHook) UnmarshalTOML(v any) error {
	o.set = true
	switch x := v.(type) {
	case []any:
		return o.command.UnmarshalTOML(v)
	case map[string]any:
		o.table = true
		for k, leaf := range map[string]toml.Unmarshaler{"command": &o.command, "user": &o.user, "group": &o.group} {
			if sub, ok := x[k]; ok {
				if err := leaf.UnmarshalTOML(sub); err != nil {
					return err
				}
			}
		}
	default:
		o.problem = `must be a list of strings (the program and its arguments) or a table such as { command = ["/usr/local/bin/on-master"], user = "haproxy" }, not ` + describe(v)
	}
	return nil
}

// optDuration is a Go duration string ("200ms", "1m30s").
type optDuration struct {
	val     time.Duration
	set     bool
	problem string
}

func (o *optDuration) UnmarshalTOML(v any) error {
	o.set = true
	s, ok := v.(string)
	if !ok {
		o.problem = `must be a duration string such as "200ms" or "1m30s", not ` + describe(v)
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		o.problem = fmt.Sprintf(`%q is not a duration (write it like "200ms", "2s" or "1m30s")`, s)
		return nil
	}
	o.val = d
	return nil
}

// describe names a decoded TOML value for a type-mismatch message.
func describe(v any) string {
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("string %q", x)
	case int64:
		return fmt.Sprintf("integer %d", x)
	case float64:
		return fmt.Sprintf("float %v", x)
	case bool:
		return fmt.Sprintf("boolean %v", x)
	case []any, []map[string]any:
		return "an array"
	case map[string]any:
		return "a table"
	case time.Time:
		return "a date-time"
	case nil:
		return "nothing"
	default:
		return fmt.Sprintf("a %T", v)
	}
}

// schemaNode describes one key of the file, derived from the raw structs
// so that the two cannot disagree.
type schemaNode struct {
	kind schemaKind
	// children are the keys of tables and arrays of tables, and of the
	// inline table a leaf may be written as (see inlineTable).
	children map[string]*schemaNode
}

// inlineTable is a leaf that may also be written as an inline table of
// these keys (a notify command with its own user): checkShape reports
// the table's other keys as it reports those of any table.
type inlineTable interface {
	inlineKeys() []string
}

type schemaKind int

const (
	kindLeaf schemaKind = iota
	kindTable
	kindTableArray
)

var schema = schemaOf(reflect.TypeOf(rawFile{}))

var unmarshalerType = reflect.TypeOf((*toml.Unmarshaler)(nil)).Elem()

func schemaOf(t reflect.Type) *schemaNode {
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		n := &schemaNode{kind: kindLeaf}
		if it, ok := reflect.New(t).Interface().(inlineTable); ok {
			n.children = map[string]*schemaNode{}
			for _, k := range it.inlineKeys() {
				n.children[k] = &schemaNode{kind: kindLeaf}
			}
		}
		return n
	}
	switch t.Kind() {
	case reflect.Struct:
		n := &schemaNode{kind: kindTable, children: map[string]*schemaNode{}}
		for i := range t.NumField() {
			f := t.Field(i)
			name := f.Tag.Get("toml")
			if name == "" {
				panic("config: raw field without a toml tag: " + t.Name() + "." + f.Name)
			}
			n.children[name] = schemaOf(f.Type)
		}
		return n
	case reflect.Slice:
		elem := schemaOf(t.Elem())
		if elem.kind != kindTable {
			panic("config: raw slice of " + t.Elem().String())
		}
		return &schemaNode{kind: kindTableArray, children: elem.children}
	}
	panic("config: unexpected raw type " + t.String())
}

// checkShape walks the generic decoding of the file against the schema.
// It reports keys the schema does not know (what MetaData.Undecoded
// would list, but exact in case and with the array index of the
// instance), and tables written as plain values, which would otherwise
// stop the decoder. It returns whether the shape is decodable.
func checkShape(doc map[string]any, c *collector) bool {
	return walkTable(doc, schema, nil, "", c)
}

// walkTable checks one table. dotted is the TOML key of the table
// (["instance"]), where is its location for messages (`instance[0] "web"`).
func walkTable(tbl map[string]any, node *schemaNode, dotted []string, where string, c *collector) bool {
	ok := true
	for _, k := range sortedKeys(tbl) {
		v := tbl[k]
		full := append(append([]string(nil), dotted...), k)
		child, known := node.children[k]
		if !known {
			// Inside an array of tables the location says which element;
			// elsewhere the full key says it all.
			at := ""
			if strings.Contains(where, "[") {
				at = where
			}
			c.add(at, "unknown key %q%s", strings.Join(full, "."), suggest(dotted, k))
			continue
		}
		loc := joinKey(where, k)
		switch child.kind {
		case kindLeaf:
			// A leaf written as an inline table: its keys are checked
			// here, its values by the leaf.
			if sub, isTable := v.(map[string]any); isTable && child.children != nil {
				walkTable(sub, child, full, loc, c)
			}
		case kindTable:
			sub, isTable := v.(map[string]any)
			if !isTable {
				c.add(loc, "must be a table ([%s]), not %s", strings.Join(full, "."), describe(v))
				ok = false
				continue
			}
			ok = walkTable(sub, child, full, loc, c) && ok
		case kindTableArray:
			tables, isArray := tablesOf(v)
			if !isArray {
				c.add(loc, "must be an array of tables ([[%s]]), not %s", strings.Join(full, "."), describe(v))
				ok = false
				continue
			}
			for i, sub := range tables {
				ok = walkTable(sub, child, full, itemKey(loc, i, sub["name"]), c) && ok
			}
		}
	}
	return ok
}

func tablesOf(v any) ([]map[string]any, bool) {
	switch x := v.(type) {
	case []map[string]any:
		return x, true
	case []any:
		out := make([]map[string]any, len(x))
		for i, e := range x {
			m, ok := e.(map[string]any)
			if !ok {
				return nil, false
			}
			out[i] = m
		}
		return out, true
	}
	return nil, false
}

// suggest proposes the key that was probably meant: a sibling with a
// similar spelling, or the same key in another table.
func suggest(table []string, key string) string {
	node := schema
	for _, t := range table {
		node = node.children[t]
	}
	best, bestDist := "", 3
	for name := range node.children {
		d := editDistance(strings.ToLower(key), name)
		if d < bestDist || (d == bestDist && name < best) {
			best, bestDist = name, d
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	var elsewhere []string
	var find func(n *schemaNode, path []string)
	find = func(n *schemaNode, path []string) {
		for name, child := range n.children {
			p := append(append([]string(nil), path...), name)
			if child.kind == kindLeaf {
				// The keys of a leaf's inline table are no place to
				// move a key to.
				if name == key {
					elsewhere = append(elsewhere, strings.Join(p, "."))
				}
				continue
			}
			find(child, p)
		}
	}
	find(schema, nil)
	if len(elsewhere) == 1 {
		return fmt.Sprintf(" (did you mean %q?)", elsewhere[0])
	}
	return ""
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// joinKey appends key to the location where: "cluster" + "peers" is
// "cluster.peers", `instance[0] "web"` + "vips" is `instance[0] "web": vips`.
func joinKey(where, key string) string {
	switch {
	case where == "":
		return key
	case strings.HasSuffix(where, `"`) || strings.HasSuffix(where, "]"):
		return where + ": " + key
	}
	return where + "." + key
}

// itemKey names element i of an array of tables, with its name when it
// has one: `instance[1] "db"`.
func itemKey(key string, i int, name any) string {
	s := fmt.Sprintf("%s[%d]", key, i)
	if n, ok := name.(string); ok && n != "" {
		s += fmt.Sprintf(" %q", n)
	}
	return s
}
