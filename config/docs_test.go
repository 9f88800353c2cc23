package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// docDefaults are the keys whose default is not a value applyDefaults
// fills in (it is required, or derived from something else), with what
// docs/config.md must say in its default column.
var docDefaults = map[string]string{
	"node.name":                     "_the hostname_",
	"node.advertise":                "_node.bind_",
	"cluster.name":                  "_required_",
	"cluster.secret_key_file":       "_required unless insecure_",
	"instance.name":                 "_required_",
	"instance.interface":            "_required_",
	"instance.vips":                 "_required_",
	"instance.track_script.name":    "_required_",
	"instance.track_script.command": "_required_",
	"instance.notify.master":        "_none_",
	"instance.notify.backup":        "_none_",
	"instance.notify.fault":         "_none_",
	"instance.notify.stop":          "_none_",
	"instance.notify.any":           "_none_",
	"status.metrics":                "_off_",
}

// schemaDefaults walks the raw schema and returns every leaf key
// ("cluster.tuning.probe_interval", "instance.priority") with the
// default applyDefaults gives it, written as in TOML.
func schemaDefaults(t *testing.T) map[string]string {
	t.Helper()
	raw := rawFile{Instances: []rawInstance{{TrackScripts: []rawScript{{}}}}}
	applyDefaults(&raw, &collector{})
	out := map[string]string{}
	var walk func(v reflect.Value, prefix string)
	walk = func(v reflect.Value, prefix string) {
		for i := range v.NumField() {
			f := v.Type().Field(i)
			key := prefix + f.Tag.Get("toml")
			fv := v.Field(i)
			switch leaf := fv.Interface().(type) {
			case optString:
				out[key] = fmt.Sprintf("%q", leaf.val)
			case optStrings:
				q := make([]string, len(leaf.val))
				for j, s := range leaf.val {
					q[j] = fmt.Sprintf("%q", s)
				}
				out[key] = "[" + strings.Join(q, ", ") + "]"
			case optVIPs, optTracks, optHook:
				// Lists of strings or tables; none by default.
				out[key] = "[]"
			case optInt:
				out[key] = fmt.Sprint(leaf.val)
			case optBool:
				out[key] = fmt.Sprint(leaf.val)
			case optDuration:
				out[key] = fmt.Sprintf("%q", time.Duration(leaf.val).String())
			default:
				switch fv.Kind() {
				case reflect.Struct:
					walk(fv, key+".")
				case reflect.Slice:
					walk(fv.Index(0), key+".")
				default:
					t.Fatalf("%s: unexpected raw type %s", key, fv.Type())
				}
			}
		}
	}
	walk(reflect.ValueOf(raw), "")
	// The walk and the schema used to check files must agree.
	var leaves []string
	var fromSchema func(n *schemaNode, prefix string)
	fromSchema = func(n *schemaNode, prefix string) {
		for name, c := range n.children {
			if c.kind == kindLeaf {
				leaves = append(leaves, prefix+name)
			} else {
				fromSchema(c, prefix+name+".")
			}
		}
	}
	fromSchema(schema, "")
	if len(leaves) != len(out) {
		t.Fatalf("schema has %d keys, the raw structs %d", len(leaves), len(out))
	}
	for _, k := range leaves {
		if _, ok := out[k]; !ok {
			t.Fatalf("schema key %s not found in the raw structs", k)
		}
	}
	return out
}

// docRow matches a key row of docs/config.md: | `key` | type | default | meaning |
var docRow = regexp.MustCompile("^\\| `([a-z_.]+)` \\| ([^|]+) \\| ([^|]+) \\|")

// TestConfigDocs keeps docs/config.md equal to the schema: every key is
// documented once with the default the code fills in, and no documented
// key is unknown.
func TestConfigDocs(t *testing.T) {
	defaults := schemaDefaults(t)
	for k := range docDefaults {
		if _, ok := defaults[k]; !ok {
			t.Errorf("docDefaults names %s, which is not a key", k)
		}
	}
	data, err := os.ReadFile(filepath.Join("..", "docs", "config.md"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i, line := range strings.Split(string(data), "\n") {
		m := docRow.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		key, def := m[1], strings.TrimSpace(m[3])
		want, known := defaults[key]
		if !known {
			t.Errorf("docs/config.md:%d: %s is not a configuration key", i+1, key)
			continue
		}
		if seen[key] {
			t.Errorf("docs/config.md:%d: %s is documented twice", i+1, key)
		}
		seen[key] = true
		if special, ok := docDefaults[key]; ok {
			want = special
		} else {
			want = "`" + want + "`"
		}
		if def != want {
			t.Errorf("docs/config.md:%d: %s: default column is %s, want %s", i+1, key, def, want)
		}
	}
	checkProfileBrackets(t, string(data))
	var missing []string
	for k := range defaults {
		if !seen[k] {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	for _, k := range missing {
		d := "`" + defaults[k] + "`"
		if s, ok := docDefaults[k]; ok {
			d = s
		}
		t.Errorf("docs/config.md does not document %s (default %s)", k, d)
	}
}

// profileBracket is the "[fast, instant, conservative]" list that ends the
// meaning of a [cluster.tuning] row.
var profileBracket = regexp.MustCompile(`\[([^\[\]]+)\] \|$`)

// profileValues returns, by [cluster.tuning] knob, its values in the
// profiles other than "default", in ProfileNames order.
func profileValues() map[string][]string {
	want := map[string][]string{}
	for _, name := range ProfileNames() {
		if name == DefaultProfile {
			continue
		}
		p, _ := Profile(name)
		durs, ints := knobs(&rawTuning{}, &p)
		for _, k := range durs {
			want[k.name] = append(want[k.name], k.val.String())
		}
		for _, k := range ints {
			want[k.name] = append(want[k.name], fmt.Sprint(*k.val))
		}
	}
	return want
}

// checkProfileBrackets checks that every [cluster.tuning] row lists the
// values of the profiles other than "default", in ProfileNames order.
func checkProfileBrackets(t *testing.T, doc string) {
	t.Helper()
	want := profileValues()
	for i, line := range strings.Split(doc, "\n") {
		m := docRow.FindStringSubmatch(line)
		if m == nil || !strings.HasPrefix(m[1], "cluster.tuning.") {
			continue
		}
		knob := strings.TrimPrefix(m[1], "cluster.tuning.")
		b := profileBracket.FindStringSubmatch(line)
		if b == nil {
			t.Errorf("docs/config.md:%d: %s has no [%s] values", i+1, m[1], strings.Join(want[knob], ", "))
			continue
		}
		if got, w := b[1], strings.Join(want[knob], ", "); got != w {
			t.Errorf("docs/config.md:%d: %s: profile values [%s], want [%s]", i+1, m[1], got, w)
		}
	}
}

// refBracket is the list of profile values in a comment of
// examples/reference.toml: "[1s, 500ms, 1s]" or "[fast 25ms, instant 5ms,
// conservative 250ms]".
var refBracket = regexp.MustCompile(`\[([^\[\]]+)\]\s*$`)

// TestReferenceProfileBrackets checks that every [cluster.tuning] knob of
// examples/reference.toml is preceded by the values of the profiles
// other than "default", in ProfileNames order.
func TestReferenceProfileBrackets(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "examples", "reference.toml"))
	if err != nil {
		t.Fatal(err)
	}
	want := profileValues()
	names := ProfileNames()
	in, last, seen := false, "", 0
	for i, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "[") {
			in = line == "[cluster.tuning]"
			continue
		}
		if !in {
			continue
		}
		if m := refBracket.FindStringSubmatch(line); m != nil && strings.HasPrefix(line, "#") {
			last = m[1]
			for _, n := range names {
				last = strings.ReplaceAll(last, n+" ", "")
			}
			continue
		}
		knob, _, ok := strings.Cut(strings.TrimPrefix(line, "# "), " = ")
		if w, isKnob := want[knob]; ok && isKnob {
			seen++
			if got := strings.Join(w, ", "); last != got {
				t.Errorf("examples/reference.toml:%d: %s: profile values [%s], want [%s]", i+1, knob, last, got)
			}
			last = ""
		}
	}
	if seen != len(want) {
		t.Errorf("examples/reference.toml lists %d [cluster.tuning] knobs, want %d", seen, len(want))
	}
}
