package main

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/havip/havip/preflight"
)

const goodConfig = `
[node]
name = "a"
bind = "127.0.0.1:7946"
[cluster]
name = "t"
insecure = true
[[instance]]
name = "web"
interface = "eth0"
vips = ["198.18.0.100"]
priority = 150
`

func write(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "havip.toml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// fakeHost replaces the host lookups of `havip check` and `havip run`
// for one test: eth0 exists and is up in 198.18.0.0/24 with the
// default gateway 198.18.0.1, the process has every capability, and
// peers are not probed.
func fakeHost(t *testing.T) {
	t.Helper()
	links, dial, view, caps := hostLinks, peerDial, hostView, hostCaps
	t.Cleanup(func() { hostLinks, peerDial, hostView, hostCaps = links, dial, view, caps })
	hostLinks = fakeLinks{"eth0": {Up: true, Running: true}}
	peerDial = nil
	hostView = fakeView{
		links: []preflight.HostLink{{Name: "eth0", Addrs: []netip.Prefix{netip.MustParsePrefix("198.18.0.5/24")}}},
		gws:   []preflight.Gateway{{Addr: netip.MustParseAddr("198.18.0.1"), Dst: netip.MustParsePrefix("0.0.0.0/0"), Interface: "eth0"}},
	}
	hostCaps = func() ([]preflight.Capability, error) { return nil, nil }
}

// fakeView is the host's addresses and routes.
type fakeView struct {
	links []preflight.HostLink
	gws   []preflight.Gateway
}

func (f fakeView) Links() ([]preflight.HostLink, error)   { return f.links, nil }
func (f fakeView) Gateways() ([]preflight.Gateway, error) { return f.gws, nil }

type fakeLinks map[string]preflight.LinkInfo

func (f fakeLinks) Link(name string) (preflight.LinkInfo, error) {
	li, ok := f[name]
	if !ok {
		return li, preflight.ErrNoLink
	}
	return li, nil
}

func TestExitCodes(t *testing.T) {
	fakeHost(t)
	root := t.TempDir()
	good := write(t, goodConfig)
	badPrio := write(t, strings.Replace(goodConfig, "priority = 150", "priority = 300", 1))
	unknown := write(t, strings.Replace(goodConfig, "priority = 150", "prioirty = 150", 1))
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr []string
	}{
		{"no command", nil, 2, "", []string{"Usage"}},
		{"unknown command", []string{"frobnicate"}, 2, "", []string{`unknown command "frobnicate"`}},
		{"version", []string{"version"}, 0, "havip ", nil},
		{"check good", []string{"check", "--config", good, "--root", root}, 0, "OK", nil},
		{"check good, config only", []string{"check", "--config", good, "--no-host"}, 0, "OK", nil},
		{"check bad priority", []string{"check", "--config", badPrio}, 2, "", []string{badPrio, "priority", "255"}},
		{"check unknown key", []string{"check", "--config", unknown}, 2, "", []string{unknown, "prioirty"}},
		{"check missing file", []string{"check", "--config", "/nonexistent/havip.toml"}, 2, "", []string{"/nonexistent/havip.toml"}},
		{"run bad config", []string{"run", "--config", badPrio}, 2, "", []string{badPrio, "priority"}},
		{"bad flag", []string{"check", "--bogus"}, 2, "", []string{"bogus"}},
		{"stray argument", []string{"check", "--config", good, "extra"}, 2, "", []string{"extra"}},
		{"status without daemon", []string{"status", "--socket", filepath.Join(t.TempDir(), "none.sock")}, 1, "", []string{"no havip daemon answers"}},
		{"status socket from config", []string{"status", "--config", good, "--json"}, 1, "", []string{"/run/havip/havip.sock"}},
		{"maintenance without on or off", []string{"maintenance", "--config", good}, 2, "", []string{"on or off"}},
		{"maintenance bad word", []string{"maintenance", "maybe", "--config", good}, 2, "", []string{"on or off"}},
		{"maintenance without daemon", []string{"maintenance", "on", "--socket", filepath.Join(t.TempDir(), "none.sock")}, 1, "", []string{"no havip daemon answers"}},
		{"switchover stray argument", []string{"switchover", "node2"}, 2, "", []string{"node2"}},
		{"switchover without daemon", []string{"switchover", "--to", "b", "--socket", filepath.Join(t.TempDir(), "none.sock")}, 1, "", []string{"no havip daemon answers"}},
		{"reload without daemon", []string{"reload", "--socket", filepath.Join(t.TempDir(), "none.sock")}, 1, "", []string{"no havip daemon answers"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(tt.args, &out, &errb)
			if code != tt.code {
				t.Errorf("exit code %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out.String(), errb.String())
			}
			if !strings.Contains(out.String(), tt.stdout) {
				t.Errorf("stdout %q lacks %q", out.String(), tt.stdout)
			}
			for _, s := range tt.stderr {
				if !strings.Contains(errb.String(), s) {
					t.Errorf("stderr %q lacks %q", errb.String(), s)
				}
			}
		})
	}
}
