package election

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/havip/havip/config"
)

func TestMaintenanceDrainsWithoutOverlap(t *testing.T) {
	c := newTestCluster(t, nodeSpec{priority: 150, preempt: true}, nodeSpec{priority: 100, preempt: true})
	c.start(0)
	c.start(1)
	c.waitHolders("node0", 10*time.Second)
	c.nodes[0].node.SetMaintenance(true)
	c.waitHolders("node1", 2*time.Second)
	if m := c.tr.max("web"); m != 1 {
		t.Errorf("%d holders at once during drain", m)
	}
	s := c.nodes[0].node.Status()
	if !s.Maintenance || s.Instances[0].EffectivePriority != 0 {
		t.Errorf("drained node: maintenance %v, effective priority %d", s.Maintenance, s.Instances[0].EffectivePriority)
	}
	c.holdFor("node1", 300*time.Millisecond)
	c.nodes[0].node.SetMaintenance(false)
	c.waitHolders("node0", 5*time.Second)
}

func TestSwitchover(t *testing.T) {
	c := newTestCluster(t, nodeSpec{priority: 150, preempt: true}, nodeSpec{priority: 100, preempt: true}, nodeSpec{priority: 50, preempt: true})
	for i := range c.nodes {
		c.start(i)
	}
	c.waitHolders("node0", 10*time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for memberPriority(c.nodes[1].node, "node2") != 50 {
		if time.Now().After(deadline) {
			t.Fatal("node1 never saw node2's priority")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Asked on a backup, to the lowest priority: it moves and stays
	// against preemption.
	got, err := c.nodes[1].node.Switchover("web", "node2")
	if err != nil || got != "node2" {
		t.Fatalf("Switchover: %q, %v", got, err)
	}
	c.waitHolders("node2", 2*time.Second)
	c.holdFor("node2", 500*time.Millisecond)
	if m := c.tr.max("web"); m != 1 {
		t.Errorf("%d holders at once during switchover", m)
	}
	for i, tn := range c.nodes {
		if st := instanceStatus(t, tn.node, "web"); st.Switchover != "node2" {
			t.Errorf("node%d: switchover %q, want node2", i, st.Switchover)
		}
	}

	// Refused targets.
	if _, err := c.nodes[0].node.Switchover("web", "nobody"); !errors.Is(err, ErrNoTarget) || !strings.Contains(err.Error(), "not a member") {
		t.Errorf("switchover to an unknown node: %v", err)
	}
	if _, err := c.nodes[0].node.Switchover("db", ""); !errors.Is(err, ErrUnknownInstance) {
		t.Errorf("switchover of an unknown instance: %v", err)
	}
	c.nodes[1].node.SetMaintenance(true)
	deadline = time.Now().Add(5 * time.Second)
	for memberPriority(c.nodes[0].node, "node1") != 0 {
		if time.Now().After(deadline) {
			t.Fatal("node0 never saw node1 drained")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := c.nodes[0].node.Switchover("web", "node1"); !errors.Is(err, ErrNoTarget) || !strings.Contains(err.Error(), "not eligible") {
		t.Errorf("switchover to a drained node: %v", err)
	}
	c.nodes[1].node.SetMaintenance(false)
	for memberPriority(c.nodes[2].node, "node1") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("node2 never saw node1 back")
		}
		time.Sleep(10 * time.Millisecond)
	}

	// Without --to: the best other than the master.
	if got, err := c.nodes[2].node.Switchover("web", ""); err != nil || got != "node0" {
		t.Fatalf("Switchover to the best: %q, %v", got, err)
	}
	c.waitHolders("node0", 2*time.Second)

	// The target fails: the choice ends and the ranking decides again.
	if _, err := c.nodes[0].node.Switchover("web", "node1"); err != nil {
		t.Fatal(err)
	}
	c.waitHolders("node1", 2*time.Second)
	c.stop(1)
	c.waitHolders("node0", 5*time.Second)
	for _, i := range []int{0, 2} {
		if st := instanceStatus(t, c.nodes[i].node, "web"); st.Switchover != "" {
			t.Errorf("node%d: switchover %q still in force after its target left", i, st.Switchover)
		}
	}
}

func TestPenaltyLowersRank(t *testing.T) {
	c := newTestCluster(t, nodeSpec{priority: 150, preempt: true}, nodeSpec{priority: 100, preempt: true})
	c.start(0)
	c.start(1)
	c.waitHolders("node0", 10*time.Second)
	c.nodes[0].node.SetHealth("web", Health{Penalty: 60})
	c.waitHolders("node1", 2*time.Second)
	if st := instanceStatus(t, c.nodes[0].node, "web"); st.EffectivePriority != 90 || st.Penalty != 60 {
		t.Errorf("effective priority %d penalty %d, want 90 and 60", st.EffectivePriority, st.Penalty)
	}
	c.nodes[0].node.SetHealth("web", Health{Penalty: 200})
	waitUntil(t, 2*time.Second, "a penalty above the priority leaves priority 1 (still eligible)", func() bool {
		st := instanceStatus(t, c.nodes[0].node, "web")
		return st.EffectivePriority == 1 && st.Penalty == 200
	})
	c.nodes[0].node.SetHealth("web", Health{})
	c.waitHolders("node0", 2*time.Second)
}

func TestReload(t *testing.T) {
	c := newTestCluster(t, nodeSpec{priority: 150, preempt: true}, nodeSpec{priority: 100, preempt: true})
	c.start(0)
	c.start(1)
	c.waitHolders("node0", 10*time.Second)
	n1 := c.nodes[1].node
	holders := map[string]Holder{"web": n1.insts[0].holder}

	// Raise node1's priority above node0's: it preempts.
	cfg := *c.nodes[1].cfg
	cfg.Instances = []config.Instance{cfg.Instances[0]}
	cfg.Instances[0].Priority = 200
	if err := n1.Reload(NewReloadable(&cfg), holders); err != nil {
		t.Fatal(err)
	}
	c.waitHolders("node1", 2*time.Second)

	// An added instance starts; a removed one is released.
	db := cfg.Instances[0]
	db.Name = "db"
	cfg2 := cfg
	cfg2.Instances = []config.Instance{db}
	dbHolder := &fakeHolder{tr: c.tr, node: "node1", inst: "db"}
	if err := n1.Reload(NewReloadable(&cfg2), map[string]Holder{"db": dbHolder}); err != nil {
		t.Fatal(err)
	}
	c.waitHolders("node0", 2*time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for strings.Join(c.tr.held("db"), ",") != "node1" {
		if time.Now().After(deadline) {
			t.Fatalf("db holders %v, want node1", c.tr.held("db"))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := n1.Reload(NewReloadable(&cfg2), map[string]Holder{}); err == nil {
		t.Error("Reload without a holder for an instance succeeded")
	}
}

// TestReloadWithFailedRelease: a reload that removes a held instance,
// or gives it another holder, while its VIPs will not go leaves the
// instance holding them (FAULT) until a retry removes them: nobody else
// takes them meanwhile. Then the instance goes, or takes its new holder.
func TestReloadWithFailedRelease(t *testing.T) {
	c, fh := faultyPair(t)
	n0 := c.nodes[0].node
	cfg := *c.nodes[0].cfg
	cfg.Instances = []config.Instance{cfg.Instances[0]}

	// Another holder for web: the old one's VIPs stay until removed.
	fh.failRelease.Store(true)
	next := &fakeHolder{tr: c.tr, node: "node0", inst: "web"}
	if err := n0.Reload(NewReloadable(&cfg), map[string]Holder{"web": next}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, "node0 in FAULT after the failed release", func() bool {
		return instanceStatus(t, n0, "web").State == StateFault
	})
	c.holdFor("node0", time.Second)
	fh.failRelease.Store(false)
	waitUntil(t, 5*time.Second, "web held through its new holder", func() bool {
		return instanceStatus(t, n0, "web").State == StateMaster
	})
	if err := n0.control(func() {
		if n0.insts[0].holder != next || n0.insts[0].swapTo != nil {
			t.Error("web did not take its new holder")
		}
	}); err != nil {
		t.Fatal(err)
	}

	// web removed from node0 while its VIPs will not go.
	fh2 := &faultyHolder{fakeHolder: *next}
	if err := n0.Reload(NewReloadable(&cfg), map[string]Holder{"web": fh2}); err != nil {
		t.Fatal(err)
	}
	c.waitHolders("node0", 5*time.Second)
	fh2.failRelease.Store(true)
	none := cfg
	none.Instances = nil
	if err := n0.Reload(NewReloadable(&none), map[string]Holder{}); err != nil {
		t.Fatal(err)
	}
	c.holdFor("node0", time.Second)
	if st := instanceStatus(t, n0, "web"); st.State != StateFault {
		t.Errorf("removed web is %s (%s); want FAULT while its VIPs stay", st.State, st.Reason)
	}
	fh2.failRelease.Store(false)
	c.waitHolders("node1", 5*time.Second)
	waitUntil(t, 5*time.Second, "web gone from node0", func() bool { return len(n0.Status().Instances) == 0 })
	if m := c.tr.max("web"); m != 1 {
		t.Fatalf("%d holders of web at once", m)
	}
}

func memberPriority(n *Node, name string) int {
	for _, m := range n.Status().Members {
		if m.Name == name {
			return m.Priority
		}
	}
	return -1
}

// TestMissedSwitchoverEnd: node2 stops hearing the switchover's target
// and ends the switchover; node0 misses that message. The target, told,
// yields to node0, which ranks first — and node0, still following the
// switchover, waited for the target until push/pull brought the end.
// The digest of the directives in each member's metadata shows node0
// missed it, and the others send it theirs.
func TestMissedSwitchoverEnd(t *testing.T) {
	c := quorumCluster(t)
	for _, tn := range c.nodes {
		// Push/pull would bring the end within seconds; not here.
		tn.cfg.Cluster.Timing.PushPullInterval = time.Minute
	}
	for i := range c.nodes {
		c.start(i)
	}
	c.waitHolders("node0", 10*time.Second)
	waitUntil(t, 5*time.Second, "node0 sees node1's priority", func() bool { return memberPriority(c.nodes[0].node, "node1") == 100 })
	if got, err := c.nodes[0].node.Switchover("web", "node1"); err != nil || got != "node1" {
		t.Fatalf("Switchover: %q, %v", got, err)
	}
	c.waitHolders("node1", 2*time.Second)
	for i, tn := range c.nodes {
		waitUntil(t, 2*time.Second, fmt.Sprintf("node%d follows the switchover", i), func() bool {
			return instanceStatus(t, tn.node, "web").Switchover == "node1"
		})
	}
	c.tr.resetMax("web")
	c.nw.Cut(c.addr(1), c.addr(2))
	c.nw.Cut(c.addr(2), c.addr(0))
	waitUntil(t, 5*time.Second, "node2 ends the switchover", func() bool {
		return instanceStatus(t, c.nodes[2].node, "web").Switchover == ""
	})
	time.Sleep(200 * time.Millisecond)
	c.nw.Heal()
	c.waitHolders("node0", 3*time.Second)
	if st := instanceStatus(t, c.nodes[0].node, "web").Switchover; st != "" {
		t.Errorf("node0 still follows a switchover to %q", st)
	}
	if m := c.tr.max("web"); m > 1 {
		t.Errorf("%d holders at once:\n%s", m, c.tr.history())
	}
}

// TestSwitchoverMissedWhileLinkDown: the holder's link goes down (its
// instance faults, it lets the VIP go, nobody hears that) and a
// switchover to node2 is made meanwhile. When the link is back a moment
// later, node2 sees the VIP free and takes it as the target, and node0,
// which never heard of the switchover, ranks first on its own view. The
// two views of the switchovers differ (their digests in the metadata
// show it), so the takeover waits until they agree: one holder, node2.
func TestSwitchoverMissedWhileLinkDown(t *testing.T) {
	c := quorumCluster(t)
	for i := range c.nodes {
		c.start(i)
	}
	c.waitHolders("node0", 10*time.Second)
	waitUntil(t, 5*time.Second, "node1 sees node2's priority", func() bool { return memberPriority(c.nodes[1].node, "node2") == 50 })
	c.tr.resetMax("web")
	c.nw.Isolate(c.addr(0))
	c.nodes[0].node.SetHealth("web", Health{Fault: "interface eth0 down"})
	c.waitHolders("", time.Second)
	if got, err := c.nodes[1].node.Switchover("web", "node2"); err != nil || got != "node2" {
		t.Fatalf("Switchover: %q, %v", got, err)
	}
	time.Sleep(50 * time.Millisecond)
	c.nw.Unisolate(c.addr(0))
	c.nodes[0].node.SetHealth("web", Health{})
	c.waitHolders("node2", 3*time.Second)
	c.holdFor("node2", 500*time.Millisecond)
	if m := c.tr.max("web"); m > 1 {
		t.Errorf("%d holders at once:\n%s", m, c.tr.history())
	}
	if st := instanceStatus(t, c.nodes[0].node, "web").Switchover; st != "node2" {
		t.Errorf("node0 follows a switchover to %q, want node2", st)
	}
}
