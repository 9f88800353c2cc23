package election

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestStep: one row per rule of the decision, each from a base where this
// node (node1, priority 100) would take the VIPs: node0 (priority 150)
// is known but not eligible, nobody holds, quorum 2 of 3 is met.
func TestStep(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	base := func() facts {
		return facts{
			situation: situation{
				now:     now,
				self:    Candidate{Node: "node1", Priority: 100},
				peers:   []Candidate{{Node: "node0", Priority: 0}, {Node: "node2", Priority: 50}},
				quorum:  true,
				settled: true,
				preempt: true,
			},
			needed: 2, seen: 3, heard: 3, informed: 3,
			quorumSince:  now.Add(-time.Minute),
			regainWait:   800 * time.Millisecond,
			confirmDelay: 5 * time.Millisecond,
			staleRecheck: now.Add(100 * time.Millisecond),
		}
	}
	type want struct {
		Hold      bool
		Reason    string
		Master    string
		Recheck   time.Time
		Fault     bool
		AskState  string
		SyncWith  string
		SendDirs  string
		ConfirmAt time.Time
		Conflict  bool
	}
	for _, tc := range []struct {
		name   string
		change func(f *facts)
		want   want
	}{
		{"takes over", func(*facts) {},
			want{Hold: true, Reason: "highest-ranked eligible member", Master: "node1"}},
		{"fault", func(f *facts) { f.fault = "interface eth0 down"; f.self.Priority = 0 },
			want{Reason: "interface eth0 down", Fault: true}},
		{"maintenance: not eligible", func(f *facts) { f.self.Priority = 0 },
			want{Reason: "not eligible", Master: "node2"}},
		{"no quorum", func(f *facts) { f.quorum = false; f.seen, f.heard = 1, 1 },
			want{Reason: "no quorum: sees 1 of 2 needed"}},
		{"no quorum: heard counts too", func(f *facts) { f.quorum = false; f.heard = 1 },
			want{Reason: "no quorum: sees 1 of 2 needed"}},
		{"start-up not over", func(f *facts) { f.settled = false },
			want{Reason: "waiting for the cluster at start-up"}},
		{"lease of a vanished holder still runs", func(f *facts) {
			f.leaseHolder, f.leaseUntil = "node0", now.Add(300*time.Millisecond)
			f.vanished = "node0"
		}, want{Reason: "waiting for the lease of node0 to run out", Master: "node1", Recheck: now.Add(300 * time.Millisecond)}},
		{"lease ignored without quorum mode", func(f *facts) {
			f.needed = 0
			f.leaseHolder, f.leaseUntil = "node0", now.Add(300*time.Millisecond)
		}, want{Hold: true, Reason: "highest-ranked eligible member", Master: "node1"}},
		{"stale view of a member", func(f *facts) { f.stale = "node2" },
			want{Reason: "waiting for the current state of node2", Master: "node1", Recheck: now.Add(100 * time.Millisecond), AskState: "node2"}},
		{"this node's new state not known to a majority yet", func(f *facts) { f.informed = 1 },
			want{Reason: "waiting until the members know this node's state (1 of 2)", Master: "node1", Recheck: now.Add(100 * time.Millisecond)}},
		{"a member that hears this node does not know its state yet", func(f *facts) { f.informed = 2; f.uninformed = "node2" },
			want{Reason: "waiting until node2 knows this node's state", Master: "node1", Recheck: now.Add(100 * time.Millisecond)}},
		{"a majority knows this node's state, the rest do not hear it", func(f *facts) { f.informed = 2 },
			want{Hold: true, Reason: "highest-ranked eligible member", Master: "node1"}},
		{"a member another hears is unknown here", func(f *facts) { f.unknownHeard = "node2" },
			want{Reason: "waiting to learn of a member node2 hears", Master: "node1", Recheck: now.Add(100 * time.Millisecond), SyncWith: "node2"}},
		{"unknown members do not hold back without quorum mode", func(f *facts) { f.needed = 0; f.unknownHeard = "node2" },
			want{Hold: true, Reason: "highest-ranked eligible member", Master: "node1"}},
		{"an unknown member holds back a takeover after quorum is regained", func(f *facts) {
			f.unknownHeard, f.unheard, f.quorumSince = "node2", "node0", now
		}, want{Reason: "waiting to learn of a member node2 hears", Master: "node1", Recheck: now.Add(100 * time.Millisecond), SyncWith: "node2"}},
		{"another view of the switchovers", func(f *facts) { f.disagrees = "node2" },
			want{Reason: "waiting to agree on switchovers with node2", Master: "node1", Recheck: now.Add(100 * time.Millisecond), AskState: "node2", SendDirs: "node2"}},
		{"switchovers do not hold back without quorum mode", func(f *facts) { f.needed = 0; f.disagrees = "node2" },
			want{Hold: true, Reason: "highest-ranked eligible member", Master: "node1"}},
		{"a holder keeps holding whatever the switchover views", func(f *facts) { f.self.Holding = true; f.disagrees = "node2" },
			want{Hold: true, Reason: "holding", Master: "node1"}},
		{"the state of others is asked for first", func(f *facts) { f.informed = 1; f.stale = "node2" },
			want{Reason: "waiting for the current state of node2", Master: "node1", Recheck: now.Add(100 * time.Millisecond), AskState: "node2"}},
		{"quorum just regained, a member unheard", func(f *facts) {
			f.quorumSince = now.Add(-100 * time.Millisecond)
			f.unheard = "node0"
		}, want{Reason: "quorum regained; waiting to hear from node0", Master: "node1", Recheck: now.Add(700 * time.Millisecond)}},
		{"quorum just regained, a member heard but not confirming", func(f *facts) {
			f.quorumSince = now.Add(-100 * time.Millisecond)
			f.unconfirmed = "node2"
		}, want{Reason: "quorum regained; waiting for node2 to confirm this node's heartbeats", Master: "node1", Recheck: now.Add(100 * time.Millisecond)}},
		{"quorum regained long ago, a member still not confirming", func(f *facts) {
			f.quorumSince = now.Add(-time.Second)
			f.unconfirmed = "node2"
		}, want{Hold: true, Reason: "highest-ranked eligible member", Master: "node1"}},
		{"quorum regained long enough ago", func(f *facts) {
			f.quorumSince = now.Add(-time.Second)
			f.unheard = "node0"
		}, want{Hold: true, Reason: "highest-ranked eligible member", Master: "node1"}},
		{"vanished holder: look again first", func(f *facts) { f.vanished = "node0" },
			want{Reason: "making sure node0 is gone", Master: "node1", Recheck: now.Add(5 * time.Millisecond), ConfirmAt: now.Add(5 * time.Millisecond)}},
		{"vanished holder: second look", func(f *facts) { f.vanished = "node0"; f.confirmAt = now.Add(-time.Millisecond) },
			want{Hold: true, Reason: "highest-ranked eligible member", Master: "node1", ConfirmAt: now.Add(-time.Millisecond)}},
		{"the lease rule comes before the others", func(f *facts) {
			f.leaseHolder, f.leaseUntil = "node0", now.Add(time.Second)
			f.stale, f.unheard, f.vanished = "node2", "node0", "node0"
			f.quorumSince = now
		}, want{Reason: "waiting for the lease of node0 to run out", Master: "node1", Recheck: now.Add(time.Second)}},
		{"a holder keeps holding whatever the takeover rules say", func(f *facts) {
			f.self.Holding = true
			f.leaseHolder, f.leaseUntil = "node0", now.Add(time.Second)
			f.stale, f.unheard, f.vanished = "node2", "node0", "node0"
		}, want{Hold: true, Reason: "holding", Master: "node1"}},
		{"another holder", func(f *facts) { f.peers[1].Holding = true },
			want{Reason: "node2 holds", Master: "node2"}},
		{"holder sees a lower-ranked holder", func(f *facts) { f.self.Holding = true; f.peers[1].Holding = true },
			want{Hold: true, Reason: "holding; lower-ranked holder node2 must release", Master: "node1", Conflict: true}},
		{"preempted after the delay", func(f *facts) {
			f.self.Holding = true
			f.peers[0].Priority = 150
			f.preemptDelay = time.Second
			f.higherSince = now.Add(-2 * time.Second)
		}, want{Reason: "preempted by node0", Master: "node0"}},
		{"preemption pending", func(f *facts) {
			f.self.Holding = true
			f.peers[0].Priority = 150
			f.preemptDelay = time.Second
		}, want{Hold: true, Reason: "preemption by node0 pending", Master: "node1", Recheck: now.Add(time.Second)}},
		{"no preemption", func(f *facts) { f.self.Holding = true; f.peers[0].Priority = 150; f.preempt = false },
			want{Hold: true, Reason: "holding", Master: "node1"}},
		{"switchover away", func(f *facts) { f.self.Holding = true; f.preempt = false; f.preferred = "node2" },
			want{Reason: "switchover to node2", Master: "node2"}},
		{"not preempted by a member that does not hear this node", func(f *facts) {
			f.self.Holding = true
			f.peers[0].Priority = 150
			f.doubts = map[string]string{"node0": "it does not confirm this node's heartbeats"}
		}, want{Hold: true, Reason: "holding; not yielding to node0: it does not confirm this node's heartbeats", Master: "node1"}},
		{"no switchover to a member whose state is not known here", func(f *facts) {
			f.self.Holding = true
			f.preferred = "node2"
			f.doubts = map[string]string{"node2": "its current state is not known here"}
		}, want{Hold: true, Reason: "holding; not yielding to node2: its current state is not known here", Master: "node1"}},
		{"a doubt about a member that would not take over changes nothing", func(f *facts) {
			f.self.Holding = true
			f.doubts = map[string]string{"node2": "it does not confirm this node's heartbeats"}
		}, want{Hold: true, Reason: "holding", Master: "node1"}},
		{"a higher-ranked holder is yielded to, doubt or not", func(f *facts) {
			f.self.Holding = true
			f.peers[0].Priority, f.peers[0].Holding = 150, true
			f.doubts = map[string]string{"node0": "it does not confirm this node's heartbeats"}
		}, want{Reason: "higher-ranked holder node0 seen", Master: "node0"}},
		{"switchover target", func(f *facts) { f.self.Priority = 40; f.preferred = "node1" },
			want{Hold: true, Reason: "switchover target", Master: "node1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := base()
			f.peers = append([]Candidate(nil), f.peers...)
			tc.change(&f)
			v := step(f)
			got := want{Hold: v.hold, Reason: v.reason, Master: v.master, Recheck: v.recheck, Fault: v.fault,
				AskState: v.askState, SyncWith: v.syncWith, SendDirs: v.sendDirectives, ConfirmAt: v.confirmAt, Conflict: v.conflict}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("step (-want +got):\n%s", diff)
			}
		})
	}
}
