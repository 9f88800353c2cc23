package integration

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/havip/havip/internal/failpoint"
	"github.com/havip/havip/internal/testbed"
)

// The failed-release tests make the kernel refuse node 0's VIP removal
// (the failpoint vip.remove, armed while the daemon runs: see
// internal/failpoint) and then drain node 0. A node whose release failed
// must go on counting as the holder for everyone — FAULT with the reason,
// never "not holding" while the address is still on its interface — and
// try again; nobody else may add the VIP meanwhile.
//
// With the default address lifetime the kernel removes the VIP a second
// after its last renewal, and the next attempt finds it gone; with
// permanent addresses (address_lifetime = "0s") the VIP stays until the
// removal works, which it does once the failpoint is disarmed.

// refusedFor is how long the permanent case keeps the removal failing.
const refusedFor = 3 * time.Second

func TestFailedRelease(t *testing.T) {
	if os.Getenv("HAVIP_BIN") != "" {
		t.Skip("HAVIP_BIN is set: the failed-release tests need havip built with -tags havip_failpoints, as the suite builds it")
	}
	t.Run("lifetime", func(t *testing.T) { testFailedRelease(t, false) })
	t.Run("permanent", func(t *testing.T) { testFailedRelease(t, true) })
	t.Run("stop", testFailedStop)
}

var leftCluster = regexp.MustCompile(`msg="left cluster"`)

// failpointCluster starts three nodes under majority quorum, node 0 the
// holder of web, with node 0's failpoints read from the directory it
// returns; adjust, if not nil, changes the options first.
func failpointCluster(t *testing.T, adjust func(*testbed.ClusterOpts)) (*cluster, netip.Addr, string) {
	c := newCluster(t, 3, false)
	vip := testbed.VIP4(0)
	o := c.opts(web(false, 150, 100, 50))
	o.Quorum = "majority"
	if adjust != nil {
		adjust(&o)
	}
	c.configure(o)
	fp := filepath.Join(c.dir, "failpoints0")
	if err := os.Mkdir(fp, 0o755); err != nil {
		t.Fatal(err)
	}
	c.nodes[0].env = []string{failpoint.EnvDir + "=" + fp}
	c.startAll()
	c.waitHolders(vip, 0)
	c.waitStatus(allNodes(3), expectRole("web", 0))
	return c, vip, fp
}

// testFailedStop stops node 0's daemon (SIGTERM) while its VIP removal
// is refused. It must keep saying it holds the VIP, in FAULT, while it
// tries again; the kernel removes the VIP once its lifetime runs out
// unrenewed, the next attempt finds it gone, and only then does node 0
// say it released and leave. Nobody else may add the VIP meanwhile.
func testFailedStop(t *testing.T) {
	c, vip, fp := failpointCluster(t, nil)

	sm := c.sample(vip)
	if err := os.WriteFile(filepath.Join(fp, "vip.remove"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	stopAt := time.Now()
	code := c.stop(0)
	exited := time.Now()
	c.waitHolders(vip, 1)
	r := sm.stop()

	gone, _ := r.FirstWhere(stopAt, notHeldBy(0))
	took, _ := r.FirstWhere(stopAt, heldByOther(0))
	two := r.TimeWhere(stopAt, r.Last.At, twoOrMore)
	t.Logf("stopped with the removal refused: the VIP left node 0 %v, the daemon exited (code %d) %v and node 1 held the VIP %v after SIGTERM; two holders %v",
		ms(gone.Sub(stopAt)), code, ms(exited.Sub(stopAt)), ms(took.Sub(stopAt)), ms(two))
	if two > 0 {
		t.Errorf("two holders of %s for %v after node 0 was stopped with its removal refused", vip, ms(two))
	}
	if code != 0 {
		t.Errorf("node 0 exited with code %d, want 0", code)
	}
	log := c.log(0)
	if !releaseFailed.MatchString(log) {
		t.Errorf("node 0 did not log the failed release with its cause")
	}
	if !releasedAtLast.MatchString(log) || !leftCluster.MatchString(log) {
		t.Errorf("node 0 did not log that the VIPs went at last and that it left")
	}
}

var (
	releaseFailed  = regexp.MustCompile(`msg="releasing VIPs failed; still holding them, trying again".*failpoint vip.remove`)
	vipsRemoved    = regexp.MustCompile(`msg="VIPs removed"`)
	releasedAtLast = regexp.MustCompile(`msg="VIPs released after failed attempts"`)
)

func testFailedRelease(t *testing.T, permanent bool) {
	c, vip, fp := failpointCluster(t, func(o *testbed.ClusterOpts) {
		o.StatusExtra = `metrics = "127.0.0.1:9650"`
		if permanent {
			o.Extra = "[cluster.tuning]\naddress_lifetime = \"0s\"\n"
		}
	})

	sm := c.sample(vip)
	armedAt := time.Now()
	armed := filepath.Join(fp, "vip.remove")
	if err := os.WriteFile(armed, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, stderr, err := c.havip(0, "maintenance", "on", "--socket", c.nodes[0].socket); err != nil {
		t.Fatalf("havip maintenance on: %v: %s", err, stderr)
	}
	// Node 0 says why it still holds the VIP.
	c.waitFullStatus(0, func(s *fullStatus) error {
		in := s.Instances[0]
		if in.State != "FAULT" || !strings.Contains(in.Reason, "releasing VIPs failed") {
			return fmt.Errorf("state %s, reason %q; want FAULT and the failed release", in.State, in.Reason)
		}
		return nil
	})
	disarmAt := time.Time{}
	if permanent {
		// Its metrics say it still holds, so that no alert reads "no
		// holder" while the address is on its interface.
		if v := value(c.metrics(0), "havip_instance_holding", map[string]string{"instance": "web"}); v != 1 {
			t.Errorf("node 0: havip_instance_holding %v during the failed release, want 1", v)
		}
		c.keepHolders(refusedFor, vip, 0)
		if log := c.log(0); vipsRemoved.MatchString(log) {
			t.Errorf("node 0 logged \"VIPs removed\" while removing them failed")
		}
		disarmAt = time.Now()
		if err := os.Remove(armed); err != nil {
			t.Fatal(err)
		}
	}
	c.waitHolders(vip, 1)
	c.waitStatus(allNodes(3), expectRole("web", 1))
	r := sm.stop()

	gone, _ := r.FirstWhere(armedAt, notHeldBy(0))
	took, _ := r.FirstWhere(armedAt, heldByOther(0))
	two := r.TimeWhere(armedAt, r.Last.At, twoOrMore)
	none := r.TimeWhere(armedAt, r.Last.At, noHolder)
	t.Logf("removal refused: the VIP left node 0 %v and node 1 held it %v after the failpoint was armed; two holders %v, none %v",
		ms(gone.Sub(armedAt)), ms(took.Sub(armedAt)), ms(two), ms(none))
	if two > 0 {
		t.Errorf("two holders of %s for %v after node 0's removal failed", vip, ms(two))
	}
	if permanent && gone.Before(disarmAt) {
		t.Errorf("the VIP left node 0 %v before the removal was allowed", ms(disarmAt.Sub(gone)))
	}
	log := c.log(0)
	if !releaseFailed.MatchString(log) {
		t.Errorf("node 0 did not log the failed release with its cause")
	}
	if permanent && !releasedAtLast.MatchString(log) {
		t.Errorf("node 0 did not log the release that worked after the failed attempts")
	}
}

// waitFullStatus waits until check accepts node i's full status.
func (c *cluster) waitFullStatus(i int, check func(*fullStatus) error) {
	c.t.Helper()
	err := waitFor(func() error {
		s, err := c.fullStatus(i)
		if err != nil {
			return err
		}
		if len(s.Instances) == 0 {
			return fmt.Errorf("node %d: no instance in status", i)
		}
		return check(s)
	})
	if err != nil {
		c.t.Fatalf("node %d: %v", i, err)
	}
}

// log returns what node i's daemon logged so far.
func (c *cluster) log(i int) string {
	c.t.Helper()
	data, err := os.ReadFile(c.nodes[i].logPath)
	if err != nil {
		c.t.Fatal(err)
	}
	return string(data)
}
