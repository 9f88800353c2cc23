//go:build linux

package integration

import (
	"fmt"
	"slices"
	"syscall"
	"testing"
	"time"
)

// The freeze tests stop the master's daemon with SIGSTOP, as a paused VM
// or a starved CPU would, and resume it with SIGCONT; three servers,
// majority quorum, the default profile (and fast for a 3 s freeze). The VIPs are added with a lifetime
// the daemon keeps renewing, so the kernel removes them from a frozen
// holder about a second after its last renewal: it overlaps the new
// master for that slack at most, and once resumed it must look at its
// lease before it renews, re-adds or announces anything.
//
// The instance does not preempt, so that a resumed node 0 has no
// legitimate reason to take the VIP back: any VIP or gratuitous ARP of
// its after a takeover is one it must not have made.

// resumeBound bounds the time from SIGCONT to exactly one holder.
const resumeBound = 5 * time.Second

// maxFrozenOverlap is the most two-holder time a frozen holder may cause:
// the kernel's slack in removing an address whose lifetime ran out.
const maxFrozenOverlap = 1500 * time.Millisecond

// kill9Target is how long after kill -9 the kernel should have removed
// the VIP: its lifetime after the last renewal, and some slack.
const kill9Target = 1200 * time.Millisecond

func TestFreeze(t *testing.T) {
	for _, f := range []struct {
		profile string
		d       time.Duration
	}{
		{"default", 300 * time.Millisecond},
		{"default", 2 * time.Second},
		{"default", 3 * time.Second},
		{"default", 10 * time.Second},
		{"fast", 3 * time.Second},
	} {
		t.Run(fmt.Sprintf("%s-stop-%v", f.profile, f.d), func(t *testing.T) { testFreeze(t, f.profile, f.d) })
	}
	t.Run("kill9-no-restart", testKill9NoRestart)
}

// testFreeze stops node 0's daemon for d. It measures the time with two
// holders, the time from SIGSTOP to another node holding and the time
// from SIGCONT to exactly one holder (for good). After the resume there
// must be exactly one holder within resumeBound; a freeze long enough
// for a takeover (2 s and 10 s, above heartbeat_timeout) must cause at
// most maxFrozenOverlap of two holders, and node 0 must neither hold the
// VIP nor announce it after it resumes.
func testFreeze(t *testing.T, profile string, d time.Duration) {
	tm := profileTiming(t, profile)
	c, vip := quorumCluster(t, profile, false, false, nil)
	w, err := c.net.WatchGARP(vip)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()

	sm := c.sample(vip)
	p := c.running(0)
	stopAt := time.Now()
	if err := p.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	// A stopped daemon would sit out the cleanup's SIGTERM.
	t.Cleanup(func() { _ = p.Signal(syscall.SIGCONT) })
	time.Sleep(d)
	contAt := time.Now()
	if err := p.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	// Long enough after the resume to see a late re-add or handover.
	if sm.waitLast(resumeBound, exactlyOne) {
		time.Sleep(3 * time.Second)
	}
	r := sm.stop()

	overlap := r.TimeWhere(stopAt, r.Last.At, twoOrMore)
	took, tookOK := r.FirstWhere(stopAt, heldByOther(0))
	settled, settledOK := settledAt(r)
	held0 := r.TimeWhere(contAt, r.Last.At, func(h []int) bool { return slices.Contains(h, 0) })
	var garps0 []time.Duration
	for _, g := range w.All() {
		if g.Node == 0 && g.At.After(contAt) {
			garps0 = append(garps0, ms(g.At.Sub(contAt)))
		}
	}
	t.Logf("frozen %v: two holders for %v (at most %v wanted for a takeover freeze)", d, ms(overlap), maxFrozenOverlap)
	if tookOK {
		t.Logf("frozen %v: another node held %v after SIGSTOP (heartbeat_timeout %v, lease + margin %v)",
			d, ms(took.Sub(stopAt)), tm.HeartbeatTimeout, linkCutFailover(tm))
	} else {
		t.Logf("frozen %v: no other node held", d)
	}
	if settledOK {
		t.Logf("frozen %v: exactly one holder, %v, %v after SIGCONT", d, r.Last.Holders, ms(max(0, settled.Sub(contAt))))
	}
	t.Logf("frozen %v: after SIGCONT node 0 held for %v and sent %d gratuitous ARPs %v", d, ms(held0), len(garps0), garps0)

	if !settledOK || settled.Sub(contAt) > resumeBound {
		t.Errorf("not exactly one holder of %s within %v of SIGCONT: holders %v at the last sample", vip, resumeBound, r.Last.Holders)
	}
	if d < tm.HeartbeatTimeout {
		return
	}
	if overlap > maxFrozenOverlap {
		t.Errorf("two holders of %s for %v, want at most %v", vip, ms(overlap), maxFrozenOverlap)
	}
	if !tookOK {
		t.Errorf("no other node took %s over while node 0 was stopped for %v", vip, d)
	}
	if held0 > 0 {
		t.Errorf("node 0 held %s for %v after it resumed, with another master in place", vip, ms(held0))
	}
	if len(garps0) > 0 {
		t.Errorf("node 0 announced %s after it resumed, at %v after SIGCONT", vip, garps0)
	}
}

// testKill9NoRestart kills node 0's daemon with SIGKILL and leaves it
// dead: the VIP must leave its eth0 by itself once its lifetime runs out
// (about kill9Target), and node 1 ends as the only holder.
func testKill9NoRestart(t *testing.T) {
	c, vip := quorumCluster(t, "default", false, false, nil)
	sm := c.sample(vip)
	killAt := time.Now()
	c.kill9(0)
	if sm.waitLast(generous(kill9Target), notHeldBy(0)) {
		sm.waitLast(settle, exactlyOne)
	}
	r := sm.stop()

	gone, goneOK := r.FirstWhere(killAt, notHeldBy(0))
	took, tookOK := r.FirstWhere(killAt, heldByOther(0))
	overlap := r.TimeWhere(killAt, r.Last.At, twoOrMore)
	if goneOK {
		t.Logf("kill -9: the VIP left node 0 %v after the kill (target %v, bound %v)", ms(gone.Sub(killAt)), kill9Target, generous(kill9Target))
	} else {
		t.Logf("kill -9: the VIP was still on node 0 %v after the kill", ms(r.Last.At.Sub(killAt)))
	}
	if tookOK {
		t.Logf("kill -9: another node held %v after the kill; two holders for %v", ms(took.Sub(killAt)), ms(overlap))
	}
	if !goneOK || gone.Sub(killAt) > generous(kill9Target) {
		t.Fatalf("%s still on the eth0 of node 0 %v after its daemon was killed, want gone within %v",
			vip, ms(r.Last.At.Sub(killAt)), generous(kill9Target))
	}
	c.waitHolders(vip, 1)
	c.waitStatus([]int{1, 2}, expectRole("web", 1))
}
