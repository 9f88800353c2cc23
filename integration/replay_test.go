package integration

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/havip/havip/internal/testbed"
)

// The replay test records what the master sends on the gossip port (its
// heartbeat frames and memberlist packets, sealed with the cluster key),
// kills it, and resends the recording to the survivors from the observer
// while they fail over. A recording proves nothing about the present: the
// failover must take as long as without it.

// replayCapture is how long node 0's packets are recorded.
const replayCapture = 3 * time.Second

// replayWait bounds the wait for a takeover in each round: several times
// a failover of the default profile, so that a round where the replay
// keeps node 0 present ends with a figure rather than a timeout.
const replayWait = 15 * time.Second

// replayAfter is how long the replay goes on once another node holds:
// packets that revived node 0 in the survivors' eyes would make the new
// master hand the VIP back to a dead node (it has the higher priority).
const replayAfter = 3 * time.Second

// replaySource says whose address the replayed packets claim.
type replaySource int

const (
	noReplay replaySource = iota
	// fromNode0: node 0's own address and port, the frames built by
	// hand (the observer spoofs it).
	fromNode0
	// fromObserver: the observer's address, port 7946.
	fromObserver
)

func (s replaySource) String() string {
	return [...]string{"no replay", "replayed from node 0's address", "replayed from the observer's address"}[s]
}

// TestReplay: with three servers, majority quorum and the default
// profile, node 0 is killed (not restarted) three times, each on a fresh
// cluster: without replay (the control round), then while the observer
// replays the packets node 0 sent in the replayCapture before the kill,
// from node 0's own address and from the observer's. Each replay round
// must fail over within a generous bound of the control round, and the
// new master must keep the VIP while the replay goes on for replayAfter:
// replayed packets must not keep, or bring back, a dead member.
func TestReplay(t *testing.T) {
	var control time.Duration
	ok := t.Run("control", func(t *testing.T) {
		res := replayRound(t, noReplay)
		if !res.took {
			t.Fatalf("no other node took over within %v of the kill", replayWait)
		}
		if res.lost > 0 {
			t.Errorf("no other node held the VIP for %v after the takeover", ms(res.lost))
		}
		control = res.failover
	})
	if !ok {
		t.Fatal("the control round failed: no failover time to compare with")
	}
	for _, src := range []replaySource{fromNode0, fromObserver} {
		name := map[replaySource]string{fromNode0: "spoofed-node0", fromObserver: "from-observer"}[src]
		t.Run(name, func(t *testing.T) {
			res := replayRound(t, src)
			bound := generous(control)
			if !res.took {
				t.Fatalf("%s: no other node took over within %v of the kill (%v without replay): the replay kept node 0 present",
					src, replayWait, ms(control))
			}
			t.Logf("%s: failover %v, %v without replay (bound %v)", src, ms(res.failover), ms(control), ms(bound))
			if res.failover > bound {
				t.Errorf("%s: failover took %v, %v without replay: want at most %v", src, ms(res.failover), ms(control), ms(bound))
			}
			if res.lost > 0 {
				t.Errorf("%s: no other node held the VIP for %v of the %v after the takeover: the replay brought node 0 back",
					src, ms(res.lost), replayAfter)
			}
		})
	}
}

// replayResult is what one round measured.
type replayResult struct {
	// failover is the time from the kill to another node holding; took
	// is false when none did within replayWait.
	failover time.Duration
	took     bool
	// lost is how long no node but node 0 held after the takeover.
	lost time.Duration
}

// replayRound builds a keyed cluster, records node 0's packets to the
// gossip port, kills node 0 and, unless src is noReplay, replays the
// recording to the survivors until replayAfter after another node holds
// the VIP, or until replayWait passes without one.
func replayRound(t *testing.T, src replaySource) replayResult {
	key := filepath.Join(t.TempDir(), "cluster.key")
	if err := testbed.WriteSecretKey(key); err != nil {
		t.Fatal(err)
	}
	c, vip := quorumCluster(t, "default", false, true, func(o *testbed.ClusterOpts) { o.SecretKeyFile = key })

	capture, err := c.net.CaptureUDP(0, testbed.MemberlistPort, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(replayCapture)
	ds, err := capture.Stop()
	if err != nil {
		t.Fatal(err)
	}
	frames, to := 0, map[netip.Addr]int{}
	for _, d := range ds {
		// Heartbeat frames start with 0xC8 or 0xC9; memberlist's
		// packets with a lower byte.
		if len(d.Payload) > 0 && (d.Payload[0] == 0xC8 || d.Payload[0] == 0xC9) {
			frames++
		}
		to[d.Dst.Addr()]++
	}
	t.Logf("recorded %d packets from node 0 in %v: %d heartbeat frames, %d memberlist packets; by destination %v",
		len(ds), replayCapture, frames, len(ds)-frames, to)
	if src != noReplay && len(ds) == 0 {
		t.Fatal("nothing recorded to replay")
	}

	sm := c.sample(vip)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	replayed := make(chan string, 1)
	if src != noReplay {
		inj, err := c.net.OpenInjector()
		if err != nil {
			t.Fatal(err)
		}
		defer inj.Close()
		from := func(d testbed.Datagram) netip.AddrPort {
			if src == fromObserver {
				return netip.AddrPortFrom(c.net.Observer.Addr, testbed.MemberlistPort)
			}
			return d.Src
		}
		// Started before the kill, so that node 0's traffic never
		// pauses from the survivors' point of view.
		go func() {
			sent, failed, err := inj.Replay(ctx, ds, from)
			replayed <- fmt.Sprintf("%d packets sent, %d sends failed, error %v", sent, failed, err)
		}()
	}
	killAt := time.Now()
	c.kill9(0)
	if sm.waitLast(replayWait, heldByOther(0)) {
		time.Sleep(replayAfter)
	}
	// Node 1's view of node 0 while the replay still runs.
	view := "unknown"
	if s, err := c.status(1); err == nil {
		if m, ok := s.member(testbed.NodeName(0)); ok {
			view = m.State
		} else {
			view = "not a member"
		}
	}
	cancel()
	if src != noReplay {
		t.Logf("%s: %s", src, <-replayed)
	}
	r := sm.stop()

	took, ok := r.FirstWhere(killAt, heldByOther(0))
	if !ok {
		t.Logf("%s: no other node held %s %v after the kill; node 1 saw node 0 as %s", src, vip, ms(r.Last.At.Sub(killAt)), view)
		return replayResult{}
	}
	other := heldByOther(0)
	res := replayResult{
		failover: took.Sub(killAt),
		took:     true,
		lost:     r.TimeWhere(took, r.Last.At, func(h []int) bool { return !other(h) }),
	}
	t.Logf("%s: another node held %s %v after the kill; in the %v after, none did for %v; node 1 then saw node 0 as %s",
		src, vip, ms(res.failover), ms(r.Last.At.Sub(took)), ms(res.lost), view)
	return res
}

// TestReplayToCutOffHolder: the master, node 0, is cut off from nodes 1
// and 2 in both directions while the observer sends it, with their
// addresses, what they sent it in the replayCapture before the cut. The
// recording must not keep node 0 in quorum: it must release as it does
// without the replay (the control round), the others must take over,
// and there must never be two holders.
func TestReplayToCutOffHolder(t *testing.T) {
	var control time.Duration
	ok := t.Run("control", func(t *testing.T) {
		res := cutOffRound(t, false)
		if !res.took {
			t.Fatalf("no other node took over within %v of the cut", replayWait)
		}
		control = res.failover
	})
	if !ok {
		t.Fatal("the control round failed: no release time to compare with")
	}
	t.Run("replayed", func(t *testing.T) {
		res := cutOffRound(t, true)
		bound := generous(control)
		if !res.took {
			t.Fatalf("node 0 kept %s for %v after the cut (released %v after it without replay): the replay kept it in quorum",
				"the VIP", replayWait, ms(control))
		}
		t.Logf("replayed: node 0 released %v after the cut, %v without replay (bound %v)", ms(res.failover), ms(control), ms(bound))
		if res.failover > bound {
			t.Errorf("node 0 released %v after the cut, %v without replay: want at most %v", ms(res.failover), ms(control), ms(bound))
		}
	})
}

// cutOffRound builds a keyed cluster, records what nodes 1 and 2 send to
// node 0 on the gossip port, partitions node 0 from them and, if replay,
// replays the recording to node 0 from the observer with their
// addresses until another node holds and replayAfter has passed. It
// measures the time from the cut to node 0 releasing; two holders at
// any time fail the round.
func cutOffRound(t *testing.T, replay bool) replayResult {
	key := filepath.Join(t.TempDir(), "cluster.key")
	if err := testbed.WriteSecretKey(key); err != nil {
		t.Fatal(err)
	}
	c, vip := quorumCluster(t, "default", false, true, func(o *testbed.ClusterOpts) { o.SecretKeyFile = key })
	node0 := c.net.Nodes[0].Addr
	var caps []*testbed.UDPCapture
	for _, i := range []int{1, 2} {
		cp, err := c.net.CaptureUDP(i, testbed.MemberlistPort, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		caps = append(caps, cp)
	}
	time.Sleep(replayCapture)
	var ds []testbed.Datagram
	for _, cp := range caps {
		got, err := cp.Stop()
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range got {
			if d.Dst.Addr() == node0 {
				ds = append(ds, d)
			}
		}
	}
	slices.SortFunc(ds, func(a, b testbed.Datagram) int { return a.At.Compare(b.At) })
	t.Logf("recorded %d packets from nodes 1 and 2 to node 0 in %v", len(ds), replayCapture)
	if replay && len(ds) == 0 {
		t.Fatal("nothing recorded to replay")
	}

	sm := c.sample(vip)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	replayed := make(chan string, 1)
	if replay {
		inj, err := c.net.OpenInjector()
		if err != nil {
			t.Fatal(err)
		}
		defer inj.Close()
		go func() {
			sent, failed, err := inj.Replay(ctx, ds, func(d testbed.Datagram) netip.AddrPort { return d.Src })
			replayed <- fmt.Sprintf("%d packets sent, %d sends failed, error %v", sent, failed, err)
		}()
	}
	cutAt := time.Now()
	if err := c.net.Partition([]int{0}, []int{1, 2}); err != nil {
		t.Fatal(err)
	}
	released := func(h []int) bool { return !slices.Contains(h, 0) && len(h) == 1 }
	if sm.waitLast(replayWait, released) {
		time.Sleep(replayAfter)
	}
	cancel()
	if replay {
		t.Logf("replayed: %s", <-replayed)
	}
	r := sm.stop()
	two := r.TimeWhere(cutAt, r.Last.At, twoOrMore)
	if two > 0 {
		t.Errorf("two holders of %s for %v after the cut", vip, ms(two))
	}
	gone, ok := r.FirstWhere(cutAt, notHeldBy(0))
	if !ok {
		t.Logf("node 0 still held %s %v after the cut", vip, ms(r.Last.At.Sub(cutAt)))
		return replayResult{}
	}
	if held0 := r.TimeWhere(gone, r.Last.At, func(h []int) bool { return slices.Contains(h, 0) }); held0 > 0 {
		t.Errorf("node 0 held %s again for %v after it released", vip, ms(held0))
	}
	took, tookOK := r.FirstWhere(cutAt, heldByOther(0))
	if tookOK {
		t.Logf("node 0 released %v after the cut; another node held %v after it", ms(gone.Sub(cutAt)), ms(took.Sub(cutAt)))
	}
	return replayResult{failover: gone.Sub(cutAt), took: tookOK}
}
