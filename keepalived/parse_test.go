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
		problems: []string{
			"test.conf:8: problem: $UNDEFINED is not defined: keepalived leaves it as written; define it ($UNDEFINED=VALUE) or write the value",
			"test.conf:9: problem: $IFx is not defined",
		},
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
		name: "the ends of $NAME",
		in:   "$A=x\nlist $A,$A) $A\tend\nnot $Ab $A-\n",
		want: "list|x,x)|x|end\nnot|$Ab|$A-\n",
		problems: []string{
			"test.conf:3: problem: $Ab is not defined",
		},
	}, {
		name: "undefined parameters",
		in: `$M=a\
b
vrrp_instance VI_1 {
  interface ${IFACE}
  virtual_ipaddress {
    ${VIP}
  }
  notify_master "/bin/m ${X} $HOME"
  x $M y
}
`,
		want: "vrrp_instance|VI_1\n  interface|${IFACE}\n  virtual_ipaddress\n    ${VIP}\n  notify_master|/bin/m ${X} $HOME\n  x|$M|y\n",
		problems: []string{
			"test.conf:4: problem: ${IFACE} is not defined: keepalived leaves it as written; define it ($IFACE=VALUE) or write the value",
			"test.conf:6: problem: ${VIP} is not defined",
			"test.conf:9: problem: $M is a multiline parameter, which keepalived replaces only at the end of a line",
		},
	}, {
		name: "random numbers",
		in:   "priority ${_RANDOM 1 254}\nvrrp_instance VI_${_RANDOM} {\n}\nrouter_id $_RANDOM\n$_RANDOM=7\nseed ${_RANDOM}\n",
		want: "vrrp_instance|VI_${_RANDOM}\nseed|7\n",
		problems: []string{
			"test.conf:1: problem: ${_RANDOM 1 254}: keepalived writes a random number there each time it reads the configuration, which a havip configuration cannot do: write the value instead (the line is left out)",
			"test.conf:2: problem: ${_RANDOM}: keepalived writes a random number there",
			"test.conf:4: problem: $_RANDOM: keepalived writes a random number there",
		},
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
	write := func(p, s string, mode os.FileMode) {
		t.Helper()
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(s), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("etc/keepalived/keepalived.conf", `global_defs {
    include defs/*.conf
}
include /etc/keepalived/{vip/b*,a,vip/a*}.conf
include missing/*.conf
`, 0o644)
	write("etc/keepalived/defs/1.conf", "router_id one\ninclude ../sub/x.conf\n", 0o644)
	write("etc/keepalived/defs/2.conf", "$V=from-2\n", 0o644)
	// keepalived reads no executable file.
	write("etc/keepalived/defs/3.conf", "script_user nobody\n", 0o755)
	write("etc/keepalived/sub/x.conf", "dir ${_PWD}\n", 0o644)
	write("etc/keepalived/a.conf", "a $V\n", 0o644)
	write("etc/keepalived/vip/b2.conf", "b2\n", 0o644)
	write("etc/keepalived/vip/b1.conf", "b1\n", 0o644)
	write("etc/keepalived/vip/a1.conf", "a1\n", 0o644)

	cfg, err := ParseFile("/etc/keepalived/keepalived.conf", ParseOptions{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	// Each alternative's matches sorted, the alternatives in the order
	// written, as glibc's GLOB_BRACE gives them.
	want := "global_defs\n  router_id|one\n  dir|/etc/keepalived/sub\nb1\nb2\na|from-2\na1\n"
	if diff := cmp.Diff(want, dump(cfg.Nodes, 0)); diff != "" {
		t.Errorf("tree (-want +got):\n%s", diff)
	}
	wantFiles := []string{"/etc/keepalived/keepalived.conf", "/etc/keepalived/defs/1.conf", "/etc/keepalived/sub/x.conf",
		"/etc/keepalived/defs/2.conf", "/etc/keepalived/vip/b1.conf", "/etc/keepalived/vip/b2.conf", "/etc/keepalived/a.conf", "/etc/keepalived/vip/a1.conf"}
	if diff := cmp.Diff(wantFiles, cfg.Files); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	if got := cfg.Nodes[0].Children[0].Pos; got != (Pos{"/etc/keepalived/defs/1.conf", 1}) {
		t.Errorf("router_id at %v, want the included file's line 1", got)
	}
	wantReport := []string{
		"/etc/keepalived/keepalived.conf:2: note: include /etc/keepalived/defs/*.conf: /etc/keepalived/defs/3.conf is executable: skipped, as keepalived reads only regular files that are not executable",
		"/etc/keepalived/keepalived.conf:5: note: include /etc/keepalived/missing/*.conf matched no file",
	}
	if diff := cmp.Diff(wantReport, strings.Split(strings.TrimSpace(reportText(cfg.Report)), "\n")); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
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
