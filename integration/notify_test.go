package integration

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/havip/havip/internal/testbed"
)

// notifyListener listens where systemd would for node i and returns
// every message the daemon sends.
func notifyListener(t *testing.T, dir string, i int) (string, <-chan string) {
	t.Helper()
	path := filepath.Join(dir, fmt.Sprintf("notify%d.sock", i))
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	msgs := make(chan string, 100)
	go func() {
		defer close(msgs)
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			msgs <- string(buf[:n])
		}
	}()
	return path, msgs
}

func awaitNotify(t *testing.T, msgs <-chan string, prefix string, within time.Duration) {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case m, ok := <-msgs:
			if !ok {
				t.Fatalf("notify socket closed before %q", prefix)
			}
			if strings.HasPrefix(m, prefix) {
				return
			}
		case <-deadline:
			t.Fatalf("no %q within %v", prefix, within)
		}
	}
}

// TestSystemdNotify runs real daemons as systemd would start a
// Type=notify unit: each reports READY once its instance has left INIT,
// and STOPPING when SIGTERM begins the handover.
func TestSystemdNotify(t *testing.T) {
	c := newCluster(t, 2, false)
	vip := testbed.VIP4(0)
	c.configure(c.opts(web(true, 150, 100)))

	var msgs [2]<-chan string
	for i, d := range c.nodes {
		var path string
		path, msgs[i] = notifyListener(t, c.dir, i)
		f, err := os.OpenFile(d.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		d.starts++
		p, err := c.net.Start(d.ns, []string{"env", "NOTIFY_SOCKET=" + path, havipBin, "run", "--config", d.config}, f, f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		d.proc = p
	}

	for i := range c.nodes {
		awaitNotify(t, msgs[i], "READY=1", 20*time.Second)
		s, err := c.status(i)
		if err != nil {
			t.Fatal(err)
		}
		in, err := s.instance("web")
		if err != nil {
			t.Fatal(err)
		}
		if in.State == "INIT" {
			t.Errorf("node %d: READY sent while instance web is in INIT", i)
		}
	}
	c.waitHolders(vip, 0)

	if code := c.stop(0); code != 0 {
		t.Errorf("node 0: exit %d after SIGTERM, want 0", code)
	}
	awaitNotify(t, msgs[0], "STOPPING=1", time.Second)
	c.waitHolders(vip, 1)
}
