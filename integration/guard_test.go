package integration

import (
	"net/netip"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/havip/havip/config"
	"github.com/havip/havip/internal/testbed"
)

// TestReadyWaitsForStartupGrace starts one member of two while the other
// is down: READY means the node has joined or waited its startup_grace,
// so it comes no sooner than startup_grace after the failed join.
func TestReadyWaitsForStartupGrace(t *testing.T) {
	c := newCluster(t, 2, false)
	c.configure(c.opts(web(true, 150, 100)))
	path, msgs := notifyListener(t, c.dir, 0)
	c.nodes[0].env = []string{"NOTIFY_SOCKET=" + path}
	c.start(0)
	awaitNotify(t, msgs, "READY=1", 20*time.Second)

	start := time.Time{}
	failed, err := c.logTime(0, start, regexp.MustCompile(`no configured peer reachable`))
	if err != nil {
		t.Fatal(err)
	}
	ready, err := c.logTime(0, start, regexp.MustCompile(`msg=ready`))
	if err != nil {
		t.Fatal(err)
	}
	fast, _ := config.Profile("fast")
	if waited := ready.Sub(failed); waited < fast.StartupGrace {
		t.Errorf("READY %v after no peer answered, want at least startup_grace %v", waited, fast.StartupGrace)
	}
}

// TestGuardRefusesSubnetAddress gives a running node a VIP that is its
// subnet's network address: the reload is refused and the node keeps
// its VIP; a start with that file exits 2 before touching anything.
func TestGuardRefusesSubnetAddress(t *testing.T) {
	c := newCluster(t, 2, false)
	vip := testbed.VIP4(0)
	c.configure(c.opts(web(true, 150, 100)))
	c.startAll()
	c.waitHolders(vip, 0)

	network := testbed.Subnet4.Addr()
	bad := web(true, 150, 100)
	bad.VIPs = []netip.Addr{vip, network}
	c.configureNode(0, c.opts(bad))
	start := time.Now()
	_, stderr, err := c.havip(0, "reload", "--socket", c.nodes[0].socket)
	want := `vips[1]: "198.18.0.0" is the network address of eth0's subnet 198.18.0.0/24`
	if code := testbed.ExitCode(err); code != 1 || !strings.Contains(string(stderr), want) {
		t.Errorf("havip reload: exit %d, stderr %q; want 1 and %q", code, stderr, want)
	}
	if _, err := c.logTime(0, start, regexp.MustCompile(`reload refused.*is the network address`)); err != nil {
		t.Error(err)
	}
	if err := c.running(0).Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	c.keepHolders(time.Second, vip, 0)
	c.waitStatus(allNodes(2), expectRole("web", 0))

	// The same file on a node that starts: exit 2, nothing added.
	c.configureNode(1, c.opts(bad))
	if code := c.stop(1); code != 0 {
		t.Fatalf("node 1: exit %d after SIGTERM", code)
	}
	c.start(1)
	st, err := c.nodes[1].proc.Wait(exitWait)
	if err != nil {
		t.Fatalf("node 1 with the gateway file: %v", err)
	}
	if st.ExitCode() != 2 {
		t.Errorf("node 1 started with the network address as a VIP: exit %d, want 2", st.ExitCode())
	}
	log, err := os.ReadFile(c.nodes[1].logPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(log), want) {
		t.Errorf("node 1's output lacks %q:\n%s", want, log)
	}
	c.keepHolders(500*time.Millisecond, vip, 0)
}
