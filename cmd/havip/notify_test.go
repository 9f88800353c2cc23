package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/havip/havip/config"
)

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// notifySocket listens where systemd would, and returns the messages it
// receives.
func notifySocket(t *testing.T) <-chan string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	msgs := make(chan string, 100)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(msgs)
				return
			}
			msgs <- string(buf[:n])
		}
	}()
	return msgs
}

// await waits for a message that starts with prefix, skipping others.
func await(t *testing.T, msgs <-chan string, prefix string, within time.Duration) string {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case m, ok := <-msgs:
			if !ok {
				t.Fatalf("notify socket closed while waiting for %q", prefix)
			}
			if strings.HasPrefix(m, prefix) {
				return m
			}
		case <-deadline:
			t.Fatalf("no %q from the daemon within %v", prefix, within)
		}
	}
}

// TestServeNotifiesSystemd runs a witness daemon (no instances, so it
// touches no interface) on loopback with a fake NOTIFY_SOCKET and
// watchdog: READY once it is in the cluster, watchdog pings, nothing on
// SIGHUP but a status, STOPPING on SIGTERM, then exit 0.
func TestServeNotifiesSystemd(t *testing.T) {
	msgs := notifySocket(t)
	t.Setenv("WATCHDOG_USEC", "200000")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))

	dir := t.TempDir()
	path := filepath.Join(dir, "havip.toml")
	text := fmt.Sprintf(`
[node]
name = "witness"
bind = "127.0.0.1:%d"
[cluster]
name = "notify-test"
insecure = true
[status]
socket = "havip.sock"
`, freePort(t))
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}

	sigs := make(chan os.Signal, 1)
	done := make(chan int, 1)
	go func() { done <- serve(cfg, slog.New(slog.DiscardHandler), sigs) }()

	ready := await(t, msgs, "READY=1", 10*time.Second)
	if !strings.Contains(ready, "STATUS=serving 0 instances in cluster notify-test") {
		t.Errorf("READY message %q lacks the status", ready)
	}
	start := time.Now()
	await(t, msgs, "WATCHDOG=1", 2*time.Second)
	await(t, msgs, "WATCHDOG=1", 2*time.Second)
	if d := time.Since(start); d > time.Second {
		t.Errorf("two watchdog pings took %v with WATCHDOG_USEC of 200ms", d)
	}

	// Reload: the file changed, the daemon keeps running and says so.
	if err := os.WriteFile(path, []byte(strings.Replace(text, "notify-test", "notify-test2", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	sigs <- syscall.SIGHUP
	if m := await(t, msgs, "STATUS=", 5*time.Second); !strings.Contains(m, "restart to apply") {
		t.Errorf("status after SIGHUP = %q", m)
	}
	select {
	case code := <-done:
		t.Fatalf("serve returned %d after SIGHUP", code)
	default:
	}

	sigs <- syscall.SIGTERM
	await(t, msgs, "STOPPING=1", 5*time.Second)
	select {
	case code := <-done:
		if code != exitOK {
			t.Errorf("exit code %d, want %d", code, exitOK)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not return after SIGTERM")
	}
}

// TestNotifierWithoutSocket: with no NOTIFY_SOCKET nothing is sent and no
// watchdog goroutine stays behind.
func TestNotifierWithoutSocket(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	t.Setenv("WATCHDOG_USEC", "")
	n := notifier{log: slog.New(slog.DiscardHandler)}
	n.send("READY=1")
	done := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { n.watchdog(ctx); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Error("watchdog goroutine runs without WATCHDOG_USEC")
	}
	cancel()
}
