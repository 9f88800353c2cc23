package election

import (
	"hash/fnv"
	"net/netip"
	"sync"
	"time"

	"github.com/havip/havip/config"
)

// presence knows when each member was last heard, which of this node's
// heartbeats it has confirmed, and which metadata version its heartbeats
// announce; it answers from that the questions the election's safety
// rests on: does a member count, does this node hold its lease, who may
// still hold a VIP. Arrivals are recorded from any goroutine (the
// transport's readers, memberlist's delegates); the questions are asked
// by the election goroutine, which owns the member table they take.
//
// Only members memberlist introduced (know) are recorded, so names that
// nobody knows allocate nothing; a heartbeat frame is taken only from its
// member's address, and only when it is newer than the last one taken
// from that member, so a captured heartbeat replayed later changes
// nothing.
type presence struct {
	self   string
	timing config.Timing
	// onResumed is called (without the lock) when a member is heard
	// after a silence longer than it takes to stop counting it, or for
	// the first time, at at; long says the silence outlasted a lease and
	// its margin.
	onResumed func(name string, long bool, at time.Time)
	// onNews, if set, is called (without the lock) when a member's
	// heartbeat announces a new state of it, or the member is heard
	// after a silence: this node answers with a heartbeat at once, whose
	// acknowledgement tells the member its state is known here.
	onNews func()

	mu    sync.Mutex
	peers map[string]*peer
	// epoch is this run's; sent remembers when this node sent its last
	// heartbeats, by counter, so an acknowledgement can be turned into
	// the time of the heartbeat it confirms.
	epoch uint64
	sent  [sentWindow]sentBeat
}

// sentWindow is how many of its own heartbeats a node remembers: an
// acknowledgement of an older one is too old to renew a lease anyway
// (the lease is a few heartbeat intervals).
const sentWindow = 64

type sentBeat struct {
	counter uint64
	at      time.Time
	// seq is the metadata version the heartbeat announced.
	seq uint64
}

// peer is what presence knows of one member.
type peer struct {
	// addr is its address as memberlist knows it; heartbeat frames
	// from elsewhere are dropped.
	addr netip.AddrPort
	// lastHeard is when a fresh heartbeat (or a probe's answer) last
	// came from it.
	lastHeard time.Time
	// beat is its last heartbeat taken; a heartbeat not newer is a
	// replay (or reordered) and is dropped.
	beat beatID
	// version is the metadata version its last heartbeat announced: when
	// it is newer than the metadata this node has, this node's view of
	// the member is stale. askedSince is when this node first asked the
	// member for it (zero: not asked since the view was last current).
	version    metaVersionOf
	hasVersion bool
	askedSince time.Time
	// gaveUp is the announced version this node stopped waiting for
	// (see staleMember); zero when none.
	gaveUp metaVersionOf
	// acked is when this node sent the latest of its heartbeats the
	// member confirmed hearing (its send time, on this node's clock);
	// acks is set once it has sent an acknowledgement at all (a member
	// of a version before them never does).
	acked time.Time
	acks  bool
	// ackedSeq is the highest metadata version of this node's that the
	// member confirmed a heartbeat of: it knows this node's state as of
	// then, or knows that its view is stale.
	ackedSeq uint64
	// hears is when the member last heard each member it reported in
	// its last heartbeat, by name hash, on this node's clock.
	hears map[uint32]time.Time
}

func newPresence(self string, epoch uint64, t config.Timing, onResumed func(string, bool, time.Time)) *presence {
	return &presence{self: self, epoch: epoch, timing: t, onResumed: onResumed, peers: map[string]*peer{}}
}

// know records a member memberlist introduced, at its address (invalid
// when unknown); a member not known is never recorded.
func (p *presence) know(name string, addr netip.AddrPort) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pr := p.peers[name]
	if pr == nil {
		pr = &peer{}
		p.peers[name] = pr
	}
	pr.addr = addr
}

// rejoined forgets the order of a member's heartbeats: memberlist saw it
// leave or die and come back, so it may be a new run whose epoch is not
// above the last one's (a clock stepped back without a state directory).
func (p *presence) rejoined(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pr := p.peers[name]; pr != nil {
		pr.beat = beatID{}
		pr.hasVersion = false
		pr.askedSince = time.Time{}
	}
}

// noteSent records that this node sent heartbeat counter at at,
// announcing metadata version seq.
func (p *presence) noteSent(counter uint64, at time.Time, seq uint64) {
	p.mu.Lock()
	p.sent[counter%sentWindow] = sentBeat{counter: counter, at: at, seq: seq}
	p.mu.Unlock()
}

// lastBeat is the last heartbeat taken from name, to acknowledge.
func (p *presence) lastBeat(name string) beatID {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pr := p.peers[name]; pr != nil {
		return pr.beat
	}
	return beatID{}
}

// received records a heartbeat from name that arrived at at from from
// (invalid when the path does not tell, as for memberlist's messages).
// It reports whether the heartbeat was taken: a heartbeat from a member
// nobody introduced, from another address than the member's, or not
// newer than the last one taken is dropped.
func (p *presence) received(name string, hb heartbeat, from netip.AddrPort, at time.Time) bool {
	p.mu.Lock()
	pr := p.peers[name]
	switch {
	case pr == nil:
		p.mu.Unlock()
		return false
	case from.IsValid() && pr.addr.IsValid() && from != pr.addr:
		p.mu.Unlock()
		return false
	case hb.beat.counter != 0 && !p.fresh(pr, hb.beat, at):
		p.mu.Unlock()
		return false
	}
	if hb.beat.counter != 0 {
		pr.beat = hb.beat
	}
	news := false
	if hb.version != nil {
		news = !pr.hasVersion || hb.version.newer(pr.version)
		pr.version, pr.hasVersion = *hb.version, true
	}
	if len(hb.hears) > 0 {
		// The latest report of each member stays until a later one:
		// a member the sender stopped hearing keeps the time it was
		// last heard. Bounded: a cluster reports at most ten names.
		if pr.hears == nil || len(pr.hears) > 4*maxHearings {
			pr.hears = make(map[uint32]time.Time, len(hb.hears))
		}
		for _, e := range hb.hears {
			if t := at.Add(-time.Duration(e.age) * time.Millisecond); t.After(pr.hears[e.name]) {
				pr.hears[e.name] = t
			}
		}
	}
	if hb.acks {
		pr.acks = true
		if hb.ack.epoch == p.epoch && hb.ack.counter != 0 {
			if s := p.sent[hb.ack.counter%sentWindow]; s.counter == hb.ack.counter {
				if s.at.After(pr.acked) {
					pr.acked = s.at
				}
				pr.ackedSeq = max(pr.ackedSeq, s.seq)
			}
		}
	}
	resumed, long := p.touchLocked(pr, at)
	p.mu.Unlock()
	if resumed && p.onResumed != nil {
		p.onResumed(name, long, at)
	}
	if (news || resumed) && p.onNews != nil {
		p.onNews()
	}
	return true
}

// fresh reports whether beat b may follow the last one taken from pr:
// newer, and not absurdly far ahead — a heartbeat forged without the
// cluster key (insecure mode) must not be able to make every genuine one
// after it look old. A new run's epoch is at most a day ahead of this
// node's clock (epochs are start times); a counter advances by at most
// what the time since the last heartbeat allows at ten times the rate.
func (p *presence) fresh(pr *peer, b beatID, at time.Time) bool {
	if !b.newer(pr.beat) {
		return false
	}
	if b.epoch != pr.beat.epoch {
		return b.epoch <= maxEpoch(at)
	}
	allowed := uint64(1000)
	if !pr.lastHeard.IsZero() && p.timing.HeartbeatInterval > 0 {
		allowed += uint64(10 * at.Sub(pr.lastHeard) / p.timing.HeartbeatInterval)
	}
	return b.counter-pr.beat.counter <= allowed
}

// heard records that a member answered a probe at at: it is up, though
// it sent no heartbeat.
func (p *presence) heard(name string, at time.Time) {
	p.mu.Lock()
	pr := p.peers[name]
	resumed, long := false, false
	if pr != nil {
		resumed, long = p.touchLocked(pr, at)
	}
	p.mu.Unlock()
	if resumed && p.onResumed != nil {
		p.onResumed(name, long, at)
	}
}

// touchLocked moves pr's last arrival to at (a lazy heartbeat frame is
// read after messages that arrived later: the last arrival stays) and
// reports whether the member resumed after a silence, and whether that
// silence outlasted a lease and its margin.
func (p *presence) touchLocked(pr *peer, at time.Time) (resumed, long bool) {
	last := pr.lastHeard
	if !at.After(last) {
		return false, false
	}
	pr.lastHeard = at
	if last.IsZero() {
		return true, false
	}
	gap := at.Sub(last)
	return gap > silenceLimit(p.timing), gap > p.timing.Lease+p.timing.LeaseMargin
}

// lastHeardOf returns when name was last heard.
func (p *presence) lastHeardOf(name string) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pr := p.peers[name]; pr != nil && !pr.lastHeard.IsZero() {
		return pr.lastHeard, true
	}
	return time.Time{}, false
}

// present reports whether a member counts for the election now. Without
// heartbeat_timeout that is memberlist's view: alive or suspect. With it,
// heartbeats decide: a member counts while it was heard from within the
// timeout (one that just joined gets that long to send its first), even
// when memberlist has declared it dead — memberlist's prober gives up on
// members whose packets are lost a few times in a row, and the heartbeats
// are the failure detector the timings are built on. Only a member that
// left gracefully is out at once.
func (p *presence) present(m *member, now time.Time) bool {
	to := p.timing.HeartbeatTimeout
	if to <= 0 {
		return m.state.member()
	}
	if m.state == MemberLeft {
		return false
	}
	// Not heard since it joined, it counts until its first heartbeat
	// is overdue, also if memberlist declares it dead meanwhile.
	last, _ := p.lastSign(m)
	return !last.IsZero() && now.Sub(last) <= to
}

// lastSign returns when m last showed it is up: the last message heard
// from it, or when it joined if it has not been heard since (then heard
// is false); zero when neither.
func (p *presence) lastSign(m *member) (last time.Time, heard bool) {
	t, ok := p.lastHeardOf(m.name)
	if !ok || t.Before(m.joined) {
		return m.joined, false
	}
	return t, true
}

// counts reports whether m can count towards the lease: it is a
// memberlist member or, with heartbeat_timeout set, a member memberlist
// declared dead whose heartbeats still arrive.
func (p *presence) counts(m *member) bool {
	return m.state.member() || (m.state == MemberDead && p.timing.HeartbeatTimeout > 0)
}

// seen counts the members that count for the election now, this node
// included.
func (p *presence) seen(ms memberTable, now time.Time) int {
	c := 1
	for _, m := range ms {
		if p.present(m, now) {
			c++
		}
	}
	return c
}

// leased reports whether m renews this node's lease at now: it confirmed
// hearing a heartbeat this node sent within the lease (a member that
// sends no acknowledgements, of a version before them: it was heard
// within the lease). Hearing a member is not enough: a node whose own
// heartbeats are lost on the way out would keep its lease while the
// others stop hearing it and take over.
func (p *presence) leased(m *member, now time.Time) bool {
	if !p.counts(m) {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	pr := p.peers[m.name]
	if pr == nil {
		return false
	}
	t := pr.lastHeard
	if pr.acks {
		t = pr.acked
	}
	return !t.IsZero() && now.Sub(t) <= p.timing.Lease
}

// informed counts the members (this node included) that renew this
// node's lease and confirmed a heartbeat announcing its metadata version
// seq or later (a member that sends no acknowledgements counts when it
// renews the lease), and names one that renews the lease but has not
// confirmed that yet ("": none). Before it takes a VIP, a node waits
// until every member that hears it is informed: two members whose views
// of each other changed at once (both regained quorum, say) would each
// take the VIP on the other's old state. A member that has the heartbeat
// knows that its view is stale and waits for the state itself; one that
// took the VIP before, announces that in the heartbeat that confirms.
func (p *presence) informed(ms memberTable, now time.Time, seq uint64) (int, string) {
	c, missing := 1, ""
	for _, m := range ms {
		if !p.leased(m, now) {
			continue
		}
		p.mu.Lock()
		pr := p.peers[m.name]
		ok := pr != nil && (!pr.acks || pr.ackedSeq >= seq)
		p.mu.Unlock()
		if ok {
			c++
		} else {
			missing = m.name
		}
	}
	return c, missing
}

// lacksVersion reports whether name, a member that sends
// acknowledgements, has not confirmed a heartbeat of this node announcing
// metadata version seq or later.
func (p *presence) lacksVersion(name string, seq uint64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	pr := p.peers[name]
	return pr != nil && pr.acks && pr.ackedSeq < seq
}

// leaseHolders counts the members (this node included) that renew this
// node's lease at now.
func (p *presence) leaseHolders(ms memberTable, now time.Time) int {
	c := 1
	for _, m := range ms {
		if p.leased(m, now) {
			c++
		}
	}
	return c
}

// signature summarises what the heartbeat tick can change: which members
// are present and (under quorum) which renew the lease.
func (p *presence) signature(ms memberTable, now time.Time, quorum bool) uint64 {
	var sig uint64
	for name, m := range ms {
		h := fnv.New64a()
		h.Write([]byte(name))
		v := h.Sum64()
		if p.present(m, now) {
			sig ^= v
		}
		if quorum && p.leased(m, now) {
			sig ^= v*31 + 7
		}
	}
	return sig
}

// staleMember returns a member that is audible (see audible) and whose
// heartbeats announce newer metadata than this node has, or "". Until
// that metadata arrives this node does not know whether it holds a VIP,
// so it must not take one. A member whose announced version is not
// matched by the metadata it sends for longer than the silence limit
// after this node first asked for it (see asking) is not waited for any
// more for that version (logged by the caller): its metadata does not
// reach this node, or this node's requests for it do not reach the
// member (a cut in one direction), or its heartbeats announce a version
// it does not have (a forged heartbeat in insecure mode). The time runs
// from the first request, not from when the view went stale: a node
// without quorum asks nobody, and once it regained quorum it must still
// ask before it gives up — a node back from a link down gave up the
// moment it could ask, and took the VIP beside the member it had not
// heard take it.
func (p *presence) staleMember(ms memberTable, now time.Time) (name string, overdue bool) {
	for n, m := range ms {
		if !p.audible(m, now) {
			continue
		}
		p.mu.Lock()
		pr := p.peers[n]
		stale := pr != nil && pr.hasVersion && (!m.hasMeta || pr.version.newer(m.meta.version())) && pr.version != pr.gaveUp
		switch {
		case !stale:
			if pr != nil {
				pr.askedSince = time.Time{}
			}
		case !pr.askedSince.IsZero() && now.Sub(pr.askedSince) > silenceLimit(p.timing):
			// Not waited for again for the same version: its next
			// heartbeat announces it again, and waiting anew each
			// time would hold every takeover back for as long as the
			// member's metadata does not arrive (a one-way cut that
			// drops this node's requests to it, say).
			pr.gaveUp = pr.version
			pr.askedSince = time.Time{}
			p.mu.Unlock()
			return n, true
		}
		p.mu.Unlock()
		if stale {
			return n, false
		}
	}
	return "", false
}

// audible reports whether m counts now or, whatever memberlist says of
// it, its heartbeats arrived within the silence limit: it is up and acts
// on what it hears. Without heartbeat_timeout a member counts while
// memberlist says it is alive, and memberlist may declare dead a member
// whose heartbeats arrive again (its suspicion began during a cut that
// has ended); the newer state that member's heartbeats announce — that
// it took a VIP while this node could not hear it — must still hold a
// takeover back.
func (p *presence) audible(m *member, now time.Time) bool {
	if p.present(m, now) {
		return true
	}
	if m.state == MemberLeft {
		return false
	}
	last, heard := p.lastSign(m)
	return heard && now.Sub(last) <= silenceLimit(p.timing)
}

// asking records that this node asks name for its metadata at now; the
// first request since its view went stale starts the wait staleMember
// allows.
func (p *presence) asking(name string, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pr := p.peers[name]; pr != nil && pr.askedSince.IsZero() {
		pr.askedSince = now
	}
}

// doubt says why this node's view of m may not be what m acts on, or
// "" when it is: m does not confirm this node's heartbeats within the
// lease (it does not hear this node, so it may lack a majority and be
// unable to take a VIP), or its heartbeats announce newer metadata than
// this node has (what it publishes now is not known here). A holder
// yields to a member only when there is no doubt: yielding on a stale or
// one-sided view leaves the instance without a holder for as long as
// the view stays so.
func (p *presence) doubt(m *member, now time.Time) string {
	if !p.leased(m, now) {
		return "it does not confirm this node's heartbeats"
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if pr := p.peers[m.name]; pr != nil && pr.hasVersion && (!m.hasMeta || pr.version.newer(m.meta.version())) {
		return "its current state is not known here"
	}
	return ""
}

// unheardMember returns a member that has not left and does not count
// now (not heard within the silence limit), or "".
func (p *presence) unheardMember(ms memberTable, now time.Time) string {
	for name, m := range ms {
		if m.state != MemberLeft && !p.present(m, now) {
			return name
		}
	}
	return ""
}

// unconfirmedMember returns a member that counts now but has not
// confirmed any heartbeat of this node within the lease, or "".
func (p *presence) unconfirmedMember(ms memberTable, now time.Time) string {
	for name, m := range ms {
		if p.present(m, now) && !p.leased(m, now) {
			return name
		}
	}
	return ""
}

// vanishedHolder returns a member that last said it held the instance
// and no longer counts (silent beyond heartbeat_timeout, or dead), or "".
func (p *presence) vanishedHolder(ms memberTable, instance string, now time.Time) string {
	for name, m := range ms {
		if m.state != MemberLeft && !p.present(m, now) && m.holds(instance) {
			return name
		}
	}
	return ""
}

// leaseGuard returns a member that held the instance and no longer counts
// but was heard less than lease + lease_margin ago — by this node, or by
// a member this node hears, as its heartbeats report — and when that time
// is up; zero when there is none. Such a holder may only be cut off from
// this node: it releases once its lease runs out, and while another
// member still hears it (a cut in one direction between the holder and
// this node only), its lease may never run out.
func (p *presence) leaseGuard(ms memberTable, instance string, now time.Time) (string, time.Time) {
	who, until := "", time.Time{}
	for name, m := range ms {
		if p.present(m, now) || !m.holds(instance) {
			continue
		}
		last, ok := p.lastHeardByAny(ms, name, now)
		if !ok {
			continue
		}
		if end := last.Add(p.timing.Lease + p.timing.LeaseMargin); end.After(now) && end.After(until) {
			who, until = name, end
		}
	}
	return who, until
}

// forget drops the version a member's heartbeats announced (tests).
func (p *presence) forget(name string) {
	p.mu.Lock()
	if pr := p.peers[name]; pr != nil {
		pr.hasVersion = false
	}
	p.mu.Unlock()
}

// confirmDelay is how long a takeover from a holder that went silent
// waits and looks again. A daemon that was descheduled for a while (a
// busy host, a paused VM) wakes with its peers' heartbeats still queued
// in its socket; its election loop may run before the reader has handed
// them over, and would see a live holder as silent. Waiting this long
// lets the queued packets in first. It adds this much to a failover.
func confirmDelay(t config.Timing) time.Duration {
	return min(t.HeartbeatInterval, 5*time.Millisecond)
}

// silenceLimit is how long a member must be silent before it stops
// counting: heartbeat_timeout, or with that off the lease and its margin.
func silenceLimit(t config.Timing) time.Duration {
	if t.HeartbeatTimeout > 0 {
		return t.HeartbeatTimeout
	}
	return t.Lease + t.LeaseMargin
}
