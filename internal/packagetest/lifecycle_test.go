package packagetest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// skipper is the part of testing.T that unavailable uses.
type skipper interface {
	Helper()
	Skipf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// underCI reports whether the tests run under continuous integration
// (CI=true, as CI services set it).
func underCI() bool {
	v := os.Getenv("CI")
	return v != "" && v != "false" && v != "0"
}

// unavailable ends a test that this machine cannot run (no module proxy,
// no Debian mirror, no tool): a skip that says why, but under CI a
// failure, so that a CI run never passes with its packaging checks
// skipped.
func unavailable(t skipper, format string, args ...any) {
	t.Helper()
	if underCI() {
		t.Fatalf("CI=%s, so this is a failure: "+format, append([]any{os.Getenv("CI")}, args...)...)
	}
	t.Skipf(format, args...)
}

type fakeT struct{ skipped, failed string }

func (f *fakeT) Helper()                        {}
func (f *fakeT) Skipf(format string, a ...any)  { f.skipped = fmt.Sprintf(format, a...) }
func (f *fakeT) Fatalf(format string, a ...any) { f.failed = fmt.Sprintf(format, a...) }

func TestUnavailable(t *testing.T) {
	for _, tc := range []struct {
		ci   string
		fail bool
	}{{"", false}, {"false", false}, {"0", false}, {"true", true}, {"1", true}} {
		t.Run("CI="+tc.ci, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			var f fakeT
			unavailable(&f, "no mirror: %s", "timeout")
			if got := f.failed != ""; got != tc.fail {
				t.Errorf("failed %q, skipped %q; want a failure: %v", f.failed, f.skipped, tc.fail)
			}
			if !strings.Contains(f.failed+f.skipped, "no mirror: timeout") {
				t.Errorf("failed %q, skipped %q: the reason is lost", f.failed, f.skipped)
			}
		})
	}
}

// TestAptMirror: package-lifecycle.sh makes its Debian root from the
// mirror apt's sources name, in apt's order (sources.list, then
// sources.list.d by name), skipping what is no Debian release archive,
// and with apt's proxy when the environment names none. The sources
// are read from a directory that APT_CONFIG points apt-config to.
func TestAptMirror(t *testing.T) {
	if _, err := exec.LookPath("apt-config"); err != nil {
		t.Skipf("no apt-config here (not Debian or Ubuntu): %v", err)
	}
	const debian = "http://deb.debian.org/debian"
	for _, tc := range []struct {
		name  string
		files map[string]string // under Dir::Etc
		env   []string
		want  []string // lines of --print-mirror
	}{{
		name: "deb822 with a comment, security after",
		files: map[string]string{"sources.list.d/debian.sources": `Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
`},
		want: []string{"mirror http://mirror.example/debian"},
	}, {
		name: "one-line, security first, options, deb-src",
		files: map[string]string{"sources.list": `# security first
deb http://security.debian.org/debian-security bookworm-security main
deb-src http://src.example/debian bookworm main
deb [arch=amd64 signed-by=/usr/share/keyrings/x.gpg] http://mirror.example/debian bookworm main contrib # a comment
deb http://late.example/debian bookworm main
`},
		want: []string{"mirror http://mirror.example/debian"},
	}, {
		name: "spaced options",
		files: map[string]string{"sources.list": `deb [ arch=amd64 ] http://mirror.example/debian bookworm main
`},
		want: []string{"mirror http://mirror.example/debian"},
	}, {
		name: "sources.list before sources.list.d, parts by name",
		files: map[string]string{
			"sources.list":              "deb http://first.example/debian bookworm main\n",
			"sources.list.d/a.sources":  "Types: deb\nURIs: http://second.example/debian\nSuites: bookworm\nComponents: main\n",
			"sources.list.d/0.list":     "deb http://third.example/debian bookworm main\n",
			"sources.list.d/z.list.off": "deb http://never.example/debian bookworm main\n",
		},
		want: []string{"mirror http://first.example/debian"},
	}, {
		name: "a third-party archive of the suite without main, a disabled and a deb-src stanza",
		files: map[string]string{
			"sources.list.d/a-docker.list": "deb [arch=amd64] https://download.docker.com/linux/debian bookworm stable\n",
			"sources.list.d/b.sources": `Types: deb
URIs: http://disabled.example/debian
Suites: bookworm
Components: main
Enabled: no

Types: deb-src
URIs: http://src.example/debian
Suites: bookworm
Components: main

Types: deb deb-src
URIs: http://one.example/debian
  http://two.example/debian
Suites: bookworm
Components: main contrib
`,
		},
		want: []string{"mirror http://one.example/debian"},
	}, {
		name:  "apt's own URI schemes",
		files: map[string]string{"sources.list": "deb mirror+file:/etc/apt/mirrors.txt bookworm main\ndeb cdrom:[Debian]/ bookworm main\ndeb https://mirror.example/debian bookworm main\n"},
		want:  []string{"mirror https://mirror.example/debian"},
	}, {
		name:  "none for the suite",
		files: map[string]string{"sources.list": "deb http://archive.ubuntu.com/ubuntu noble main\n"},
		want:  []string{"mirror " + debian},
	}, {
		name:  "no sources at all",
		files: map[string]string{},
		want:  []string{"mirror " + debian},
	}, {
		name:  "HAVIP_DEBIAN_MIRROR wins",
		files: map[string]string{"sources.list": "deb http://mirror.example/debian bookworm main\n"},
		env:   []string{"HAVIP_DEBIAN_MIRROR=http://chosen.example/debian"},
		want:  []string{"mirror http://chosen.example/debian"},
	}, {
		name:  "HAVIP_DEBIAN_SUITE picks the entries",
		files: map[string]string{"sources.list": "deb http://experimental.example/debian experimental main\ndeb http://sid.example/debian sid main\n"},
		env:   []string{"HAVIP_DEBIAN_SUITE=sid"},
		want:  []string{"mirror http://sid.example/debian"},
	}, {
		name: "apt's proxy",
		files: map[string]string{
			"sources.list":     "deb http://mirror.example/debian bookworm main\n",
			"apt.conf.d/proxy": `Acquire::http::Proxy "http://proxy.example:3128";` + "\n",
		},
		want: []string{"mirror http://mirror.example/debian", "http_proxy http://proxy.example:3128", "https_proxy http://proxy.example:3128"},
	}, {
		name: "the environment's proxy first",
		files: map[string]string{
			"sources.list":     "deb http://mirror.example/debian bookworm main\n",
			"apt.conf.d/proxy": `Acquire::http::Proxy "http://proxy.example:3128"; Acquire::https::Proxy "DIRECT";` + "\n",
		},
		env:  []string{"http_proxy=http://env.example:8080"},
		want: []string{"mirror http://mirror.example/debian", "http_proxy http://env.example:8080"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			etc := t.TempDir()
			for _, d := range []string{"sources.list.d", "apt.conf.d", "preferences.d", "trusted.gpg.d"} {
				if err := os.MkdirAll(filepath.Join(etc, d), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			for name, content := range tc.files {
				if err := os.WriteFile(filepath.Join(etc, name), []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			conf := filepath.Join(etc, "apt.conf")
			if err := os.WriteFile(conf, []byte(fmt.Sprintf("Dir::Etc %q;\n", etc+"/")), 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("bash", filepath.Join(repo, "scripts", "package-lifecycle.sh"), "--print-mirror")
			// Only what the case sets: no mirror, suite or proxy of this
			// machine's.
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "APT_CONFIG=" + conf, "HAVIP_DEBIAN_SUITE=bookworm"}
			cmd.Env = append(cmd.Env, tc.env...)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("package-lifecycle.sh --print-mirror: %v\n%s", err, out)
			}
			got := strings.Split(strings.TrimSpace(string(out)), "\n")
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("package-lifecycle.sh --print-mirror (-want +got):\n%s", diff)
			}
		})
	}
}
