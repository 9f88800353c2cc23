package doccheck

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// demoPackages are what the README promises scripts/demo.sh installs,
// and all it installs.
var demoPackages = []string{"iproute2", "iputils-ping", "nftables"}

// depsChecked returns the packages scripts/deps.sh checks for when
// sourced with mode in HAVIP_DEPS, as root or not (a stand-in id says
// which), in its dry run: nothing is installed.
func depsChecked(t *testing.T, mode string, root bool) []string {
	t.Helper()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skipf("no bash to run scripts/deps.sh with: %v", err)
	}
	uid := "1000"
	if root {
		uid = "0"
	}
	stubs := t.TempDir()
	if err := os.WriteFile(filepath.Join(stubs, "id"), []byte("#!/bin/sh\necho "+uid+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bash, "-c", ". scripts/deps.sh")
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), "PATH="+stubs+string(os.PathListSeparator)+os.Getenv("PATH"), "HAVIP_DEPS_DRY_RUN=1", "HAVIP_DEPS="+mode)
	out, err := cmd.CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "go is not on PATH") {
			t.Skipf("scripts/deps.sh wants go on PATH: %s", out)
		}
		t.Fatalf("HAVIP_DEPS=%s scripts/deps.sh: %v\n%s", mode, err, out)
	}
	var pkgs []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(l)
		if len(f) != 2 || (f[1] != "present" && f[1] != "missing") {
			t.Fatalf("dry run line %q, want PACKAGE present|missing", l)
		}
		pkgs = append(pkgs, f[0])
	}
	return pkgs
}

// TestDeps: the demo installs its three tools and nothing else, even as
// root; test.sh adds, as root only, the tools the tests check with.
func TestDeps(t *testing.T) {
	for _, tc := range []struct {
		mode string
		root bool
		more bool // more than the demo's
	}{
		{"demo", true, false},
		{"demo", false, false},
		{"test", false, false},
		{"test", true, true},
	} {
		got := depsChecked(t, tc.mode, tc.root)
		if !tc.more {
			if diff := cmp.Diff(demoPackages, got); diff != "" {
				t.Errorf("HAVIP_DEPS=%s, root %v (-want +got):\n%s", tc.mode, tc.root, diff)
			}
			continue
		}
		if len(got) <= len(demoPackages) || !slices.Equal(got[:len(demoPackages)], demoPackages) {
			t.Errorf("HAVIP_DEPS=%s as root checks %q, want %q and more", tc.mode, got, demoPackages)
		}
	}
}

// TestReadmeDeps: the README's "Two commands" names every package each
// script installs, and test.sh's alone under test.sh.
func TestReadmeDeps(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(repo, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	section := regexp.MustCompile("(?s)\n## Two commands\n(.*?)\n## ").FindSubmatch(readme)
	if section == nil {
		t.Fatal(`README.md has no "## Two commands" section`)
	}
	text := strings.Join(strings.Fields(string(section[1])), " ")
	demoAt := strings.Index(text, "`scripts/demo.sh` installs")
	testAt := strings.Index(text, "`scripts/test.sh` installs")
	if demoAt < 0 || testAt < demoAt {
		t.Fatalf("the section says neither what `scripts/demo.sh` installs nor then what `scripts/test.sh` installs:\n%s", text)
	}
	demoSays, testSays := text[demoAt:testAt], text[testAt:]
	for _, p := range depsChecked(t, "demo", true) {
		if !strings.Contains(demoSays, "`"+p+"`") {
			t.Errorf("README.md does not say scripts/demo.sh installs %s: %q", p, demoSays)
		}
	}
	for _, p := range depsChecked(t, "test", true) {
		switch {
		case slices.Contains(demoPackages, p):
		case !strings.Contains(testSays, "`"+p+"`"):
			t.Errorf("README.md does not say scripts/test.sh installs %s: %q", p, testSays)
		case strings.Contains(demoSays, "`"+p+"`"):
			t.Errorf("README.md names %s, which only scripts/test.sh installs, for scripts/demo.sh: %q", p, demoSays)
		}
	}
	// What the tests reach besides apt's mirror.
	for _, s := range []string{"Go module proxy", "Debian mirror", "`HAVIP_DEBIAN_MIRROR`", "`CI=true`"} {
		if !strings.Contains(testSays, s) {
			t.Errorf("README.md does not mention %s for scripts/test.sh", s)
		}
	}
}
