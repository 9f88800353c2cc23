package election

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/havip/havip/config"
)

// faultyHolder is a fakeHolder whose Release can be made to fail (the
// VIPs then stay "on the interface": the tracker still counts it) and
// whose Renew can report the VIPs expired.
type faultyHolder struct {
	fakeHolder
	failRelease atomic.Bool
	expired     atomic.Bool
	renewals    atomic.Int64
}

func (f *faultyHolder) Release(ctx context.Context) error {
	if f.failRelease.Load() {
		return errors.New("removing 198.18.0.100/32: operation not permitted")
	}
	return f.fakeHolder.Release(ctx)
}

func (f *faultyHolder) Renew(context.Context) error {
	f.renewals.Add(1)
	if f.expired.Swap(false) {
		f.tr.set(f.inst, f.node, false)
		return fmt.Errorf("VIPs expired: %w", ErrLost)
	}
	return nil
}

// faultyPair is a two-node cluster whose node0 holds web through a
// faultyHolder, started and settled.
func faultyPair(t *testing.T) (*testCluster, *faultyHolder) {
	t.Helper()
	c := newTestCluster(t, nodeSpec{priority: 150, preempt: true}, nodeSpec{priority: 100, preempt: true})
	fh := &faultyHolder{fakeHolder: fakeHolder{tr: c.tr, node: "node0", inst: "web"}}
	c.nodes[0].holders = map[string]Holder{"web": fh}
	c.start(0)
	c.start(1)
	c.waitHolders("node0", 10*time.Second)
	return c, fh
}

// quorumCluster is a three-node cluster under majority quorum with
// heartbeat_timeout set, so that heartbeats decide presence, and a lease
// margin of three heartbeat intervals: one for a heartbeat lost before a
// cut, one for the holder's lease check, one for a descheduled daemon
// (README's guarantee; the default profile has 2.5).
func quorumCluster(t *testing.T) *testCluster {
	c := newTestCluster(t, nodeSpec{priority: 150, preempt: true}, nodeSpec{priority: 100, preempt: true}, nodeSpec{priority: 50, preempt: true})
	quorumTiming(c)
	return c
}

// quorumTiming gives every node of c quorumCluster's timing.
func quorumTiming(c *testCluster) {
	for _, tn := range c.nodes {
		tn.cfg.Cluster.Timing.HeartbeatTimeout = 300 * time.Millisecond
		tn.cfg.Cluster.Timing.LeaseMargin = 150 * time.Millisecond
	}
}

// TestOneWayLossFromHolder: the holder's own packets are lost on the way
// out (it still hears the others). Its lease rests on their
// acknowledgements, which stop: it releases before the others, who no
// longer hear it, take over — never two holders.
func TestOneWayLossFromHolder(t *testing.T) {
	c := quorumCluster(t)
	for i := range c.nodes {
		c.start(i)
	}
	c.waitHolders("node0", 10*time.Second)
	c.holdFor("node0", 300*time.Millisecond)
	t.Logf("%s cut", time.Now().Format("15:04:05.000000"))
	c.nw.Cut(c.addr(0), c.addr(1))
	c.nw.Cut(c.addr(0), c.addr(2))
	c.waitHolders("node1", 5*time.Second)
	c.holdFor("node1", 500*time.Millisecond)
	if m := c.tr.max("web"); m != 1 {
		t.Fatalf("%d holders at once:\n%s", m, c.tr.history())
	}
	if st := instanceStatus(t, c.nodes[0].node, "web"); st.State == StateMaster || st.EffectivePriority != 0 {
		t.Errorf("node0, cut off on the way out: state %v, published priority %d; want no master, priority 0 (no quorum)", st.State, st.EffectivePriority)
	}
	c.nw.Heal()
	c.waitHolders("node0", 10*time.Second)
	if m := c.tr.max("web"); m != 1 {
		t.Fatalf("%d holders at once after the heal", m)
	}
}

// TestOneWayLossToHolder: the holder hears nobody, the others still hear
// it. It loses its lease and releases; it says it is not eligible (no
// quorum), so the next-ranked member takes over at once instead of
// waiting for a member its heartbeats show alive.
func TestOneWayLossToHolder(t *testing.T) {
	c := quorumCluster(t)
	for i := range c.nodes {
		c.start(i)
	}
	c.waitHolders("node0", 10*time.Second)
	c.holdFor("node0", 300*time.Millisecond)
	t.Logf("%s cut", time.Now().Format("15:04:05.000000"))
	c.nw.Cut(c.addr(1), c.addr(0))
	c.nw.Cut(c.addr(2), c.addr(0))
	c.waitHolders("node1", 3*time.Second)
	c.holdFor("node1", 500*time.Millisecond)
	for _, m := range c.nodes[1].node.Status().Members {
		// Alive or suspect (node1's probes do not reach it), but
		// counted: its heartbeats arrive.
		if m.Name == "node0" && (!m.State.member() || m.Priority != 0) {
			t.Errorf("node1 sees node0 %s with priority %d; want a member with priority 0 (no quorum)", m.State, m.Priority)
		}
	}
	if m := c.tr.max("web"); m != 1 {
		t.Fatalf("%d holders at once:\n%s", m, c.tr.history())
	}
	c.nw.Heal()
	c.waitHolders("node0", 10*time.Second)
}

// TestFailedReleaseKeepsHolding: a holder whose release fails goes to
// FAULT but keeps saying it holds, so nobody adds the VIPs beside the
// ones still on its interface; it tries again, and once the release
// succeeds the next member takes over.
func TestFailedReleaseKeepsHolding(t *testing.T) {
	c, fh := faultyPair(t)
	fh.failRelease.Store(true)
	c.nodes[0].node.SetHealth("web", Health{Fault: "interface eth0 down"})
	waitUntil(t, 5*time.Second, "node0 in FAULT after the failed release", func() bool {
		st := instanceStatus(t, c.nodes[0].node, "web")
		return st.State == StateFault && st.EffectivePriority == 0
	})
	c.holdFor("node0", time.Second)
	for _, m := range c.nodes[1].node.Status().Members {
		if m.Name == "node0" && (len(m.Instances) != 1 || !m.Instances[0].Holding) {
			t.Errorf("node1 sees node0 as %+v; want it still holding", m.Instances)
		}
	}
	if r := instanceStatus(t, c.nodes[1].node, "web").Reason; r != "node0 still holds (not eligible: waiting for it to release)" {
		t.Errorf("node1's reason %q", r)
	}
	fh.failRelease.Store(false)
	c.waitHolders("node1", 5*time.Second)
	if m := c.tr.max("web"); m != 1 {
		t.Fatalf("%d holders at once", m)
	}
}

// TestStopWithFailedRelease: a node stopped while the removal of its
// VIPs fails keeps saying it holds them, in FAULT, and tries again; the
// others take over only once it has removed them and left.
func TestStopWithFailedRelease(t *testing.T) {
	c, fh := faultyPair(t)
	fh.failRelease.Store(true)
	tn := c.nodes[0]
	tn.cancel()
	tn.cancel = nil
	waitUntil(t, 5*time.Second, "node0 in FAULT after the failed release", func() bool {
		return instanceStatus(t, tn.node, "web").State == StateFault
	})
	c.holdFor("node0", time.Second)
	if r := instanceStatus(t, c.nodes[1].node, "web").Reason; r != "node0 still holds (not eligible: waiting for it to release)" {
		t.Errorf("node1's reason %q", r)
	}
	fh.failRelease.Store(false)
	select {
	case err := <-tn.done:
		if err != nil {
			t.Fatalf("node0: Run: %v", err)
		}
	case <-time.After(stopRelease):
		t.Fatal("node0 did not stop once its VIPs could be removed")
	}
	c.waitHolders("node1", 5*time.Second)
	if m := c.tr.max("web"); m != 1 {
		t.Fatalf("%d holders at once", m)
	}
}

// TestStopGivesUpOnFailedRelease: when the removal still fails after
// stopRelease, the node stops without saying that it released or left:
// its last word to the others is that it holds.
func TestStopGivesUpOnFailedRelease(t *testing.T) {
	c, fh := faultyPair(t)
	fh.failRelease.Store(true)
	tn := c.nodes[0]
	tn.cancel()
	tn.cancel = nil
	select {
	case err := <-tn.done:
		if err != nil {
			t.Fatalf("node0: Run: %v", err)
		}
	case <-time.After(stopRelease + 5*time.Second):
		t.Fatal("node0 did not stop after giving up on the removal")
	}
	var m Meta
	if err := m.UnmarshalBinary(tn.node.metaBuf); err != nil {
		t.Fatal(err)
	}
	if m.Leaving || len(m.Instances) != 1 || !m.Instances[0].Holding {
		t.Errorf("node0's last metadata %+v; want holding, not leaving", m)
	}
	if st := instanceStatus(t, tn.node, "web"); st.State != StateFault {
		t.Errorf("node0's instance %s (%s); want FAULT", st.State, st.Reason)
	}
}

// TestExpiredVIPsAreNotHeld: VIPs that expired unrenewed (the daemon was
// frozen past their lifetime) are gone: the instance no longer holds and
// decides again — here, with its lease intact, it takes them again.
func TestExpiredVIPsAreNotHeld(t *testing.T) {
	c := newTestCluster(t, nodeSpec{priority: 150, preempt: true}, nodeSpec{priority: 100, preempt: true})
	fh := &faultyHolder{fakeHolder: fakeHolder{tr: c.tr, node: "node0", inst: "web"}}
	c.nodes[0].holders = map[string]Holder{"web": fh}
	var lost atomic.Bool
	c.nodes[0].before = func(n *Node) {
		n.onTrans = func(tr Transition) {
			if tr.From == StateMaster {
				lost.Store(true)
			}
		}
	}
	c.start(0)
	c.start(1)
	c.waitHolders("node0", 10*time.Second)
	waitUntil(t, 5*time.Second, "renewals", func() bool { return fh.renewals.Load() >= 3 })
	fh.expired.Store(true)
	waitUntil(t, 5*time.Second, "node0 leaves MASTER when its VIPs expire", lost.Load)
	c.waitHolders("node0", 5*time.Second)
}

// TestReplayedHeartbeatsDropped: a heartbeat is taken only from a member
// memberlist introduced, from its address, and when newer than the last
// one taken; its acknowledgement counts only for the member it was sent
// to, and only for a heartbeat this node sent in this run.
func TestReplayedHeartbeatsDropped(t *testing.T) {
	tm := testTiming()
	p := newPresence("node1", 77, tm, nil)
	addr := netip.MustParseAddrPort("127.0.0.1:7946")
	v := metaVersionOf{epoch: 5, seq: 1}
	beat := func(counter uint64, ack beatID) heartbeat {
		return heartbeat{version: &v, beat: beatID{epoch: 5, counter: counter}, acks: true, to: "node1", ack: ack}
	}
	now := time.Now()
	if p.received("node0", beat(1, beatID{}), addr, now) {
		t.Error("a heartbeat from a member nobody introduced was taken")
	}
	if _, ok := p.peers["node0"]; ok {
		t.Error("a name nobody introduced allocated state")
	}
	p.know("node0", addr)
	if !p.received("node0", beat(10, beatID{}), addr, now) {
		t.Fatal("a first heartbeat was dropped")
	}
	for _, tc := range []struct {
		name string
		hb   heartbeat
		from netip.AddrPort
	}{
		{"the same heartbeat again", beat(10, beatID{}), addr},
		{"an older heartbeat", beat(9, beatID{}), addr},
		{"from another address", beat(11, beatID{}), netip.MustParseAddrPort("127.0.0.2:7946")},
		{"an older run", heartbeat{version: &metaVersionOf{epoch: 4, seq: 9}, beat: beatID{epoch: 4, counter: 99}, acks: true, to: "node1"}, addr},
		{"a counter impossibly far ahead", beat(10+1_000_000, beatID{}), addr},
		{"an epoch more than a day ahead", heartbeat{version: &v, beat: beatID{epoch: uint64(now.Add(48 * time.Hour).UnixNano()), counter: 1}, acks: true, to: "node1"}, addr},
	} {
		if p.received("node0", tc.hb, tc.from, now.Add(time.Millisecond)) {
			t.Errorf("%s: taken", tc.name)
		}
	}
	if last, _ := p.lastHeardOf("node0"); !last.Equal(now) {
		t.Errorf("dropped heartbeats moved the last arrival to %v", last.Sub(now))
	}

	// Acknowledgements: of a heartbeat this node sent, in this run.
	m := &member{name: "node0", state: MemberAlive}
	sent := now.Add(-100 * time.Millisecond)
	p.noteSent(3, sent, 1)
	if !p.received("node0", beat(11, beatID{epoch: 76, counter: 3}), addr, now) {
		t.Fatal("heartbeat dropped")
	}
	if p.leased(m, now) {
		t.Error("an acknowledgement of another run's heartbeat renewed the lease")
	}
	if !p.received("node0", beat(12, beatID{epoch: 77, counter: 3}), addr, now) {
		t.Fatal("heartbeat dropped")
	}
	if !p.leased(m, now) || p.leased(m, sent.Add(tm.Lease+time.Millisecond)) {
		t.Error("the lease does not run from the acknowledged heartbeat's sending")
	}
	// Heard, but no longer acknowledging: the lease runs out.
	if !p.received("node0", beat(13, beatID{epoch: 77, counter: 3}), addr, now.Add(tm.Lease)) || p.leased(m, now.Add(tm.Lease+time.Millisecond)) {
		t.Error("hearing a member renewed the lease without its acknowledgement")
	}

	// A member that left and came back may be a new run with a lower
	// epoch (a clock stepped back): its heartbeats are taken again.
	p.rejoined("node0")
	if !p.received("node0", heartbeat{version: &metaVersionOf{epoch: 3}, beat: beatID{epoch: 3, counter: 1}, acks: true, to: "node1"}, addr, now.Add(time.Second)) {
		t.Error("a rejoined member's new run was dropped")
	}
}

// TestHeartbeatForAnotherMemberIgnored: a heartbeat addressed to another
// member (replayed here) changes nothing.
func TestHeartbeatForAnotherMemberIgnored(t *testing.T) {
	p := newPresence("node1", 77, testTiming(), nil)
	h := newHeartbeater("node1", slog.New(slog.DiscardHandler), p, nil)
	addr := netip.MustParseAddrPort("127.0.0.1:7946")
	p.know("node0", addr)
	v := metaVersionOf{epoch: 5, seq: 1}
	msg := appendHeartbeat(nil, "node0", heartbeat{version: &v, beat: beatID{epoch: 5, counter: 1}, acks: true, to: "node2"})
	_, payload, _ := splitNamed(msg)
	h.received("node0", payload, addr, time.Now(), true)
	if _, ok := p.lastHeardOf("node0"); ok {
		t.Error("a heartbeat sent to node2 counted on node1")
	}
	msg = appendHeartbeat(nil, "node0", heartbeat{version: &v, beat: beatID{epoch: 5, counter: 1}, acks: true, to: "node1"})
	_, payload, _ = splitNamed(msg)
	h.received("node0", payload, addr, time.Now(), true)
	if _, ok := p.lastHeardOf("node0"); !ok {
		t.Error("a heartbeat sent to node1 did not count")
	}
}

// TestEventQueueMergesWhenFull: a burst larger than the queue is merged
// per member, never dropped: the last membership change of each member
// arrives, after its earlier events and before later ones.
func TestEventQueueMergesWhenFull(t *testing.T) {
	q := newEventQueue(slog.New(slog.DiscardHandler))
	for i := range eventQueueSize {
		q.put(event{kind: evUpdate, name: fmt.Sprintf("node%d", i%3)})
	}
	q.put(event{kind: evLeave, name: "node0"})
	q.put(event{kind: evMsg, name: "node0", meta: []byte{1}})
	q.put(event{kind: evMsg, name: "node0", meta: []byte{2}})
	q.put(event{kind: evMsg, name: "node0", meta: []byte{3}, relayed: true})
	q.put(event{kind: evDirective, dirs: []directive{{Instance: "web", Target: "node1", Issued: 5}}})
	q.put(event{kind: evDirective, dirs: []directive{{Instance: "web", Target: "node2", Issued: 4}}})
	if len(q.ch) != eventQueueSize {
		t.Fatalf("channel holds %d", len(q.ch))
	}
	for range eventQueueSize {
		<-q.ch
	}
	// Still merging until the merged events are taken: order is kept.
	q.put(event{kind: evJoin, name: "node0"})
	if len(q.ch) != 0 {
		t.Error("an event overtook the merged ones")
	}
	got := q.take()
	var kinds []string
	for _, e := range got {
		kinds = append(kinds, fmt.Sprintf("%d:%s:%v:%v", e.kind, e.name, e.meta, e.relayed))
	}
	// A state passed on by another member does not replace the
	// member's own message: only the latter says it is up.
	want := []string{fmt.Sprintf("%d::[]:false", evDirective), fmt.Sprintf("%d:node0:[]:false", evJoin),
		fmt.Sprintf("%d:node0:[2]:false", evMsg), fmt.Sprintf("%d:node0:[3]:true", evMsg)}
	if fmt.Sprint(kinds) != fmt.Sprint(want) {
		t.Errorf("merged events %v, want %v", kinds, want)
	}
	if got[0].dirs[0].Target != "node1" {
		t.Errorf("merged directive %+v, want the newest", got[0].dirs[0])
	}
	q.put(event{kind: evUpdate, name: "node1"})
	if len(q.ch) != 1 {
		t.Error("after take the channel is not used again")
	}
}

// TestNextEpoch: a run's epoch is its start time, or above the last
// run's when the clock went back.
func TestNextEpoch(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	if got := NextEpoch(0, now); got != uint64(now.UnixNano()) {
		t.Errorf("first run: %d", got)
	}
	ahead := uint64(now.Add(time.Hour).UnixNano())
	if got := NextEpoch(ahead, now); got != ahead+1 {
		t.Errorf("clock an hour behind the last run: %d, want %d", got, ahead+1)
	}
}

// TestSwitchoverOutlivesAFutureDirective: a switchover issued by a member
// whose clock ran ahead does not pin the cluster: the next one, made
// with a correct clock, is issued after it and wins.
func TestSwitchoverOutlivesAFutureDirective(t *testing.T) {
	n, _ := settledNode(t, 0, nodeSpec{priority: 100}, nodeSpec{priority: 50})
	future := time.Now().Add(24 * time.Hour).UnixNano()
	n.mergeDirective(directive{Instance: "web", Target: "node0", Issued: future, Issuer: "node0"})
	d := directive{Instance: "web", Target: "node1", Issued: n.issueTime("web", time.Now()), Issuer: "node1"}
	if !d.supersedes(n.directives["web"]) {
		t.Errorf("a new directive (issued %d) does not supersede one from the future (%d)", d.Issued, future)
	}
}

// TestOneWayLossFromHolderToOne: the holder's packets to one member only
// are lost; another member still hears it and confirms its lease. The
// member that no longer hears it must not take over: the one that does
// reports hearing it, so it still ranks (and holds) there.
func TestOneWayLossFromHolderToOne(t *testing.T) {
	c := quorumCluster(t)
	for i := range c.nodes {
		c.start(i)
	}
	c.waitHolders("node0", 10*time.Second)
	c.holdFor("node0", 300*time.Millisecond)
	c.nw.Cut(c.addr(0), c.addr(1))
	c.holdFor("node0", 2*time.Second)
	if r := instanceStatus(t, c.nodes[1].node, "web").Reason; r != "node0 holds" {
		t.Errorf("node1's reason %q", r)
	}
	// node0's gossip stops as in a crash (its loop runs on and
	// releases when its lease runs out): node2 stops hearing it too, and
	// node1 takes over.
	c.crash(0)
	c.waitHolders("node1", 5*time.Second)
	if m := c.tr.max("web"); m != 1 {
		t.Fatalf("%d holders at once:\n%s", m, c.tr.history())
	}
}

// TestHearingsEncoding: the list of members a heartbeat's sender hears
// decodes to what was encoded, and a list longer than its bound or cut
// short is refused.
func TestHearingsEncoding(t *testing.T) {
	v := metaVersionOf{epoch: 7, seq: 9}
	hb := heartbeat{version: &v, beat: beatID{epoch: 7, counter: 1}, acks: true, to: "node2",
		hears: []hearing{{name: nameHash("node0"), age: 12}, {name: nameHash("node1"), age: 65535}}}
	_, payload, _ := splitNamed(appendHeartbeat(nil, "node7", hb))
	got, ok := parseHeartbeat(payload)
	if !ok || len(got.hears) != 2 || got.hears[0] != hb.hears[0] || got.hears[1] != hb.hears[1] {
		t.Errorf("decoded %+v, %v", got.hears, ok)
	}
	if _, ok := parseHeartbeat(payload[:len(payload)-1]); ok {
		t.Error("a list cut short was accepted")
	}
	long := append(payload[:len(payload)-13:len(payload)-13], byte(maxHearings+1))
	for range maxHearings + 1 {
		long = append(long, 0, 0, 0, 1, 0, 1)
	}
	if _, ok := parseHeartbeat(long); ok {
		t.Error("a list over its bound was accepted")
	}
}

// TestHandoverWithPartialView: five members (node4 a witness); node3
// does not hear node1 and node2, which hear it. node3 keeps a majority
// (itself, node0 and the witness), so when node0 is drained node3 — the
// best candidate among those it hears — and node1 — the best one — both
// took the VIP, and kept it: node3 never hears node1. node3 must rank
// node1, which the others report hearing, as a candidate.
func TestHandoverWithPartialView(t *testing.T) {
	c := newTestCluster(t,
		nodeSpec{priority: 150, preempt: true}, nodeSpec{priority: 140, preempt: true},
		nodeSpec{priority: 130, preempt: true}, nodeSpec{priority: 120, preempt: true},
		nodeSpec{noInst: true})
	quorumTiming(c)
	for i := range c.nodes {
		c.start(i)
	}
	c.waitHolders("node0", 10*time.Second)
	for _, from := range []int{1, 2} {
		c.nw.Cut(c.addr(from), c.addr(3))
	}
	// node3 stops counting node1 and node2.
	time.Sleep(time.Second)
	c.nodes[0].node.SetMaintenance(true)
	c.waitHolders("node1", 5*time.Second)
	c.holdFor("node1", time.Second)
	if m := c.tr.max("web"); m != 1 {
		t.Fatalf("%d holders at once:\n%s", m, c.tr.history())
	}
}

// TestHeardMemberUnknownHere is a history the chaos checker found giving
// two holders. Node 2 restarts while node 0 is down, so its new member
// table never has node 0 (memberlist does not add a member another only
// knows as dead). Cut off, it then misses node 0's return: node 0 takes
// the VIP back with node 1. When node 2 is reachable again it hears node
// 1, has a majority with it, and outranks it — but node 1 hears node 0,
// the holder, which node 2 has never heard of. Node 2 must not take the
// VIP on a view that lacks a member the others hear.
func TestHeardMemberUnknownHere(t *testing.T) {
	c := newTestCluster(t, nodeSpec{priority: 150, preempt: true}, nodeSpec{priority: 50, preempt: true}, nodeSpec{priority: 100, preempt: true})
	quorumTiming(c)
	for i := range c.nodes {
		c.start(i)
	}
	c.waitHolders("node0", 10*time.Second)

	// node0 dies (its VIP expires with it); node2 takes over.
	c.crash(0)
	c.tr.set("web", "node0", false)
	c.waitHolders("node2", 10*time.Second)
	// node2 restarts while node0 is still down: it joins node1 only.
	// Its rejoin round, which would find node0 again by its configured
	// address, comes only every 3 s here.
	c.stop(2)
	c.nodes[2].cfg.Cluster.Timing.RejoinInterval = 3 * time.Second
	c.start(2)
	c.waitHolders("node2", 10*time.Second)
	waitUntil(t, 5*time.Second, "node2 has no node0 in its table", func() bool {
		for _, m := range c.nodes[2].node.Status().Members {
			if m.Name == "node0" {
				return false
			}
		}
		return true
	})
	// node2 is cut off; node0 comes back and takes the VIP with node1.
	c.nw.Isolate(c.addr(2))
	c.waitHolders("", 10*time.Second)
	// Once node1 has declared node2 dead, node0 learns nothing of node2
	// from it either, and does not probe it.
	waitUntil(t, 10*time.Second, "node1 sees node2 dead", func() bool {
		for _, m := range c.nodes[1].node.Status().Members {
			if m.Name == "node2" {
				return m.State == MemberDead
			}
		}
		return false
	})
	c.start(0)
	c.waitHolders("node0", 10*time.Second)
	// Long enough for node1 to be done gossiping node0's return: node2
	// will not learn of node0 from it in passing.
	time.Sleep(time.Second)
	c.tr.resetMax("web")
	c.nw.Heal()
	// node2 hears node1 at once, node0 only after its next rejoin round
	// (or node0's probes, once node1 gossips node2 alive again).
	time.Sleep(time.Second)
	if n := c.tr.max("web"); n > 1 {
		t.Fatalf("%d holders at once after the heal:\n%s", n, c.tr.history())
	}
	c.waitHolders("node0", 10*time.Second)
}

// returnBehindOneWayCut starts three nodes, node0 first-ranked, all
// preempting; once node0 holds, it cuts node0 off until node1 holds
// (and, with waitDead, until node0 counts the others dead and a second
// more, so memberlist gossips nothing to them), then lets node0's
// packets out while nothing reaches it.
func returnBehindOneWayCut(t *testing.T, waitDead bool) *testCluster {
	t.Helper()
	c := quorumCluster(t)
	for i := range c.nodes {
		c.start(i)
	}
	c.waitHolders("node0", 10*time.Second)
	c.nw.Isolate(c.addr(0))
	c.waitHolders("node1", 10*time.Second)
	if waitDead {
		waitUntil(t, 10*time.Second, "node0 sees node1 and node2 dead", func() bool {
			dead := 0
			for _, m := range c.nodes[0].node.Status().Members {
				if m.State == MemberDead {
					dead++
				}
			}
			return dead == 2
		})
		time.Sleep(time.Second)
	}
	c.nw.Cut(c.addr(1), c.addr(0))
	c.nw.Cut(c.addr(2), c.addr(0))
	c.nw.Unisolate(c.addr(0))
	return c
}

// TestNoYieldToMemberThatCannotTake: the best-ranked member comes back
// from a link down behind a one-way cut — the others hear it, it hears
// nobody — so it has no quorum and cannot take the VIP. The holder keeps
// the VIP rather than yield to it and leave nobody holding it; once the
// cut heals it yields as usual.
func TestNoYieldToMemberThatCannotTake(t *testing.T) {
	c := returnBehindOneWayCut(t, false)
	c.holdFor("node1", 3*time.Second)
	if r := instanceStatus(t, c.nodes[1].node, "web").Reason; r != "holding" && !strings.HasPrefix(r, "holding; not yielding to node0") {
		t.Errorf("node1's reason %q", r)
	}
	c.nw.Heal()
	c.waitHolders("node0", 10*time.Second)
}

// TestMetadataResentUnderOneWayCut: a member that hears nobody publishes
// that it has no quorum, but the direct message is lost and the others'
// requests for its state do not reach it. It sends its metadata again to
// the members that have not confirmed it, so they stop ranking it as
// eligible.
func TestMetadataResentUnderOneWayCut(t *testing.T) {
	c := returnBehindOneWayCut(t, true)
	// Its old state says priority 150. The status shows a dead member's
	// as 0, and its state again once it is heard.
	for i := 1; i < 3; i++ {
		waitUntil(t, 3*time.Second, fmt.Sprintf("node%d hears node0 and learns that it is not eligible", i), func() bool {
			for _, m := range c.nodes[i].node.Status().Members {
				if m.Name == "node0" {
					return m.State == MemberAlive && m.Priority == 0
				}
			}
			return false
		})
	}
	c.holdFor("node1", 500*time.Millisecond)
}

// TestUnknownHeard: a counting member's report of hearing a member that
// this node does not know — not in its table, or left before that
// hearing — makes the view incomplete; a report of itself, of a member
// it knows, of a member's last heartbeats before a graceful leave, or an
// old report does not.
func TestUnknownHeard(t *testing.T) {
	tm := testTiming()
	tm.HeartbeatTimeout = 300 * time.Millisecond
	p := newPresence("node1", 77, tm, nil)
	addr := netip.MustParseAddrPort("127.0.0.1:7946")
	p.know("node0", addr)
	now := time.Now()
	ms := memberTable{
		"node0": {name: "node0", addr: addr.String(), state: MemberAlive, since: now.Add(-time.Minute), joined: now.Add(-time.Minute)},
	}
	report := func(hears ...hearing) {
		t.Helper()
		p.mu.Lock()
		p.peers["node0"].hears = nil
		p.mu.Unlock()
		v := metaVersionOf{epoch: 5, seq: 1}
		p.mu.Lock()
		beat := p.peers["node0"].beat
		p.mu.Unlock()
		hb := heartbeat{version: &v, beat: beatID{epoch: 5, counter: beat.counter + 1}, hears: hears}
		if !p.received("node0", hb, addr, now) {
			t.Fatal("heartbeat not taken")
		}
	}
	h := func(name string, age time.Duration) hearing {
		return hearing{name: nameHash(name), age: uint16(age.Milliseconds())}
	}
	report(h("node1", 0), h("node0", 0))
	if got := p.unknownHeard(ms, now); got != "" {
		t.Errorf("reports of this node and of the reporter: %q, want none", got)
	}
	report(h("node2", 50*time.Millisecond))
	if got := p.unknownHeard(ms, now); got != "node0" {
		t.Errorf("node2 heard 50ms ago, not in the table: %q, want node0", got)
	}
	if got := p.unknownHeard(ms, now.Add(400*time.Millisecond)); got != "" {
		t.Errorf("the same report 450ms old: %q, want none", got)
	}
	// node2 left 20 ms ago: its last heartbeats, heard before that, are
	// history; heard after, it is back.
	ms["node2"] = &member{name: "node2", state: MemberLeft, since: now.Add(-20 * time.Millisecond)}
	report(h("node2", 25*time.Millisecond))
	if got := p.unknownHeard(ms, now); got != "" {
		t.Errorf("node2 heard before it left: %q, want none", got)
	}
	ms["node2"].since = now.Add(-200 * time.Millisecond)
	report(h("node2", 10*time.Millisecond))
	if got := p.unknownHeard(ms, now); got != "node0" {
		t.Errorf("node2 heard 190ms after it left: %q, want node0", got)
	}
	ms["node2"].state = MemberAlive
	if got := p.unknownHeard(ms, now); got != "" {
		t.Errorf("node2 alive again: %q, want none", got)
	}
	// Only counting members' reports count.
	delete(ms, "node2")
	report(h("node2", 0))
	ms["node0"].joined = now.Add(-time.Minute)
	if got := p.unknownHeard(ms, now.Add(time.Second)); got != "" {
		t.Errorf("a reporter silent for a second: %q, want none", got)
	}
}

// TestReturningHolderStillHolds is a history the chaos checker found
// giving two holders for two seconds. node2 ranks first, but a
// switchover has put the VIP on node0. node2 is cut off, ends the
// switchover on its side (its target is gone) and, when the cut heals,
// hears node0 again after a silence longer than a lease. node0 was on
// the majority side all along and still holds, as its metadata — which
// node2 has, current — says: node2 must not take the VIP as if node0's
// claim were history.
func TestReturningHolderStillHolds(t *testing.T) {
	c := newTestCluster(t, nodeSpec{priority: 150, preempt: true}, nodeSpec{priority: 100, preempt: true}, nodeSpec{priority: 200, preempt: true})
	quorumTiming(c)
	for i := range c.nodes {
		c.start(i)
	}
	c.waitHolders("node2", 10*time.Second)
	if _, err := c.nodes[1].node.Switchover("web", "node0"); err != nil {
		t.Fatal(err)
	}
	c.waitHolders("node0", 10*time.Second)
	c.nw.Isolate(c.addr(2))
	// Well past a lease and memberlist's verdict: node2 ends the
	// switchover on its side.
	time.Sleep(2 * time.Second)
	c.waitHolders("node0", time.Second)
	c.tr.resetMax("web")
	c.nw.Heal()
	time.Sleep(time.Second)
	if n := c.tr.max("web"); n > 1 {
		t.Fatalf("%d holders at once after the heal:\n%s", n, c.tr.history())
	}
}

// presenceOfOne is node1's presence (epoch 77) knowing one member, node0,
// alive for a minute, whose metadata (epoch 5) is at version 1.
func presenceOfOne() (*presence, *member, config.Timing, time.Time) {
	tm := testTiming()
	tm.HeartbeatTimeout = 300 * time.Millisecond
	p := newPresence("node1", 77, tm, nil)
	addr := netip.MustParseAddrPort("127.0.0.1:7946")
	p.know("node0", addr)
	now := time.Now()
	m := &member{name: "node0", addr: addr.String(), state: MemberAlive, since: now.Add(-time.Minute), joined: now.Add(-time.Minute),
		meta: Meta{Epoch: 5, Seq: 1}, hasMeta: true}
	return p, m, tm, now
}

// TestStaleMemberGivenUpOnce: a member whose heartbeats announce metadata
// that never arrives is waited for one silence limit after this node
// first asked for it — however long it was stale before (a node without
// quorum asks nobody) — then not again for that version (its next
// heartbeat announces it again), but again for a newer one.
func TestStaleMemberGivenUpOnce(t *testing.T) {
	p, m, tm, now := presenceOfOne()
	addr := netip.MustParseAddrPort(m.addr)
	ms := memberTable{"node0": m}
	counter := uint64(0)
	beat := func(seq uint64, at time.Time) {
		t.Helper()
		counter++
		v := metaVersionOf{epoch: 5, seq: seq}
		if !p.received("node0", heartbeat{version: &v, beat: beatID{epoch: 5, counter: counter}}, addr, at) {
			t.Fatal("heartbeat not taken")
		}
	}
	beat(2, now)
	if name, overdue := p.staleMember(ms, now); name != "node0" || overdue {
		t.Fatalf("version 2 announced, 1 known: %q overdue=%v, want node0 waited for", name, overdue)
	}
	asked := now.Add(tm.HeartbeatTimeout + time.Millisecond)
	beat(2, asked)
	if name, overdue := p.staleMember(ms, asked); name != "node0" || overdue {
		t.Fatalf("stale for a silence limit, not asked yet: %q overdue=%v, want node0 waited for", name, overdue)
	}
	p.asking("node0", asked)
	p.asking("node0", asked.Add(tm.HeartbeatTimeout/2))
	later := asked.Add(tm.HeartbeatTimeout + time.Millisecond)
	beat(2, later)
	if name, overdue := p.staleMember(ms, later); name != "node0" || !overdue {
		t.Fatalf("a silence limit after the first request: %q overdue=%v, want node0 given up", name, overdue)
	}
	for i := range 3 {
		at := later.Add(time.Duration(i+1) * 100 * time.Millisecond)
		beat(2, at)
		if name, _ := p.staleMember(ms, at); name != "" {
			t.Fatalf("version 2 announced again: waiting for %q again", name)
		}
	}
	at := later.Add(time.Second)
	beat(3, at)
	p.asking("node0", at)
	if name, overdue := p.staleMember(ms, at.Add(tm.HeartbeatTimeout)); name != "node0" || overdue {
		t.Fatalf("version 3 announced: %q overdue=%v, want node0 waited for", name, overdue)
	}
}

// TestDoubt: a holder doubts its view of a member that does not confirm
// its heartbeats within the lease, or whose heartbeats announce newer
// metadata than it has; not of one that confirms and is current.
func TestDoubt(t *testing.T) {
	p, m, tm, now := presenceOfOne()
	addr := netip.MustParseAddrPort(m.addr)
	counter := uint64(0)
	beat := func(seq, ack uint64, at time.Time) {
		t.Helper()
		counter++
		v := metaVersionOf{epoch: 5, seq: seq}
		hb := heartbeat{version: &v, beat: beatID{epoch: 5, counter: counter}, acks: true, to: "node1", ack: beatID{epoch: 77, counter: ack}}
		if !p.received("node0", hb, addr, at) {
			t.Fatal("heartbeat not taken")
		}
	}
	p.noteSent(1, now, 1)
	beat(1, 0, now)
	if d := p.doubt(m, now); d != "it does not confirm this node's heartbeats" {
		t.Errorf("heard, no acknowledgement: doubt %q", d)
	}
	beat(1, 1, now)
	if d := p.doubt(m, now); d != "" {
		t.Errorf("confirms, current: doubt %q, want none", d)
	}
	beat(2, 1, now)
	if d := p.doubt(m, now); d != "its current state is not known here" {
		t.Errorf("announces version 2, 1 known: doubt %q", d)
	}
	m.meta.Seq = 2
	if d := p.doubt(m, now); d != "" {
		t.Errorf("version 2 arrived: doubt %q, want none", d)
	}
	if d := p.doubt(m, now.Add(tm.Lease+time.Millisecond)); d != "it does not confirm this node's heartbeats" {
		t.Errorf("last confirmation older than the lease: doubt %q", d)
	}
}

// TestStalledNodeRanksLast: a node whose daemon stalled for longer than
// a silence limit ranks last for ten of them, so the member that took
// over keeps the VIP instead of handing it back to a daemon that may
// stall again (a starved CPU); then it preempts as configured.
func TestStalledNodeRanksLast(t *testing.T) {
	c := quorumCluster(t)
	for i := range c.nodes {
		c.start(i)
	}
	c.waitHolders("node0", 10*time.Second)
	limit := silenceLimit(c.nodes[0].cfg.Cluster.Timing)
	// The election loop does not run for two silence limits.
	if err := c.nodes[0].node.control(func() { time.Sleep(2 * limit) }); err != nil {
		t.Fatal(err)
	}
	c.waitHolders("node1", 2*time.Second)
	// 0 until its lease holds again, then 1.
	waitUntil(t, 2*limit, "node0 publishes priority 1", func() bool {
		return instanceStatus(t, c.nodes[0].node, "web").EffectivePriority == 1
	})
	c.holdFor("node1", 5*limit)
	c.waitHolders("node0", 10*limit)
}

// TestStaleMemberDeclaredDead: without heartbeat_timeout a member counts
// while memberlist says it is alive; one that memberlist declared dead
// but whose heartbeats arrive again, announcing a state this node does
// not have (it took a VIP while this node could not hear it), still holds
// a takeover back until that state is here or a silence limit after this
// node asked for it. Once its heartbeats stop, it does not.
func TestStaleMemberDeclaredDead(t *testing.T) {
	p, m, tm, now := presenceOfOne()
	tm.HeartbeatTimeout = 0
	p.timing = tm
	addr := netip.MustParseAddrPort(m.addr)
	ms := memberTable{"node0": m}
	m.state = MemberDead
	v := metaVersionOf{epoch: 5, seq: 2}
	if !p.received("node0", heartbeat{version: &v, beat: beatID{epoch: 5, counter: 1}}, addr, now) {
		t.Fatal("heartbeat not taken")
	}
	if p.present(m, now) {
		t.Fatal("a member memberlist declared dead counts without heartbeat_timeout")
	}
	if name, overdue := p.staleMember(ms, now); name != "node0" || overdue {
		t.Fatalf("dead to memberlist, heard now announcing version 2 (1 known): %q overdue=%v, want node0 waited for", name, overdue)
	}
	quiet := now.Add(silenceLimit(tm) + time.Millisecond)
	if name, _ := p.staleMember(ms, quiet); name != "" {
		t.Fatalf("dead and silent for the silence limit: waiting for %q", name)
	}
	m.state = MemberLeft
	if name, _ := p.staleMember(ms, now); name != "" {
		t.Fatalf("left gracefully: waiting for %q", name)
	}
}

// TestHolderKnownThroughOthers: node2 took the VIP while node0 was cut
// off; node0 comes back hearing node1 but not node2 (node2's frames to
// it are lost), and memberlist tells it nothing newer of node2 (it never
// counted anyone dead, so it synchronises with nobody, and node2's change
// was gossiped while node0 was away). node1, which hears node2 and sees
// in node0's heartbeats that node0 does not, passes node2's state on:
// node0 learns that node2 holds and does not take the VIP beside it,
// although it ranks first. In a steady cluster nothing is passed on.
func TestHolderKnownThroughOthers(t *testing.T) {
	c := newTestCluster(t, nodeSpec{priority: 150, preempt: true}, nodeSpec{priority: 50, preempt: true}, nodeSpec{priority: 100, preempt: true})
	quorumTiming(c)
	for _, tn := range c.nodes {
		tm := &tn.cfg.Cluster.Timing
		tm.ProbeInterval, tm.ProbeTimeout, tm.SuspicionMult = 2*time.Second, 500*time.Millisecond, 4
		tm.PushPullInterval = time.Minute
	}
	for i := range c.nodes {
		c.start(i)
	}
	c.waitHolders("node0", 10*time.Second)
	time.Sleep(500 * time.Millisecond)
	var before [3]int
	for i, tn := range c.nodes {
		before[i] = relays(t, tn.node)
	}
	time.Sleep(time.Second)
	for i, tn := range c.nodes {
		if r := relays(t, tn.node) - before[i]; r != 0 {
			t.Errorf("node%d passed on %d states in a steady cluster", i, r)
		}
	}
	c.nw.Isolate(c.addr(0))
	c.waitHolders("node2", 5*time.Second)
	c.nw.Cut(c.addr(2), c.addr(0))
	time.Sleep(300 * time.Millisecond)
	c.nw.Unisolate(c.addr(0))
	// node2, back in touch with node0, may yield to the holder node0
	// was when node2 last heard it, before node0's state arrives; node0
	// may then take the VIP, which is free. Never both.
	time.Sleep(2 * time.Second)
	waitUntil(t, time.Second, "one holder", func() bool { return len(c.tr.held("web")) == 1 })
	if m := c.tr.max("web"); m != 1 {
		t.Fatalf("%d holders at once:\n%s", m, c.tr.history())
	}
	if r := relays(t, c.nodes[1].node); r == before[1] {
		t.Error("node1 passed on no state")
	}
}

// relays counts the states n has passed on to members since it started.
func relays(t *testing.T, n *Node) int {
	t.Helper()
	var c int
	if err := n.control(func() { c = n.relayCount }); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestReturnAfterLongSilenceVoidsClaim: a member heard again after a
// silence longer than its lease and margin, while it did not count here,
// returns with its old claim voided — also when an evaluation ran between
// the heartbeat that ended the silence and the event that reports it, and
// already counts it again. A member that counted here all along (memberlist
// kept it alive, say) keeps its claim.
func TestReturnAfterLongSilenceVoidsClaim(t *testing.T) {
	c := quorumCluster(t)
	cfg := c.nodes[0].cfg
	cfg.Cluster.Quorum = config.QuorumMajority
	n, err := New(Options{Config: NewConfig(cfg), Holders: map[string]Holder{"web": &fakeHolder{tr: c.tr, node: "node0", inst: "web"}}})
	if err != nil {
		t.Fatal(err)
	}
	n.settled = true
	at := time.Now()
	holding := Meta{Epoch: 5, Seq: 3, Instances: []InstanceMeta{{Name: "web", Priority: 100, Holding: true}}}
	for _, tc := range []struct {
		name         string
		counted      bool
		countedSince time.Time
		want         bool
	}{
		{"out until this event", false, time.Time{}, true},
		{"counted again by an evaluation after its return", true, at.Add(time.Millisecond), true},
		{"counted all along", true, at.Add(-time.Minute), false},
	} {
		m := &member{name: "node1", state: MemberAlive, meta: holding, hasMeta: true, counted: tc.counted, countedSince: tc.countedSince}
		n.members.members["node1"] = m
		n.apply(event{kind: evResumed, name: "node1", long: true, at: at})
		if m.voided != tc.want {
			t.Errorf("%s: voided = %v, want %v", tc.name, m.voided, tc.want)
		}
	}
}
