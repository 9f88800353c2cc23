package election

import (
	"log/slog"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// member is what this node knows of another member.
type member struct {
	name    string
	addr    string
	state   MemberState
	meta    Meta
	hasMeta bool
	since   time.Time
	// joined is when memberlist last reported it alive after any other
	// state: a member not heard from since has heartbeat_timeout from
	// then to send its first heartbeat.
	joined time.Time
	// voided is set when the member came back after a silence longer
	// than its lease: its metadata from before says nothing about what
	// it holds now, until newer metadata arrives.
	voided bool
	// rejoined is set when memberlist reported it alive after it was
	// gone: the metadata that comes with that report is taken if it is
	// of another run, even one with a lower epoch.
	rejoined bool
	// pastRun is the highest epoch of a run this member replaced with
	// a lower-numbered one: metadata of runs up to it is history.
	pastRun uint64
	// counted is whether it counted for the election at this node's
	// last evaluation; countedSince is when an evaluation last found it
	// counting after it did not.
	counted      bool
	countedSince time.Time
}

// void marks the member's current metadata as history (see voided).
func (m *member) void() { m.voided = m.hasMeta }

// holds reports whether the member's last metadata says it holds the
// instance.
func (m *member) holds(instance string) bool {
	if !m.hasMeta {
		return false
	}
	im, ok := m.meta.instance(instance)
	return ok && im.Holding
}

// memberTable is the other members by name, owned by the election
// goroutine.
type memberTable map[string]*member

// maxMembers bounds the member table: a cluster has at most ten
// configured members, and only memberlist introduces new ones, which
// with a cluster key takes the key. Without one (insecure mode) anyone on
// the network could make up names; they are not recorded past this.
const maxMembers = 64

// membership is this node's view of the cluster's members: memberlist,
// the table its events build, and the direct messages sent to members.
// Its fields are the election goroutine's, except the atomics.
type membership struct {
	self    string
	log     *slog.Logger
	members memberTable
	ml      *memberlist.Memberlist
	// live is ml for readers outside the election goroutine.
	live atomic.Pointer[memberlist.Memberlist]
	// stopped is set by tests that stop memberlist under the node to
	// simulate a crash.
	stopped  atomic.Bool
	selfAddr string
	// full is set once a member was turned away by maxMembers.
	full     bool
	presence *presence
	events   *eventQueue
}

func newMembership(self string, l *slog.Logger, p *presence, q *eventQueue) *membership {
	return &membership{self: self, log: l, members: memberTable{}, presence: p, events: q}
}

// running reports whether memberlist runs (and is not stopped by a test).
func (ms *membership) running() bool { return ms.ml != nil && !ms.stopped.Load() }

// update applies a memberlist event or a member's message to the table.
func (ms *membership) update(e event) {
	m := ms.members[e.name]
	if m == nil {
		if e.kind == evMsg || e.kind == evSuspect || e.kind == evPingOK {
			// A direct message from a node we do not know as a member
			// yet: wait for memberlist to introduce it.
			return
		}
		if len(ms.members) >= maxMembers {
			if !ms.full {
				ms.full = true
				ms.log.Error("too many cluster members; ignoring new ones", "peer", e.name, "max", maxMembers)
			}
			return
		}
		m = &member{name: e.name}
		ms.members[e.name] = m
	}
	switch e.kind {
	case evSuspect:
		if m.state == MemberAlive {
			m.state = MemberSuspect
			ms.log.Info("member suspect", "peer", e.name, "addr", m.addr)
		}
		return
	case evPingOK:
		if m.state == MemberSuspect {
			m.state = MemberAlive
			ms.log.Info("member alive again", "peer", e.name, "addr", m.addr)
		}
		return
	case evMsg:
		if m.state == MemberSuspect && !e.relayed {
			m.state = MemberAlive
		}
	case evJoin, evUpdate:
		ms.alive(m, e)
	case evLeave:
		ms.gone(m)
		return
	}
	ms.takeMeta(m, e.meta)
	if m.state == MemberDead && m.hasMeta && m.meta.Leaving {
		// Its last update said it was leaving, and arrived after
		// memberlist reported it gone: it left.
		m.state = MemberLeft
		ms.log.Info("member left", "peer", m.name, "addr", m.addr)
	}
}

// alive records a join or update of m.
func (ms *membership) alive(m *member, e event) {
	addr, _ := netip.ParseAddrPort(e.addr)
	ms.presence.know(m.name, addr)
	if m.state == MemberDead || m.state == MemberLeft || e.rejoined {
		ms.presence.rejoined(m.name)
		// Back after it was gone, perhaps restarted with a lower
		// epoch (a clock stepped back, a lost state directory): the
		// run it reports now is its current one.
		m.rejoined = true
	}
	if m.state != MemberAlive {
		m.since = time.Now()
		if m.state != MemberSuspect {
			m.joined = m.since
		}
		if e.kind == evJoin {
			ms.log.Info("member alive", "peer", e.name, "addr", e.addr)
		}
	}
	m.state = MemberAlive
	m.addr = e.addr
}

// gone records that memberlist no longer has m: it left, if its last
// metadata said it was leaving, or died.
func (ms *membership) gone(m *member) {
	st := MemberDead
	if m.hasMeta && m.meta.Leaving {
		st = MemberLeft
	}
	if m.state == st {
		return
	}
	m.since = time.Now()
	m.state = st
	present := ms.presence.present(m, m.since)
	_, heard := ms.presence.lastSign(m)
	switch {
	case st != MemberDead || !present:
		ms.log.Info("member "+string(st), "peer", m.name, "addr", m.addr)
	case heard:
		ms.log.Info("member dead to memberlist, but its heartbeats arrive: still counted", "peer", m.name, "addr", m.addr)
	default:
		ms.log.Info("member dead to memberlist before its first heartbeat: still counted until that is due", "peer", m.name, "addr", m.addr)
	}
}

// takeMeta adopts encoded metadata for m if it is newer than what m has.
func (ms *membership) takeMeta(m *member, b []byte) {
	if len(b) == 0 {
		return
	}
	var meta Meta
	if err := meta.UnmarshalBinary(b); err != nil {
		ms.log.Warn("ignoring node metadata", "peer", m.name, "err", err)
		return
	}
	rejoined := m.rejoined
	m.rejoined = false
	if meta.Epoch > m.meta.Epoch && meta.Epoch > maxEpoch(time.Now()) {
		ms.log.Debug("ignoring node metadata from a run that starts more than a day ahead of this node's clock", "peer", m.name)
		return
	}
	switch {
	case m.hasMeta && rejoined && meta.Epoch != m.meta.Epoch:
		if meta.Epoch < m.meta.Epoch {
			// A run numbered below the one it replaces: the
			// replaced run's updates, passed on late by others,
			// must not win again.
			m.pastRun = max(m.pastRun, m.meta.Epoch)
		}
	case meta.Epoch != m.meta.Epoch && meta.Epoch <= m.pastRun:
		return
	case m.hasMeta && !meta.newer(m.meta):
		return
	}
	m.meta = meta
	m.hasMeta = true
	m.voided = false
}

// maxEpoch is the highest epoch a member's new run may have at now: runs
// are numbered by their start time (see NextEpoch), so a day ahead of
// this node's clock leaves room for clocks that differ; an epoch beyond
// it is forged (insecure mode), and taken it would make every genuine
// update after it look old.
func maxEpoch(now time.Time) uint64 { return uint64(now.Add(24 * time.Hour).UnixNano()) }

// sendTo sends msg to one member, if it has an address.
func (ms *membership) sendTo(m *member, msg []byte) {
	if !ms.running() || m == nil || m.addr == "" {
		return
	}
	if err := ms.ml.SendToAddress(memberlist.Address{Addr: m.addr, Name: m.name}, msg); err != nil {
		ms.log.Debug("direct message failed", "peer", m.name, "err", err)
	}
}

// deadContact is how long messages still go to a member memberlist
// declared dead, counted from when it was last heard: long enough that a
// loss burst which made memberlist give up on a member that is up does not
// also stop the heartbeats both ways, short enough not to talk to a
// crashed node for long.
const deadContact = 10 * time.Second

// sendAll sends msg to every alive or suspect member, to dead ones heard
// from within deadContact, and to left ones heard again since they left, by the addresses this goroutine recorded
// (memberlist's own Node structs may change under a reader).
func (ms *membership) sendAll(msg []byte) {
	if !ms.running() {
		return
	}
	ms.forContacts(func(m *member) { ms.sendTo(m, msg) })
}

// forContacts calls fn with each member sendAll sends to.
func (ms *membership) forContacts(fn func(m *member)) {
	now := time.Now()
	for _, m := range ms.members {
		if m.addr == "" {
			continue
		}
		if !m.state.member() {
			last, heard := ms.presence.lastSign(m)
			if last.IsZero() || now.Sub(last) > deadContact {
				continue
			}
			if m.state == MemberLeft && (!heard || !last.After(m.since)) {
				// Left, and not heard since: it is gone. One
				// heard again is back (restarted) before
				// memberlist says so — which can take a gossip
				// round when its join came with an old
				// incarnation — and must hear this node's
				// heartbeats meanwhile, or it counts this node
				// out and takes the VIP beside it.
				continue
			}
		}
		fn(m)
	}
}

// candidates lists the members that publish the instance and count now,
// or that others hear (see presence.heardByOthers), by name. A claim
// voided on a member's return (see member.voided) counts only for a
// holder: it does not make this node step down for a claim that is
// history, but a node about to take the VIP waits for that member's
// current state — it may have held all along, on the majority side of a
// cut that isolated this node.
func (ms *membership) candidates(instance string, now time.Time, holding bool) []Candidate {
	var out []Candidate
	for _, m := range ms.members {
		if !m.hasMeta || !ms.presence.present(m, now) && !ms.presence.heardByOthers(ms.members, m, now) {
			continue
		}
		im, ok := m.meta.instance(instance)
		if !ok {
			continue
		}
		out = append(out, Candidate{Node: m.name, Priority: int(im.Priority), Holding: im.Holding && !(m.voided && holding)})
	}
	sortCandidates(out)
	return out
}

// aliveAddrs is the set of addresses of memberlist's alive and suspect
// members.
func (ms *membership) aliveAddrs() map[string]bool {
	alive := map[string]bool{}
	for _, m := range ms.members {
		if m.state.member() {
			alive[m.addr] = true
		}
	}
	return alive
}

// anyKnownState reports whether some alive member's state arrived (by
// push/pull or gossip).
func (ms *membership) anyKnownState() bool {
	for _, m := range ms.members {
		if m.state.member() && m.hasMeta {
			return true
		}
	}
	return false
}

func nodeAddr(nd *memberlist.Node) string {
	a, ok := netip.AddrFromSlice(nd.Addr)
	if !ok {
		return ""
	}
	return netip.AddrPortFrom(a.Unmap(), nd.Port).String()
}
