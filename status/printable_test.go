package status

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPrintable(t *testing.T) {
	tests := []struct{ in, want string }{
		{"ecs-b", "ecs-b"},
		{"", ""},
		{"naïve 名前", "naïve 名前"},
		{"evil\x1b]0;owned\x07", `evil\u{1b}]0;owned\u{7}`},
		{"a\tb\nc", `a\u{9}b\u{a}c`},
		{"bad\xff", "bad\uFFFD"},
		{"rtl\u202etxt", `rtl\u{202e}txt`},
	}
	for _, tt := range tests {
		if got := printable(tt.in); got != tt.want {
			t.Errorf("printable(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// Names and reasons from other members reach the table as text, never
// as terminal escapes or extra rows.
func TestTableEscapesPeerText(t *testing.T) {
	d := sample()
	evil := "ecs-b\x1b[2J\nfake-node\t10.0.0.9:7946\talive\xff"
	d.Members[1].Name = evil
	d.Instances[0].Master = evil
	d.Instances[0].Reason = evil + " holds"
	var b bytes.Buffer
	if err := d.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.Contains(out, "\x1b") || strings.Contains(out, "\xff") || strings.Contains(out, "\nfake-node") {
		t.Errorf("table passes the peer's text through:\n%q", out)
	}
	want := `ecs-b\u{1b}[2J\u{a}fake-node\u{9}10.0.0.9:7946\u{9}alive` + "\uFFFD"
	if n := strings.Count(out, want); n != 3 {
		t.Errorf("table shows the escaped name %d times, want 3 (master, reason, member):\n%s", n, out)
	}
	if diff := cmp.Diff(13, strings.Count(out, "\n")); diff != "" {
		t.Errorf("lines (-want +got):\n%s\n%s", diff, out)
	}
}
