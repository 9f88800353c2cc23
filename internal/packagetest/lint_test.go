package packagetest

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// linter finds a distribution's package checker. Where it is missing, a
// root test run fails (scripts/test.sh installs it as root, through
// scripts/deps.sh); another user's skips, saying why.
func linter(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Geteuid() == 0 {
		t.Fatalf("no %s here: scripts/test.sh installs %s as root", name, pkg)
	}
	t.Skipf("no %s here, and only root installs it (scripts/test.sh)", name)
	return ""
}

// lintDeb runs lintian as a distribution's reviewer would, with info and
// pedantic tags: it must report nothing. What the package draws on
// purpose is in packaging/lintian-overrides, each with its reason; an
// override that no longer matches is itself reported.
func lintDeb(t *testing.T, deb string) {
	t.Helper()
	lintian := linter(t, "lintian", "lintian")
	cmd := exec.Command(lintian, "--fail-on", "error,warning,info,pedantic", "--display-info", "--pedantic", deb)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	// The tags are on stdout; stderr has lintian's notes (that it runs
	// as root, say).
	out, err := cmd.Output()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("lintian: %v\n%s%s", err, out, stderr.Bytes())
	}
}

// lintRPM runs rpmlint with packaging/rpmlint.toml and the filters of
// packaging/rpmlintrc (each with its reason; a filter that no longer
// matches is an error): no error, no warning.
//
// rpmlint unpacks the package with `rpm2cpio | cpio -id`, and the .rpm's
// payload names its files with absolute paths (/usr/bin/havip), which GNU
// cpio would write to this machine's own /usr and /etc. A cpio that
// strips the leading slash comes first on rpmlint's PATH, so that the
// files land in rpmlint's directory, where it reads them.
func lintRPM(t *testing.T, rpm string) {
	t.Helper()
	rpmlint := linter(t, "rpmlint", "rpmlint")
	cpio, err := exec.LookPath("cpio")
	if err != nil {
		t.Fatalf("no cpio for rpmlint to unpack the package with: %v", err)
	}
	shim := t.TempDir()
	script := "#!/bin/sh\nexec " + cpio + " --no-absolute-filenames \"$@\"\n"
	if err := os.WriteFile(filepath.Join(shim, "cpio"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	pkgDir, err := filepath.Abs(filepath.Join(repo, "packaging"))
	if err != nil {
		t.Fatal(err)
	}
	rpm, err = filepath.Abs(rpm)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(rpmlint, "--config", filepath.Join(pkgDir, "rpmlint.toml"), "-r", filepath.Join(pkgDir, "rpmlintrc"), rpm)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "PATH="+shim+string(os.PathListSeparator)+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "0 errors, 0 warnings") {
		t.Errorf("rpmlint: %v\n%s", err, out)
	}
	// rpmlint reports an unpacked binary it cannot find as no-binary;
	// had it found none, its checks of the files would have seen nothing.
	if strings.Contains(string(out), "no-binary") {
		t.Errorf("rpmlint did not see the package's files:\n%s", out)
	}
}

// checkManPage checks the packaged manual page: it has each section a
// manual page needs, and every command of `havip help` (usage).
func checkManPage(t *testing.T, gz []byte, usage string) {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatalf("manual page: %v", err)
	}
	page, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("manual page: %v", err)
	}
	for _, sec := range []string{".SH NAME", ".SH SYNOPSIS", ".SH DESCRIPTION", ".SH COMMANDS", ".SH FILES", `.SH "EXIT STATUS"`} {
		if !bytes.Contains(page, []byte("\n"+sec+"\n")) {
			t.Errorf("manual page lacks %s", sec)
		}
	}
	cmds := regexp.MustCompile(`(?m)^  havip (\w+)`).FindAllStringSubmatch(usage, -1)
	if len(cmds) < 5 {
		t.Fatalf("havip help lists %d commands:\n%s", len(cmds), usage)
	}
	for _, c := range cmds {
		if !regexp.MustCompile(`(?m)^\.B ` + c[1] + `\b`).Match(page) {
			t.Errorf("manual page lacks the command %s of `havip help`", c[1])
		}
	}
}

// TestLifecycle installs, upgrades, removes and purges the .deb in a
// throwaway Debian root (scripts/package-lifecycle.sh, which says what
// it checks). The upgrade ships a changed /etc/havip.toml, as a release
// may, so that the operator's edit meets dpkg's conffile question. It
// needs root and a Debian mirror; docs/packaging.md has a run's result.
func TestLifecycle(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: debootstrap and chroot make the throwaway Debian root")
	}
	if testing.Short() {
		t.Skip("a debootstrap takes about half a minute; skipped with -short")
	}
	debs := func(dir string) string {
		m, _ := filepath.Glob(filepath.Join(dir, "*.deb"))
		if len(m) != 1 {
			t.Fatalf("want one .deb in %s, got %v", dir, m)
		}
		return m[0]
	}
	old := debs(buildVersion(t, testVersion, "deb"))
	files, _, err := readDeb(old)
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(t.TempDir(), "havip.toml")
	changed := append(files["/etc/havip.toml"].data, "# A line the next version adds.\n"...)
	if err := os.WriteFile(conf, changed, 0o644); err != nil {
		t.Fatal(err)
	}
	next := debs(buildVersion(t, "1.2.4", "deb", "-config", conf))
	cmd := exec.Command("bash", filepath.Join(repo, "scripts", "package-lifecycle.sh"), old, next)
	// The environment goes through, http_proxy and HAVIP_DEBIAN_MIRROR
	// with it.
	cmd.Env = os.Environ()
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee) && ee.ExitCode() == 77:
		unavailable(t, "no throwaway Debian root could be made here:\n%s", out)
	case err != nil:
		t.Fatalf("package-lifecycle.sh: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "every check passed") || strings.Contains(string(out), "FAIL") {
		t.Errorf("package-lifecycle.sh:\n%s", out)
	}
	t.Logf("%s", out)
}
