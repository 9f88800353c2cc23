package integration

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/havip/havip/config"
	"github.com/havip/havip/internal/testbed"
)

// The fault tests below measure times from the outside holder sampler
// and hold them to generous bounds only: the machine is shared and
// noisy, and the figures are logged for a person to compare with the
// targets.

// profileTiming returns the timings of the named profile.
func profileTiming(t *testing.T, name string) config.Timing {
	t.Helper()
	tm, ok := config.Profile(name)
	if !ok {
		t.Fatalf("no timing profile %q", name)
	}
	return tm
}

// linkCutFailover is how long a quorum cluster takes over from a holder
// cut off from everyone: the majority waits lease + lease_margin.
func linkCutFailover(tm config.Timing) time.Duration { return tm.Lease + tm.LeaseMargin }

// generous is the bound a measured time is failed beyond: three times
// its target plus a second.
func generous(target time.Duration) time.Duration { return 3*target + time.Second }

// ms rounds a duration for the logs.
func ms(d time.Duration) time.Duration { return d.Round(time.Millisecond) }

// quorumCluster starts three members with majority quorum on the timing
// profile: three servers with priorities 150, 100 and 50, or with
// witness two servers (150, 100) and node 2 as a witness, a member with
// no instance. edit, when not nil, changes the options before they are
// written. It returns once node 0 alone holds the VIP, every member sees
// the others alive, the observer reaches node 0 and that has lasted a
// second.
func quorumCluster(t *testing.T, profile string, witness, preempt bool, edit func(*testbed.ClusterOpts)) (*cluster, netip.Addr) {
	t.Helper()
	c := newCluster(t, 3, false)
	vip := testbed.VIP4(0)
	inst := web(preempt, 150, 100, 50)
	if witness {
		inst = web(preempt, 150, 100)
	}
	o := c.opts(inst)
	o.Timing = profile
	o.Quorum = "majority"
	if edit != nil {
		edit(&o)
	}
	c.configure(o)
	c.startAll()
	c.waitHolders(vip, 0)
	c.waitStatus(allNodes(3), expectMembersAlive(3))
	c.waitObserverReaches(vip, 0)
	c.keepHolders(time.Second, vip, 0)
	return c, vip
}

// waitLast polls the sampler until its latest sample satisfies ok, for
// up to timeout, and reports whether one did.
func (sm *sampling) waitLast(timeout time.Duration, ok func(holders []int) bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if r := sm.s.Report(); r.Samples > 0 && ok(r.Last.Holders) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(samplePeriod)
	}
}

// Holder predicates for the sampler's reports.

// aloneOther: exactly one node holds, and it is not node i.
func aloneOther(i int) func([]int) bool {
	return func(h []int) bool { return len(h) == 1 && h[0] != i }
}

// heldByOther: some node other than i holds (i may too).
func heldByOther(i int) func([]int) bool {
	return func(h []int) bool { return slices.ContainsFunc(h, func(j int) bool { return j != i }) }
}

// notHeldBy: node i does not hold.
func notHeldBy(i int) func([]int) bool {
	return func(h []int) bool { return !slices.Contains(h, i) }
}

func exactlyOne(h []int) bool { return len(h) == 1 }
func twoOrMore(h []int) bool  { return len(h) >= 2 }
func noHolder(h []int) bool   { return len(h) == 0 }

// settledAt returns when the holders last changed, if the report ends
// with exactly one holder: from then on it did not change.
func settledAt(r testbed.SamplerReport) (time.Time, bool) {
	spans := r.Spans()
	if len(spans) == 0 || !exactlyOne(spans[len(spans)-1].Holders) {
		return time.Time{}, false
	}
	return spans[len(spans)-1].From, true
}
