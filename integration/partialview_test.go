package integration

import (
	"testing"
	"time"

	"github.com/havip/havip/internal/testbed"
)

// TestHandoverWithPartialView is a schedule the chaos checker found
// giving two holders: five members (node 4 a witness), and node 3 does
// not hear nodes 1 and 2 (a one-way cut; they hear it). Node 3 still
// has a majority (itself, the master node 0 and the witness), so when
// node 0 lets the VIP go, node 3 — the best candidate among those it
// hears — and node 1 — the best one — both took it. A member that
// others hear and that outranks this node may be taking the VIP at that
// moment: node 3 must leave it to node 1.
func TestHandoverWithPartialView(t *testing.T) {
	for _, how := range []string{"maintenance", "sigterm"} {
		t.Run(how, func(t *testing.T) { testHandoverWithPartialView(t, how) })
	}
}

func testHandoverWithPartialView(t *testing.T, how string) {
	c := newCluster(t, 5, false)
	vip := testbed.VIP4(0)
	o := c.opts(web(true, 150, 140, 130, 120))
	o.Quorum = "majority"
	c.configure(o)
	c.startAll()
	c.waitHolders(vip, 0)
	c.waitStatus([]int{0, 1, 2, 3}, expectRole("web", 0))

	if err := c.net.CutOneWay([]int{1, 2}, []int{3}); err != nil {
		t.Fatal(err)
	}
	// Long enough for node 3 to stop counting nodes 1 and 2.
	time.Sleep(2 * time.Second)
	sm := c.sample(vip)
	at := time.Now()
	switch how {
	case "maintenance":
		if _, stderr, err := c.havip(0, "maintenance", "on", "--socket", c.nodes[0].socket); err != nil {
			t.Fatalf("havip maintenance on: %v: %s", err, stderr)
		}
	case "sigterm":
		c.stop(0)
	}
	c.waitHolders(vip, 1)
	time.Sleep(2 * time.Second)
	r := sm.stop()
	two := r.TimeWhere(at, r.Last.At, twoOrMore)
	took, _ := r.FirstWhere(at, heldByOther(0))
	t.Logf("node 0 let go (%s): another node held %v later; two holders for %v; holders now %v", how, ms(took.Sub(at)), ms(two), r.Last.Holders)
	if two > 0 {
		t.Errorf("two holders of %s for %v after node 0 let it go", vip, ms(two))
	}
}
