//go:build linux

package cloudbind_test

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/havip/havip/cloudbind"
	"github.com/havip/havip/config"
)

func execCfg(acquire, release []string) config.Cloud {
	return config.Cloud{Provider: config.ProviderExec, Acquire: acquire, Release: release, Timeout: 2 * time.Second, Retries: 2}
}

func TestExecRunsWithEnvironment(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "/run/systemd/notify")
	t.Setenv("WATCHDOG_USEC", "30000000")
	t.Setenv("HAVIP_TEST_KEEP", "kept")
	out := filepath.Join(t.TempDir(), "out")
	script := `echo "$HAVIP_ACTION $HAVIP_INSTANCE $HAVIP_INTERFACE $HAVIP_VIPS $1 $HAVIP_TEST_KEEP [$NOTIFY_SOCKET$WATCHDOG_USEC]" >> ` + out
	p := mustProvider(t, execCfg([]string{"sh", "-c", script, "sh", "up"}, []string{"sh", "-c", script, "sh", "down"}), opts(nil))
	b := p.Binder(inst)
	if moved, err := b.Bind(ctx(t)); err != nil || !moved {
		t.Fatalf("Bind: %v %v", moved, err)
	}
	if err := b.Unbind(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Check(ctx(t)); !errors.Is(err, cloudbind.ErrNoCheck) {
		t.Errorf("Check: %v, want ErrNoCheck", err)
	}
	data, _ := os.ReadFile(out)
	// systemd's notification socket and watchdog belong to the daemon.
	want := "acquire web eth0 " + vip + " up kept []\nrelease web eth0 " + vip + " down kept []\n"
	if string(data) != want {
		t.Errorf("ran:\n%s\nwant:\n%s", data, want)
	}
	if cloudbind.Reconciles(p) {
		t.Error("exec claims it can re-check its binding")
	}
}

func TestExecRetriesThenFails(t *testing.T) {
	count := filepath.Join(t.TempDir(), "count")
	script := `echo x >> ` + count + `; echo "no route to the API" >&2; echo "second line" >&2; exit 3`
	b := mustProvider(t, execCfg([]string{"sh", "-c", script}, nil), opts(nil)).Binder(inst)
	_, err := b.Bind(ctx(t))
	if err == nil || !strings.Contains(err.Error(), "exit status 3: no route to the API") || strings.Contains(err.Error(), "second line") {
		t.Fatalf("Bind: %v, want how it ended and the first line of its standard error", err)
	}
	data, _ := os.ReadFile(count)
	if n := strings.Count(string(data), "x"); n != 3 {
		t.Errorf("ran %d times, want 1 + 2 retries", n)
	}
}

// A command that writes without end: what is kept of it stays bounded.
func TestExecOutputBounded(t *testing.T) {
	c := execCfg([]string{"sh", "-c", "head -c 1000000 /dev/zero | tr '\\0' x >&2; exit 1"}, nil)
	c.Retries = 0
	_, err := mustProvider(t, c, opts(nil)).Binder(inst).Bind(ctx(t))
	if err == nil || len(err.Error()) > 1000 {
		t.Fatalf("Bind: an error of %d bytes", len(err.Error()))
	}
}

// The timeout ends the command and every process it started.
func TestExecTimeoutKillsProcessGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	c := execCfg([]string{"sh", "-c", `sleep 30 & echo $! > "$1"; sleep 30`, "sh", pidFile}, nil)
	c.Timeout, c.Retries = 300*time.Millisecond, 0
	_, err := mustProvider(t, c, opts(nil)).Binder(inst).Bind(ctx(t))
	if err == nil || !strings.Contains(err.Error(), "timed out after") {
		t.Fatalf("Bind: %v, want a timeout", err)
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for running(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("the command's child %d still runs after the timeout", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// running reports whether pid runs (a zombie waiting for its parent does
// not count).
func running(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}
