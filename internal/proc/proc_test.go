//go:build linux

package proc

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestRunResult(t *testing.T) {
	r := Run(context.Background(), []string{"/bin/sh", "-c", "echo oops >&2; exit 3"}, nil, 5*time.Second)
	if r.OK() || r.ExitCode != 3 || r.TimedOut || r.Stderr != "oops" {
		t.Errorf("Run = %+v, want exit 3 with stderr oops", r)
	}
	r = Run(context.Background(), []string{"/bin/sh", "-c", "exit 0"}, nil, 5*time.Second)
	if !r.OK() || r.ExitCode != 0 {
		t.Errorf("Run = %+v, want success", r)
	}
	r = Run(context.Background(), []string{"/nonexistent/program"}, nil, 5*time.Second)
	if r.OK() || r.ExitCode != -1 {
		t.Errorf("Run of a missing program = %+v, want a failure", r)
	}
	r = Run(context.Background(), []string{"/bin/sh", "-c", "head -c 5000 /dev/zero | tr '\\0' x >&2; exit 1"}, nil, 5*time.Second)
	if len(r.Stderr) != StderrLimit {
		t.Errorf("stderr kept %d bytes, want %d", len(r.Stderr), StderrLimit)
	}
}

func TestRunEnv(t *testing.T) {
	r := Run(context.Background(), []string{"/bin/sh", "-c", `test "$HAVIP_X" = yes`}, []string{"HAVIP_X=yes"}, 5*time.Second)
	if !r.OK() {
		t.Errorf("environment not passed: %+v", r)
	}
}

// TestTimeoutKillsGroup starts a script that leaves a child in the
// background and hangs: the timeout must end both.
func TestTimeoutKillsGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	start := time.Now()
	r := Run(context.Background(), []string{"/bin/sh", "-c", `sleep 30 & echo $! > "$1"; sleep 30`, "sh", pidFile}, nil, 300*time.Millisecond)
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("Run took %v with a 300ms timeout", el)
	}
	if !r.TimedOut || r.OK() {
		t.Fatalf("Run = %+v, want a timeout", r)
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("background child %d still runs after the timeout", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// alive reports whether pid runs (a zombie waiting for its parent does
// not count).
func alive(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

func TestEnviron(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "/run/systemd/notify")
	t.Setenv("WATCHDOG_USEC", "30000000")
	t.Setenv("HAVIP_KEEP", "1")
	env := strings.Join(Environ("HAVIP_X=2"), "\n")
	if strings.Contains(env, "NOTIFY_SOCKET") || strings.Contains(env, "WATCHDOG_USEC") {
		t.Errorf("daemon-only variables passed on:\n%s", env)
	}
	if !strings.Contains(env, "HAVIP_KEEP=1") || !strings.HasSuffix(env, "HAVIP_X=2") {
		t.Errorf("environment lacks the inherited or the extra variables:\n%s", env)
	}
}

// TestRunAs runs a command as another user and group: its IDs are those
// given, with no group of the daemon's left over, in the root directory.
func TestRunAs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: starts a command as another user")
	}
	cred := &Credential{UID: 65534, GID: 65533, Groups: []uint32{65532}}
	r := RunAs(context.Background(), cred, []string{"/bin/sh", "-c", `echo "$(id -u) $(id -g) $(id -G) $(pwd)" >&2`}, nil, 5*time.Second)
	if !r.OK() {
		t.Fatalf("RunAs = %+v", r)
	}
	if want := "65534 65533 65533 65532 /"; r.Stderr != want {
		t.Errorf("the command ran as %q, want %q (uid, gid, groups, directory)", r.Stderr, want)
	}
	r = RunAs(context.Background(), nil, []string{"/bin/sh", "-c", `id -u >&2`}, nil, 5*time.Second)
	if !r.OK() || r.Stderr != "0" {
		t.Errorf("RunAs without a credential = %+v, want the daemon's user, root", r)
	}
}
