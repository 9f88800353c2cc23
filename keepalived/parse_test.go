package keepalived

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// dump renders a tree, one line per node, indented by depth, with the
// line number.
func dump(nodes []*Node, depth int) string {
	var b strings.Builder
	for _, n := range nodes {
		b.WriteString(strings.Repeat("  ", depth) + strings.Join(n.Words, "|"))
		b.WriteString("\n")
		b.WriteString(dump(n.Children, depth+1))
	}
	return b.String()
}

func TestParse(t *testing.T) {
	tests := []struct {
		name, in, want string
		problems       []string
	}{{
		name: "comments and quotes",
		in: `! a comment
global_defs {   # another
   router_id "my router"   ! and one more
   notification_email_from a\#b@example.com
   x "quoted # not a comment" y
}
`,
		want: "global_defs\n  router_id|my router\n  notification_email_from|a#b@example.com\n  x|quoted # not a comment|y\n",
	}, {
		name: "braces on one line and on their own",
		in:   "vrrp_instance VI_1 { state MASTER\ninterface eth0 }\nvrrp_script s\n{\n script \"a { b }\"\n}\n",
		want: "vrrp_instance|VI_1\n  state|MASTER\n  interface|eth0\nvrrp_script|s\n  script|a { b }\n",
	}, {
		name: "conditions",
		in: `@node1 priority 150
@node2 priority 100
@^node1 peer 10.0.0.1
@^node2 peer 10.0.0.2
@node1
`,
		want: "priority|150\npeer|10.0.0.2\n",
	}, {
		name: "definitions",
		in: `$IF=eth0
$BASE=10.2.${SUB}
$SUB=0
interface $IF
address ${BASE}.100/32
$SUB=10
address ${BASE}.100/32
unknown $UNDEFINED
price $IFx
`,
		want: "interface|eth0\naddress|10.2.0.100/32\naddress|10.2.10.100/32\nunknown|$UNDEFINED\nprice|$IFx\n",
	}, {
		name: "definitions with conditions",
		in:   "@node1 $PRIO=240\n@node2 $PRIO=200\n$WHEN=@node1\npriority $PRIO\n$WHEN state MASTER\n",
		want: "priority|240\nstate|MASTER\n",
	}, {
		name: "multiline definition",
		in: `$INSTANCE= \
vrrp_instance VI_${NUM} { \
    interface eth0.${NUM} \
    @node1 priority 130 \
    @node2 priority 120 \
}

$NUM=0
$INSTANCE
$NUM=1
$INSTANCE
`,
		want: "vrrp_instance|VI_0\n  interface|eth0.0\n  priority|130\nvrrp_instance|VI_1\n  interface|eth0.1\n  priority|130\n",
	}, {
		name: "predefined",
		in:   "hash ${_HASH} bang ${_BANG} id ${_INSTANCE}\n",
		want: "hash|#|bang|!|id|node1\n",
	}, {
		name:     "self reference",
		in:       "$A=x$A\nvalue $A\n",
		problems: []string{"test.conf:2: problem: more than 10000 parameter substitutions"},
		want:     "value|$A\n",
	}, {
		name:     "unbalanced",
		in:       "}\nvrrp_instance X {\n  state MASTER\n",
		problems: []string{"test.conf:1: problem: extra '}'", "test.conf:2: vrrp_instance X: problem: the block opened here is never closed"},
		want:     "vrrp_instance|X\n  state|MASTER\n",
	}, {
		name:     "sequences are not expanded",
		in:       "~SEQ(N, 0, 3) address 10.0.${N}.1\n",
		problems: []string{"test.conf:1: not carried over: ~SEQ: ~SEQ and ~LST blocks are not expanded"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Parse([]byte(tt.in), "test.conf", ParseOptions{ConfigID: "node1"})
			if diff := cmp.Diff(tt.want, dump(cfg.Nodes, 0)); diff != "" {
				t.Errorf("tree (-want +got):\n%s", diff)
			}
			if len(cfg.Report) != len(tt.problems) {
				t.Errorf("report %v, want %d findings", cfg.Report, len(tt.problems))
			}
			for i, p := range tt.problems {
				if i < len(cfg.Report) && !strings.HasPrefix(cfg.Report[i].String(), p) {
					t.Errorf("finding %d = %q, want it to start with %q", i, cfg.Report[i], p)
				}
			}
		})
	}
}

func TestParseLines(t *testing.T) {
	cfg := Parse([]byte("\n\nglobal_defs {\n  router_id r1\n}\n"), "k.conf", ParseOptions{})
	n := cfg.Nodes[0].Children[0]
	if n.Pos != (Pos{"k.conf", 4}) || n.Line != "router_id r1" {
		t.Errorf("router_id at %v, line %q; want k.conf:4, %q", n.Pos, n.Line, "router_id r1")
	}
}

func TestInclude(t *testing.T) {
	root := t.TempDir()
	write := func(p, s string) {
		t.Helper()
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("etc/keepalived/keepalived.conf", `global_defs {
    include defs/*.conf
}
include /etc/keepalived/{a,b}.conf
include missing/*.conf
`)
	write("etc/keepalived/defs/1.conf", "router_id one\ninclude ../sub/x.conf\n")
	write("etc/keepalived/defs/2.conf", "$V=from-2\n")
	write("etc/keepalived/sub/x.conf", "dir ${_PWD}\n")
	write("etc/keepalived/a.conf", "a $V\n")
	write("etc/keepalived/b.conf", "b\n")

	cfg, err := ParseFile("/etc/keepalived/keepalived.conf", ParseOptions{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	want := "global_defs\n  router_id|one\n  dir|/etc/keepalived/sub\na|from-2\nb\n"
	if diff := cmp.Diff(want, dump(cfg.Nodes, 0)); diff != "" {
		t.Errorf("tree (-want +got):\n%s", diff)
	}
	wantFiles := []string{"/etc/keepalived/keepalived.conf", "/etc/keepalived/defs/1.conf", "/etc/keepalived/sub/x.conf",
		"/etc/keepalived/defs/2.conf", "/etc/keepalived/a.conf", "/etc/keepalived/b.conf"}
	if diff := cmp.Diff(wantFiles, cfg.Files); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	if got := cfg.Nodes[0].Children[0].Pos; got != (Pos{"/etc/keepalived/defs/1.conf", 1}) {
		t.Errorf("router_id at %v, want the included file's line 1", got)
	}
	if len(cfg.Report) != 1 || !strings.Contains(cfg.Report[0].String(), "/etc/keepalived/keepalived.conf:5: note: include /etc/keepalived/missing/*.conf matched no file") {
		t.Errorf("report %v, want the include that matched nothing", cfg.Report)
	}

	if _, err := ParseFile("/etc/keepalived/none.conf", ParseOptions{Root: root}); err == nil {
		t.Error("a missing configuration file parsed")
	}
}

func TestExpandBraces(t *testing.T) {
	got := expandBraces("{foo/{,cat,dog},bar}.conf")
	want := []string{"foo/.conf", "foo/cat.conf", "foo/dog.conf", "bar.conf"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"a{b}c"}, expandBraces("a{b}c")); diff != "" {
		t.Errorf("a group without a comma (-want +got):\n%s", diff)
	}
}
