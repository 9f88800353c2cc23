package config_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/havip/havip/config"
)

// A syntax error names the line and the column, carries the excerpt the
// TOML library draws, and says to quote an address or a duration that
// was left bare.
func TestSyntaxErrors(t *testing.T) {
	tests := []struct {
		name    string
		conf    string
		want    string
		excerpt string
	}{
		{
			name: "missing value",
			conf: "[cluster]\nname = \"c\"\ninsecure = \n",
			want: `havip.toml:3:12: expected value but found '\n' instead`,
			excerpt: "      1 | [cluster]\n" +
				"      2 | name = \"c\"\n" +
				"      3 | insecure = \n" +
				"                     ^",
		},
		{
			name: "unquoted peer",
			conf: "[cluster]\nname = \"c\"\npeers = 192.0.2.12:7946\n",
			want: `havip.toml:3:9: Invalid float value: "192.0.2.12"; an address is a string: quote it, as in "192.0.2.12:7946"`,
			excerpt: "      1 | [cluster]\n" +
				"      2 | name = \"c\"\n" +
				"      3 | peers = 192.0.2.12:7946\n" +
				"                  ^^^^^^^^^^",
		},
		{
			name: "unquoted VIP in a list",
			conf: "[[instance]]\nvips = [\"10.0.0.1\", 2001:db8::1]\n",
			want: `havip.toml:2:21: invalid datetime: "2001:"; an address is a string: quote it, as in "2001:db8::1"`,
			excerpt: "      1 | [[instance]]\n" +
				"      2 | vips = [\"10.0.0.1\", 2001:db8::1]\n" +
				"                              ^^^^^",
		},
		{
			name: "unquoted prefix",
			conf: "[[instance]]\nvips = [10.0.0.5/32]\n",
			want: `havip.toml:2:9: Invalid float value: "10.0.0.5"; an address is a string: quote it, as in "10.0.0.5/32"`,
			excerpt: "      1 | [[instance]]\n" +
				"      2 | vips = [10.0.0.5/32]\n" +
				"                  ^^^^^^^^",
		},
		{
			name: "unquoted word",
			conf: "[cluster]\nname = c\n",
			want: `havip.toml:2:8: expected value but found "c" instead`,
			excerpt: "      1 | [cluster]\n" +
				"      2 | name = c\n" +
				"                 ^",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Parse([]byte(tt.conf), "havip.toml")
			var e *config.Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse: %v, want a *config.Error", err)
			}
			if diff := cmp.Diff(tt.want, e.Error()); diff != "" {
				t.Errorf("Error() (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.excerpt, e.Excerpt); diff != "" {
				t.Errorf("Excerpt (-want +got):\n%s", diff)
			}
		})
	}
}

// A duration left bare is a syntax error too; the hint says to quote it.
func TestSyntaxErrorDuration(t *testing.T) {
	_, err := config.Parse([]byte("[[instance]]\nname = \"web\"\npreempt_delay = 10s\n"), "havip.toml")
	var e *config.Error
	if !errors.As(err, &e) {
		t.Fatalf("Parse: %v, want a *config.Error", err)
	}
	if want := `a duration is a string: quote it, as in "10s"`; !strings.Contains(e.Msg, want) {
		t.Errorf("message %q lacks %q", e.Msg, want)
	}
}

// An error the TOML library places past the end of the file (an
// unterminated escape on the last line) has no excerpt, and no panic:
// the library's drawing indexes past its lines there.
func TestSyntaxErrorAtEndOfFile(t *testing.T) {
	_, err := config.Parse([]byte(`"\`), "/etc/havip.toml")
	if err == nil {
		t.Fatal("no error for an unterminated string")
	}
	if !strings.Contains(err.Error(), "/etc/havip.toml") {
		t.Errorf("error %q does not name the file", err)
	}
}
