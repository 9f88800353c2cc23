package packagetest

import (
	"bufio"
	"context"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/havip/havip/config"
)

const repo = "../.."

const testVersion = "1.2.3"

// buildPackages runs the packaging module and returns the .deb and .rpm
// it wrote. It skips when the module's dependencies cannot be fetched (no
// network, no module proxy), and fails then under CI.
func buildPackages(t *testing.T) (deb, rpm string) {
	t.Helper()
	out := buildVersion(t, testVersion, "deb,rpm")
	debs, _ := filepath.Glob(filepath.Join(out, "*.deb"))
	rpms, _ := filepath.Glob(filepath.Join(out, "*.rpm"))
	if len(debs) != 1 || len(rpms) != 1 {
		t.Fatalf("want one .deb and one .rpm in %s, got %v and %v", out, debs, rpms)
	}
	return debs[0], rpms[0]
}

// buildVersion builds the packages of version in formats into a
// directory of the test's, which it returns; flags go to the packaging
// module.
func buildVersion(t *testing.T, version, formats string, flags ...string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("building packages is slow; skipped with -short")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		unavailable(t, "no go command to build the packages with: %v", err)
	}
	dir := filepath.Join(repo, "packaging")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dl := exec.CommandContext(ctx, goBin, "mod", "download")
	dl.Dir = dir
	if out, err := dl.CombinedOutput(); err != nil {
		unavailable(t, "cannot fetch the packaging tool (nfpm) and its dependencies: %v\n%s", err, out)
	}
	out := t.TempDir()
	args := append([]string{"run", ".", "-version", version, "-formats", formats, "-out", out}, flags...)
	build := exec.CommandContext(ctx, goBin, args...)
	build.Dir = dir
	if msg, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the packages: %v\n%s", err, msg)
	}
	return out
}

// wantLicense is the SPDX identifier of havip's licence (LICENSE), which
// both packages name.
const wantLicense = "Apache-2.0"

// checkCopyright checks the .deb's copyright file, in Debian's
// machine-readable format: every License field names havip's licence,
// the one for all files (Files: *) among them.
func checkCopyright(t *testing.T, data []byte) {
	t.Helper()
	var licenses []string
	allFiles := false
	for _, para := range strings.Split(string(data), "\n\n") {
		fields := map[string]string{}
		for _, l := range strings.Split(para, "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && !strings.HasPrefix(l, " ") {
				fields[k] = strings.TrimSpace(v)
			}
		}
		if lic, ok := fields["License"]; ok {
			licenses = append(licenses, lic)
			if fields["Files"] == "*" && lic == wantLicense {
				allFiles = true
			}
		}
	}
	if len(licenses) == 0 || !allFiles {
		t.Errorf("copyright file: licences %q, want %s for Files: *:\n%s", licenses, wantLicense, data)
	}
	for _, l := range licenses {
		if l != wantLicense {
			t.Errorf("copyright file names licence %q, want %q", l, wantLicense)
		}
	}
}

// common is what both packages hold, with modes.
var common = map[string]os.FileMode{
	"/usr/bin/havip":                                  0o755,
	"/usr/lib/systemd/system/havip.service":           0o644,
	"/etc/havip.toml":                                 0o644,
	"/etc/havip":                                      os.ModeDir | 0o700,
	"/usr/share/bash-completion/completions/havip":    0o644,
	"/usr/share/fish/vendor_completions.d/havip.fish": 0o644,
	"/usr/share/doc/havip/examples/havip.service":     0o644,
	"/usr/share/doc/havip/examples/reference.toml":    0o644,
	"/usr/share/man/man1/havip.1.gz":                  0o644,
}

// Files of one format only.
var (
	debOnly = map[string]os.FileMode{
		"/usr/share/zsh/vendor-completions/_havip": 0o644,
		"/usr/share/doc/havip/copyright":           0o644,
		"/usr/share/doc/havip/changelog.Debian.gz": 0o644,
		"/usr/share/lintian/overrides/havip":       0o644,
	}
	rpmOnly = map[string]os.FileMode{
		"/usr/share/zsh/site-functions/_havip": 0o644,
		"/usr/share/licenses/havip/LICENSE":    0o644,
	}
)

func wantFiles(t *testing.T, only map[string]os.FileMode) map[string]os.FileMode {
	t.Helper()
	want := maps.Clone(only)
	maps.Copy(want, common)
	docs, err := filepath.Glob(filepath.Join(repo, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range docs {
		want["/usr/share/doc/havip/"+filepath.Base(d)] = 0o644
	}
	return want
}

func checkFiles(t *testing.T, kind string, got map[string]*entry, want map[string]os.FileMode) {
	t.Helper()
	for p, mode := range want {
		e, ok := got[p]
		if !ok {
			t.Errorf("%s lacks %s", kind, p)
			continue
		}
		if e.mode != mode {
			t.Errorf("%s: %s has mode %v, want %v", kind, p, e.mode, mode)
		}
	}
	for p, e := range got {
		if e.config != (p == "/etc/havip.toml") {
			t.Errorf("%s: %s marked as configuration: %v", kind, p, e.config)
		}
	}
}

func TestPackages(t *testing.T) {
	debPath, rpmPath := buildPackages(t)

	t.Run("deb", func(t *testing.T) {
		files, control, err := readDeb(debPath)
		if err != nil {
			t.Fatal(err)
		}
		checkFiles(t, "deb", files, wantFiles(t, debOnly))
		for _, s := range []string{"postinst", "prerm", "postrm"} {
			if !strings.HasPrefix(string(control[s]), "#!/bin/sh") {
				t.Errorf("deb lacks the %s script", s)
			}
		}
		if !strings.Contains(string(control["control"]), "Version: "+testVersion+"-1\n") {
			t.Errorf("control file without version %s:\n%s", testVersion, control["control"])
		}

		// The packaged configuration is commented and loads (the key it
		// names is written later by `havip init --no-config`).
		conf := files["/etc/havip.toml"].data
		if !strings.HasPrefix(string(conf), "#") {
			t.Errorf("packaged /etc/havip.toml is not commented:\n%s", conf)
		}
		cfg, err := config.ParseWithOptions(conf, "/etc/havip.toml", config.ParseOptions{SkipKeyFile: true})
		if err != nil {
			t.Errorf("packaged /etc/havip.toml does not parse: %v", err)
		} else if cfg.Cluster.SecretKeyFile != "/etc/havip/secret.key" {
			t.Errorf("packaged configuration names key %q", cfg.Cluster.SecretKeyFile)
		}
		checkCopyright(t, files["/usr/share/doc/havip/copyright"].data)
		if !strings.Contains(string(files["/usr/share/bash-completion/completions/havip"].data), "complete -F _havip havip") {
			t.Error("bash completion is not the generated script")
		}

		// The packaged binary runs here and knows its version.
		if runtime.GOOS == "linux" {
			bin := filepath.Join(t.TempDir(), "havip")
			if err := os.WriteFile(bin, files["/usr/bin/havip"].data, 0o755); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(bin, "version").CombinedOutput()
			if err != nil || !strings.Contains(string(out), "havip "+testVersion) {
				t.Errorf("packaged havip version: %q, %v", out, err)
			}
			usage, err := exec.Command(bin, "help").Output()
			if err != nil {
				t.Fatal(err)
			}
			checkManPage(t, files["/usr/share/man/man1/havip.1.gz"].data, string(usage))
		}
		lintDeb(t, debPath)

		// dpkg-deb, where installed, lists the same files.
		if dpkg, err := exec.LookPath("dpkg-deb"); err == nil {
			out, err := exec.Command(dpkg, "-c", debPath).Output()
			if err != nil {
				t.Fatalf("dpkg-deb -c: %v", err)
			}
			listed := map[string]bool{}
			sc := bufio.NewScanner(strings.NewReader(string(out)))
			for sc.Scan() {
				f := strings.Fields(sc.Text())
				if len(f) >= 6 {
					listed[path.Clean("/"+f[5])] = true
				}
			}
			for p := range files {
				if !listed[p] {
					t.Errorf("dpkg-deb -c does not list %s", p)
				}
			}
		} else {
			t.Log("no dpkg-deb here; the .deb was read in Go only")
		}
	})

	t.Run("rpm", func(t *testing.T) {
		files, license, err := readRPM(rpmPath)
		if err != nil {
			t.Fatal(err)
		}
		checkFiles(t, "rpm", files, wantFiles(t, rpmOnly))
		if license != wantLicense {
			t.Errorf("rpm License tag %q, want %q", license, wantLicense)
		}
		// rpm itself reads the same tag.
		rpmBin := linter(t, "rpm", "rpm")
		if out, err := exec.Command(rpmBin, "-qp", "--qf", "%{LICENSE}", rpmPath).Output(); err != nil || string(out) != wantLicense {
			t.Errorf("rpm -qp --qf %%{LICENSE}: %q, %v; want %q", out, err, wantLicense)
		}
		if e := files["/etc/havip.toml"]; e != nil && !e.noreplace {
			t.Error("/etc/havip.toml is not marked config(noreplace)")
		}
		out, err := exec.Command(rpmBin, "-qlp", rpmPath).Output()
		if err != nil {
			t.Fatalf("rpm -qlp: %v", err)
		}
		listed := map[string]bool{}
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			listed[l] = true
		}
		for p := range files {
			if !listed[p] {
				t.Errorf("rpm -qlp does not list %s", p)
			}
		}
		lintRPM(t, rpmPath)
	})
}

// TestUnit checks the systemd unit against what the daemon does.
func TestUnit(t *testing.T) {
	f, err := os.Open(filepath.Join(repo, "examples", "havip.service"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(l, "[") {
			section = strings.Trim(l, "[]")
			continue
		}
		if k, v, ok := strings.Cut(l, "="); ok && !strings.HasPrefix(l, "#") {
			got[section+"."+k] = append(got[section+"."+k], v)
		}
	}
	want := map[string]string{
		"Service.Type":                  "notify",
		"Service.ExecStart":             "/usr/bin/havip run --config " + config.DefaultPath,
		"Service.ExecReload":            "/bin/kill -HUP $MAINPID",
		"Service.CapabilityBoundingSet": "CAP_NET_ADMIN CAP_NET_RAW",
		// The status socket lives in the runtime directory.
		"Service.RuntimeDirectory": strings.TrimPrefix(path.Dir(config.DefaultSocket), "/run/"),
		"Service.ProtectSystem":    "strict",
		"Service.NoNewPrivileges":  "yes",
		// Exit code 2 is a configuration error.
		"Service.RestartPreventExitStatus": "2",
		"Install.WantedBy":                 "multi-user.target",
	}
	for k, v := range want {
		if len(got[k]) != 1 || got[k][0] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if ws := got["Service.WatchdogSec"]; len(ws) != 1 {
		t.Errorf("WatchdogSec = %q, want one value", ws)
	} else if d, err := time.ParseDuration(ws[0]); err != nil || d < 10*time.Second {
		t.Errorf("WatchdogSec = %q: want a duration of at least 10s", ws[0])
	}

	// systemd-analyze, where installed, must accept every line: it prints
	// what it does not understand and still exits 0. The binary's path
	// is replaced by one that exists here.
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Log("no systemd-analyze here; the unit was checked by the table above only")
		return
	}
	trueBin, err := exec.LookPath("true")
	if err != nil {
		t.Skip("no true command to stand in for havip")
	}
	unit, err := os.ReadFile(filepath.Join(repo, "examples", "havip.service"))
	if err != nil {
		t.Fatal(err)
	}
	copyPath := filepath.Join(t.TempDir(), "havip.service")
	if err := os.WriteFile(copyPath, []byte(strings.ReplaceAll(string(unit), "/usr/bin/havip", trueBin)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", "--man=no", copyPath).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
