package election

import (
	"maps"
	"slices"
	"strings"
	"time"
)

// Status is a snapshot of what this node knows, for `havip status`.
type Status struct {
	Node         string
	Cluster      string
	QuorumSeen   int
	QuorumNeeded int
	Maintenance  bool
	Instances    []InstanceStatus
	Members      []MemberStatus
}

// InstanceStatus is the local view of one instance.
type InstanceStatus struct {
	Name     string
	State    State
	Master   string
	Since    time.Time
	Reason   string
	Priority int
	// EffectivePriority is what this node publishes (0: not eligible).
	EffectivePriority int
	Preempt           bool
	// Penalty is the instance's health penalty (the weights of its
	// failing track scripts).
	Penalty int
	// Switchover is the target of the switchover in force, if any.
	Switchover string
	// LastFrom is the state before the last transition (at Since, for
	// Reason).
	LastFrom State
	// Holding: the VIPs are on this node's interface as far as the
	// election knows — as MASTER, or in FAULT while a failed release is
	// tried again.
	Holding bool
}

// MemberStatus is one member of the cluster, this node included.
type MemberStatus struct {
	Name  string
	Addr  string
	State MemberState
	Self  bool
	// Priority is the member's highest effective priority over its
	// instances.
	Priority    int
	Maintenance bool
	Instances   []InstanceMeta
	Since       time.Time
}

// Status returns the latest snapshot; it is safe to call from any
// goroutine.
func (n *Node) Status() Status {
	n.mu.Lock()
	s := n.snapshot
	n.mu.Unlock()
	s.Instances = slices.Clone(s.Instances)
	s.Members = slices.Clone(s.Members)
	return s
}

// updateSnapshot copies the election goroutine's state for Status.
func (n *Node) updateSnapshot() {
	now := time.Now()
	s := Status{
		Node:         n.cfg.Name,
		Cluster:      n.cfg.Cluster,
		QuorumSeen:   n.presence.seen(n.members.members, now),
		QuorumNeeded: n.cfg.Quorum,
		Maintenance:  n.maintenance,
	}
	self := MemberStatus{Name: n.cfg.Name, State: MemberAlive, Self: true, Maintenance: n.maintenance, Since: n.start}
	self.Addr = n.members.selfAddr
	n.mu.Lock()
	health := maps.Clone(n.health)
	n.mu.Unlock()
	for _, in := range n.insts {
		p := int(in.prio)
		s.Instances = append(s.Instances, InstanceStatus{
			Name:              in.cfg.Name,
			State:             in.state,
			Master:            in.master,
			Since:             in.since,
			Reason:            in.reason,
			Priority:          in.cfg.Priority,
			EffectivePriority: p,
			Preempt:           in.cfg.Preempt,
			Penalty:           health[in.cfg.Name].Penalty,
			Switchover:        n.activeDirective(in.cfg.Name),
			LastFrom:          in.lastFrom,
			Holding:           in.holding,
		})
		self.Instances = append(self.Instances, InstanceMeta{Name: in.cfg.Name, Priority: uint8(p), Holding: in.holding})
		self.Priority = max(self.Priority, p)
	}
	s.Members = append(s.Members, self)
	for _, m := range n.members.members {
		ms := MemberStatus{Name: m.name, Addr: m.addr, State: m.state, Since: m.since}
		present := n.presence.present(m, now)
		switch {
		case m.state == MemberAlive && !present:
			// Silent beyond heartbeat_timeout: the election already
			// counts it out; memberlist has not caught up.
			ms.State = MemberSuspect
		case m.state == MemberDead && present:
			// memberlist gave up on it, but its heartbeats arrive and
			// the election counts it: it is up.
			ms.State = MemberAlive
		}
		if m.hasMeta {
			ms.Maintenance = m.meta.Maintenance
			ms.Instances = slices.Clone(m.meta.Instances)
			if !present && !m.state.member() {
				// What a dead member last published is history: it
				// holds nothing the cluster counts on.
				for i := range ms.Instances {
					ms.Instances[i].Holding = false
					ms.Instances[i].Priority = 0
				}
			}
			for _, im := range ms.Instances {
				ms.Priority = max(ms.Priority, int(im.Priority))
			}
		}
		s.Members = append(s.Members, ms)
	}
	slices.SortFunc(s.Members[1:], func(a, b MemberStatus) int { return strings.Compare(a.Name, b.Name) })
	n.mu.Lock()
	n.snapshot = s
	n.mu.Unlock()
	n.noteMembers(s.Members)
}

// memberView is what MembersChanged watches of a member.
type memberView struct {
	name        string
	state       MemberState
	maintenance bool
}

// noteMembers signals MembersChanged when the members' states differ
// from the last snapshot's.
func (n *Node) noteMembers(ms []MemberStatus) {
	same := len(ms) == len(n.lastMembers)
	for i := 0; same && i < len(ms); i++ {
		same = n.lastMembers[i] == memberView{ms[i].Name, ms[i].State, ms[i].Maintenance}
	}
	if same {
		return
	}
	n.lastMembers = n.lastMembers[:0]
	for _, m := range ms {
		n.lastMembers = append(n.lastMembers, memberView{m.Name, m.State, m.Maintenance})
	}
	select {
	case n.membersCh <- struct{}{}:
	default:
	}
}

// MembersChanged returns a channel that receives after the members' states
// in Status changed: a member joined or left the table, or its state or
// maintenance flag changed. Changes coalesce while nobody receives, so
// read Status after each receive.
func (n *Node) MembersChanged() <-chan struct{} { return n.membersCh }

// activeDirective returns the target of the switchover in force, without
// side effects (unlike preferred).
func (n *Node) activeDirective(instance string) string {
	if d, ok := n.directives[instance]; ok && !d.Cleared {
		return d.Target
	}
	return ""
}
