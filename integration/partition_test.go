package integration

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/havip/havip/internal/testbed"
)

// The split-brain tests make their faults with nftables in the switch
// namespace, so the observer keeps seeing both sides of a partition, and
// watch the VIP from outside every node: a sampler reads every node's
// eth0 through netlink sockets at least every 20 ms and records every
// sample in which two nodes held the VIP at once.

// samplePeriod is the sampler's target spacing; the tests check that the
// measured mean stays within maxSamplePeriod.
const (
	samplePeriod    = 5 * time.Millisecond
	maxSamplePeriod = 20 * time.Millisecond
)

// requireNft skips the test unless nftables can make the faults.
func requireNft(t *testing.T) {
	t.Helper()
	if err := testbed.NftAvailable(); err != nil {
		t.Skip(err)
	}
}

// sampling is one test's sampler of one VIP.
type sampling struct {
	t     *testing.T
	vip   netip.Addr
	start time.Time
	s     *testbed.Sampler
}

// sample starts sampling the holders of vip; stop it with stop.
func (c *cluster) sample(vip netip.Addr) *sampling {
	c.t.Helper()
	s, err := c.net.SampleHolders(vip, samplePeriod)
	if err != nil {
		c.t.Fatal(err)
	}
	sm := &sampling{t: c.t, vip: vip, start: time.Now(), s: s}
	c.t.Cleanup(func() { s.Stop() })
	return sm
}

// stop ends the sampling, logs the timeline of holders and checks that
// the sampling was fast enough to mean something.
func (sm *sampling) stop() testbed.SamplerReport {
	sm.t.Helper()
	r := sm.s.Stop()
	sm.t.Logf("holders of %s sampled %d times, every %v on average, longest gap %v; changes:\n%s",
		sm.vip, r.Samples, r.Period.Round(10*time.Microsecond), r.MaxGap.Round(10*time.Microsecond), r.Timeline(sm.start))
	if r.Err != nil {
		sm.t.Fatalf("sampling the holders: %v", r.Err)
	}
	if r.Period > maxSamplePeriod {
		sm.t.Errorf("holders sampled every %v on average, want at most %v", r.Period, maxSamplePeriod)
	}
	return r
}

// noOverlap fails the test when the report has a sample with two holders.
func noOverlap(t *testing.T, r testbed.SamplerReport) {
	t.Helper()
	for _, o := range r.Overlaps {
		t.Errorf("two holders at once: %v (at least %v, at most %v)", o, o.Min(), o.Max())
	}
}

// expectMembersAlive is a waitStatus check: every other configured node
// is an alive member.
func expectMembersAlive(n int) func(i int, s *status) error {
	return func(i int, s *status) error {
		for _, j := range nodesExcept(n, i) {
			name := testbed.NodeName(j)
			m, ok := s.member(name)
			if !ok {
				return fmt.Errorf("member %s missing", name)
			}
			if m.State != "alive" {
				return fmt.Errorf("member %s is %q, want alive", name, m.State)
			}
		}
		return nil
	}
}

// expectMemberGone is a waitStatus check: node j is not an alive member.
func expectMemberGone(j int) func(i int, s *status) error {
	return func(i int, s *status) error {
		m, ok := s.member(testbed.NodeName(j))
		if ok && m.State == "alive" {
			return fmt.Errorf("member %s is still alive", m.Name)
		}
		return nil
	}
}

// partition cuts the cluster into groups at the switch.
func (c *cluster) partition(groups ...[]int) {
	c.t.Helper()
	if err := c.net.Partition(groups...); err != nil {
		c.t.Fatal(err)
	}
}

func (c *cluster) heal() {
	c.t.Helper()
	if err := c.net.Heal(); err != nil {
		c.t.Fatal(err)
	}
}

// TestPartitionThreeNodes: the master alone on its side of a partition
// has no quorum and releases; the two others elect a new master; at no
// sample do two nodes hold the VIP. After the heal there is exactly one
// holder (the preempting node 0) and the observer's neighbour entry
// points at it.
func TestPartitionThreeNodes(t *testing.T) {
	requireNft(t)
	c := newCluster(t, 3, false)
	vip := testbed.VIP4(0)
	// Three configured nodes, quorum auto: majority (2 of 3).
	c.configure(c.opts(web(true, 150, 100, 50)))
	c.startAll()
	c.waitHolders(vip, 0)
	c.waitObserverReaches(vip, 0)

	sm := c.sample(vip)
	c.partition([]int{0}, []int{1, 2})
	c.waitHolders(vip, 1)
	c.waitStatus([]int{1, 2}, expectRole("web", 1))
	c.waitObserverReaches(vip, 1)
	c.keepHolders(2*time.Second, vip, 1)

	c.heal()
	c.waitHolders(vip, 0)
	c.waitStatus(allNodes(3), expectMembersAlive(3))
	c.waitStatus(allNodes(3), expectRole("web", 0))
	c.waitObserverReaches(vip, 0)
	c.keepHolders(time.Second, vip, 0)
	noOverlap(t, sm.stop())
}

// TestPartitionWitness: two servers and a witness (a member with no
// instance). The master cut off from both releases, the other server
// takes over with the witness's vote, and a cut between the master and
// the other server alone changes nothing.
func TestPartitionWitness(t *testing.T) {
	requireNft(t)
	c := newCluster(t, 3, false)
	vip := testbed.VIP4(0)
	// Node 2 has no priority: its configuration has no [[instance]].
	c.configure(c.opts(web(true, 150, 100)))
	c.startAll()
	c.waitHolders(vip, 0)
	c.waitObserverReaches(vip, 0)

	sm := c.sample(vip)
	c.partition([]int{0}, []int{1, 2})
	c.waitHolders(vip, 1)
	c.waitStatus([]int{1}, expectRole("web", 1))
	c.waitObserverReaches(vip, 1)
	c.keepHolders(2*time.Second, vip, 1)

	c.heal()
	c.waitHolders(vip, 0)
	c.waitStatus(allNodes(3), expectMembersAlive(3))
	c.waitStatus([]int{0, 1}, expectRole("web", 0))
	c.waitObserverReaches(vip, 0)

	// The witness sides with the master: node 1 loses quorum and must
	// not take the VIP it can no longer see held.
	c.partition([]int{0, 2}, []int{1})
	c.waitStatus([]int{0}, expectMemberGone(1))
	c.keepHolders(2*time.Second, vip, 0)
	c.heal()
	c.waitStatus(allNodes(3), expectMembersAlive(3))
	c.keepHolders(time.Second, vip, 0)
	c.waitObserverReaches(vip, 0)
	noOverlap(t, sm.stop())
}

// TestPartitionTwoNodesNoQuorum: two nodes without quorum behave like
// keepalived: each side holds the VIP while they are cut apart. When the
// partition heals the lower-ranked one releases and the winner announces
// again, so the observer's neighbour entry ends at the winner.
func TestPartitionTwoNodesNoQuorum(t *testing.T) {
	requireNft(t)
	c := newCluster(t, 2, false)
	vip := testbed.VIP4(0)
	// Two configured nodes, quorum auto: off.
	c.configure(c.opts(web(true, 150, 100)))
	c.startAll()
	c.waitHolders(vip, 0)
	c.waitObserverReaches(vip, 0)

	sm := c.sample(vip)
	c.partition([]int{0}, []int{1})
	c.waitHolders(vip, 0, 1)
	// Both answer: the observer's entry follows the last announcement,
	// node 1's takeover.
	c.waitObserverReaches(vip, 1)
	c.keepHolders(time.Second, vip, 0, 1)

	healed := time.Now()
	c.heal()
	c.waitHolders(vip, 0)
	t.Logf("one holder again %v after the heal", time.Since(healed).Round(time.Millisecond))
	c.waitStatus(allNodes(2), expectMembersAlive(2))
	c.waitStatus(allNodes(2), expectRole("web", 0))
	c.waitObserverReaches(vip, 0)
	c.keepHolders(time.Second, vip, 0)

	r := sm.stop()
	if len(r.Overlaps) == 0 {
		t.Error("the sampler saw no sample with both nodes holding during the partition")
	}
	if last := r.Last.Holders; !slices.Equal(last, []int{0}) {
		t.Errorf("last sample: holders %v, want [0]", last)
	}
}

// TestDeadMemberRejoins: a backup cut off long enough for the others to
// declare it dead is accepted again when the partition heals, without a
// restart, and counts for quorum again.
func TestDeadMemberRejoins(t *testing.T) {
	requireNft(t)
	c := newCluster(t, 3, false)
	vip := testbed.VIP4(0)
	c.configure(c.opts(web(true, 150, 100, 50)))
	c.startAll()
	c.waitHolders(vip, 0)
	c.waitStatus(allNodes(3), expectMembersAlive(3))

	sm := c.sample(vip)
	c.partition([]int{0, 1}, []int{2})
	c.waitStatus([]int{0, 1}, expectMemberGone(2))
	c.waitStatus([]int{2}, expectMemberGone(0))
	c.waitStatus([]int{2}, expectMemberGone(1))
	// Well past memberlist's dead-node reclaim time.
	time.Sleep(2 * time.Second)
	c.keepHolders(time.Second, vip, 0)

	c.heal()
	c.waitStatus(allNodes(3), expectMembersAlive(3))
	c.waitStatus(allNodes(3), expectRole("web", 0))

	// The rejoined node counts for quorum: with node 0 stopped, node 1
	// holds only if it counts node 2 (2 of 3).
	if code := c.stop(0); code != 0 {
		t.Fatalf("havip on node 0 exited %d after SIGTERM, want 0", code)
	}
	c.waitHolders(vip, 1)
	c.waitStatus([]int{1, 2}, expectRole("web", 1))
	noOverlap(t, sm.stop())
}
