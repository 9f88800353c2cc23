package keepalived

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseCommand(t *testing.T) {
	tests := []struct {
		line  string
		argv  []string
		shell bool
		extra []string
		err   string
	}{
		{line: `script "killall -0 haproxy"`, argv: []string{"killall", "-0", "haproxy"}},
		{line: `script /usr/local/bin/check`, argv: []string{"/usr/local/bin/check"}},
		// keepalived reads only the second word; the rest is for the
		// notify scripts' user and group.
		{line: `notify_master /usr/bin/x.sh root wheel`, argv: []string{"/usr/bin/x.sh"}, extra: []string{"root", "wheel"}},
		{line: `script "/bin/check 'two words' \"and three\ words\""`, argv: []string{"/bin/check", "two words", "and three words"}},
		{line: `script "/bin/printf a\\tb"`, argv: []string{"/bin/printf", "a\tb"}},
		{line: `script "bash -c '</dev/tcp/127.0.0.1/80'"`, argv: []string{"bash", "-c", "</dev/tcp/127.0.0.1/80"}},
		{line: `script "</dev/tcp/127.0.0.1/80"`, argv: []string{"/bin/sh", "-c", "</dev/tcp/127.0.0.1/80"}, shell: true},
		{line: `script "curl -fs http://x/ | grep -q ok"`, argv: []string{"/bin/sh", "-c", "curl -fs http://x/ | grep -q ok"}, shell: true},
		{line: `script "test -e $HOME/flag"`, argv: []string{"/bin/sh", "-c", "test -e $HOME/flag"}, shell: true},
		{line: `script "echo '$HOME'"`, argv: []string{"echo", "$HOME"}},
		{line: `script "LANG=C pidof x"`, argv: []string{"/bin/sh", "-c", "LANG=C pidof x"}, shell: true},
		{line: `script "a 'open`, err: "missing terminating \""},
		{line: `script`, err: "no command given"},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			cmd, err := parseCommand(&Node{Line: tt.line})
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.argv, cmd.argv); diff != "" {
				t.Errorf("argv (-want +got):\n%s", diff)
			}
			if cmd.shell != tt.shell {
				t.Errorf("shell = %t, want %t", cmd.shell, tt.shell)
			}
			if diff := cmp.Diff(tt.extra, cmd.extra); diff != "" {
				t.Errorf("extra (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSplitQuotedEscapes(t *testing.T) {
	got, err := splitQuoted(`a\x41\101\cA\E"x"'y'\"`)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"aAA\x01\x1bxy\""}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
