package election

import (
	"fmt"
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// TestForgedMetaEpochBounded: metadata of a run that would start more
// than a day ahead of this node's clock (forged without a key, in
// insecure mode) is ignored: taken, it would make every genuine update
// after it look old, and the member's state would be pinned to the
// forger's until this node restarts.
func TestForgedMetaEpochBounded(t *testing.T) {
	n := fuzzNode(t)
	d := &delegate{n: n}
	for _, epoch := range []uint64{math.MaxUint64, uint64(time.Now().Add(48 * time.Hour).UnixNano())} {
		d.NotifyMsg(namedMessage(msgMeta, "node0", mustMarshal(t, Meta{Epoch: epoch, Instances: []InstanceMeta{{Name: "web", Priority: 255, Holding: true}}})))
		n.drain()
		if got := n.members.members["node0"].meta.Epoch; got == epoch {
			t.Errorf("metadata with epoch %d (a run starting more than a day ahead) taken", epoch)
		}
	}
	genuine := uint64(time.Now().UnixNano())
	d.NotifyMsg(namedMessage(msgMeta, "node0", mustMarshal(t, Meta{Epoch: genuine, Seq: 5, Instances: []InstanceMeta{{Name: "web", Priority: 100}}})))
	n.drain()
	if got := n.members.members["node0"].meta; got.Epoch != genuine || got.Instances[0].Holding {
		t.Errorf("node0's genuine metadata not taken: %+v", got)
	}
}

// TestForgedDirectiveBounded: a switchover issued more than a day ahead
// of this node's clock is ignored (the largest Issued would otherwise
// outrank every later one, and the next issue time overflow); one a little
// ahead (a member's clock) is taken, and a new switchover still
// supersedes it.
func TestForgedDirectiveBounded(t *testing.T) {
	n, _ := settledNode(t, 0, nodeSpec{priority: 100}, nodeSpec{priority: 50})
	for _, issued := range []int64{math.MaxInt64, time.Now().Add(48 * time.Hour).UnixNano()} {
		n.mergeDirective(directive{Instance: "web", Target: "node0", Issued: issued, Issuer: "node0"})
		if _, ok := n.directives["web"]; ok {
			t.Fatalf("directive issued at %d taken", issued)
		}
	}
	ahead := time.Now().Add(time.Hour).UnixNano()
	n.mergeDirective(directive{Instance: "web", Target: "node0", Issued: ahead, Issuer: "node0"})
	if n.directives["web"].Issued != ahead {
		t.Fatal("a directive issued an hour ahead was not taken")
	}
	d := directive{Instance: "web", Target: "node1", Issued: n.issueTime("web", time.Now()), Issuer: "node1"}
	if !d.supersedes(n.directives["web"]) {
		t.Errorf("a new directive (issued %d) does not supersede one issued ahead (%d)", d.Issued, ahead)
	}
}

// TestRejoinWithLowerEpoch: a member that left and came back with a
// lower epoch (restarted with its clock behind and its state directory
// lost) is taken at its word, drained; before, its old run's "holding,
// priority 150" stayed until this node restarted. The same when the
// leave and the join were merged in a full event queue.
func TestRejoinWithLowerEpoch(t *testing.T) {
	for _, merged := range []bool{false, true} {
		t.Run(fmt.Sprintf("merged=%v", merged), func(t *testing.T) {
			n := fuzzNode(t)
			old := mustMarshal(t, Meta{Epoch: 1000, Seq: 9, Instances: []InstanceMeta{{Name: "web", Priority: 150, Holding: true}}})
			n.apply(event{kind: evUpdate, name: "node0", addr: "127.0.0.1:7945", meta: old})
			leave := event{kind: evLeave, name: "node0", addr: "127.0.0.1:7945"}
			join := event{kind: evJoin, name: "node0", addr: "127.0.0.1:7945",
				meta: mustMarshal(t, Meta{Epoch: 10, Seq: 1, Maintenance: true, Instances: []InstanceMeta{{Name: "web"}}})}
			if merged {
				q := newEventQueue(slog.New(slog.DiscardHandler))
				for range eventQueueSize {
					q.put(event{kind: evPingOK, name: "node2"})
				}
				q.put(leave)
				q.put(join)
				for _, e := range q.take() {
					n.apply(e)
				}
			} else {
				n.apply(leave)
				n.apply(join)
			}
			m := n.members.members["node0"].meta
			if m.Epoch != 10 || !m.Maintenance || m.Instances[0].Holding {
				t.Errorf("node0's metadata %+v; want its new run's (epoch 10, maintenance)", m)
			}
			// Its old run's metadata, gossiped late, does not win again.
			n.apply(event{kind: evUpdate, name: "node0", addr: "127.0.0.1:7945", meta: old})
			if m := n.members.members["node0"].meta; m.Epoch != 10 {
				t.Errorf("node0's old run's metadata taken again: %+v", m)
			}
		})
	}
}

// TestEventQueueKeepsMemberEventsOfAFullTable: with the merged events
// full of names nobody knows (forged messages in insecure mode), a
// member's leave is still kept; the strangers' messages are not.
func TestEventQueueKeepsMemberEventsOfAFullTable(t *testing.T) {
	q := newEventQueue(slog.New(slog.DiscardHandler))
	for range eventQueueSize {
		q.put(event{kind: evPingOK, name: "node0"})
	}
	for i := range maxMembers {
		q.put(event{kind: evMetaRequest, name: fmt.Sprintf("stranger%d", i)})
	}
	q.put(event{kind: evMetaRequest, name: "one-too-many"})
	q.put(event{kind: evLeave, name: "node2"})
	for range eventQueueSize {
		<-q.ch
	}
	var leave, extra bool
	for _, e := range q.take() {
		leave = leave || e.kind == evLeave && e.name == "node2"
		extra = extra || e.name == "one-too-many"
	}
	if !leave {
		t.Error("node2's leave dropped")
	}
	if extra {
		t.Error("a stranger's message past the bound kept")
	}
}

// TestAliveDelegateBoundsNames: memberlist records at most maxMembers
// names (this node's included); names it knows stay welcome.
func TestAliveDelegateBoundsNames(t *testing.T) {
	a := newAliveDelegate("node1")
	for i := range maxMembers - 1 {
		if err := a.NotifyAlive(&memberlist.Node{Name: fmt.Sprintf("n%d", i)}); err != nil {
			t.Fatalf("name %d refused: %v", i, err)
		}
	}
	if err := a.NotifyAlive(&memberlist.Node{Name: "one-too-many"}); err == nil {
		t.Error("a name past the bound accepted")
	}
	for _, name := range []string{"node1", "n0", fmt.Sprintf("n%d", maxMembers-2)} {
		if err := a.NotifyAlive(&memberlist.Node{Name: name}); err != nil {
			t.Errorf("known name %s refused: %v", name, err)
		}
	}
	if n := fuzzNode(t); n.memberlistConfig().Alive == nil {
		t.Error("memberlist runs without the alive delegate")
	}
}
