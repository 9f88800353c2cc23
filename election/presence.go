package election

import (
	"hash/fnv"
	"sync"
	"time"

	"github.com/havip/havip/config"
)

// presence knows when each member was last heard and which metadata
// version its heartbeats announce, and answers from that the questions
// the election's safety rests on: does a member count, is the lease held,
// who may still hold a VIP. Arrivals are recorded from any goroutine (the
// transport's readers, memberlist's delegates); the questions are asked
// by the election goroutine, which owns the member table they take.
type presence struct {
	timing config.Timing
	// onResumed is called (without the lock) when a member is heard
	// after a silence longer than it takes to stop counting it, or for
	// the first time.
	onResumed func(name string)

	mu sync.Mutex
	// lastHeard is when any message (heartbeat, state, probe ack) last
	// came from each member.
	lastHeard map[string]time.Time
	// hbVersion is the metadata version each member's last heartbeat
	// announced: when it is newer than the metadata this node has, this
	// node's view of that member is stale.
	hbVersion map[string]metaVersionOf
}

func newPresence(t config.Timing, onResumed func(string)) *presence {
	return &presence{timing: t, onResumed: onResumed, lastHeard: map[string]time.Time{}, hbVersion: map[string]metaVersionOf{}}
}

// heard records that a message from name arrived at at and, for a
// heartbeat, the metadata version it announced (v, else nil). A lazy
// heartbeat frame is read after messages that arrived later; the last
// arrival stays.
func (p *presence) heard(name string, v *metaVersionOf, at time.Time) {
	p.mu.Lock()
	if v != nil {
		if old, ok := p.hbVersion[name]; !ok || v.newer(old) {
			p.hbVersion[name] = *v
		}
	}
	last, ok := p.lastHeard[name]
	later := !ok || at.After(last)
	if later {
		p.lastHeard[name] = at
	}
	p.mu.Unlock()
	if later && (!ok || at.Sub(last) > silenceLimit(p.timing)) && p.onResumed != nil {
		p.onResumed(name)
	}
}

// lastHeardOf returns when name was last heard.
func (p *presence) lastHeardOf(name string) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t, ok := p.lastHeard[name]
	return t, ok
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

// counts reports whether messages from m count towards the lease: it is
// a memberlist member or, with heartbeat_timeout set, a member memberlist
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

// heardWithin counts the members (this node included) heard from within d.
func (p *presence) heardWithin(ms memberTable, now time.Time, d time.Duration) int {
	c := 1
	for name, m := range ms {
		if t, ok := p.lastHeardOf(name); ok && p.counts(m) && now.Sub(t) <= d {
			c++
		}
	}
	return c
}

// signature summarises what the heartbeat tick can change: which members
// are present and (under quorum) which were heard within the lease.
func (p *presence) signature(ms memberTable, now time.Time, quorum bool) uint64 {
	var sig uint64
	for name, m := range ms {
		h := fnv.New64a()
		h.Write([]byte(name))
		v := h.Sum64()
		if p.present(m, now) {
			sig ^= v
		}
		if t, ok := p.lastHeardOf(name); quorum && ok && now.Sub(t) <= p.timing.Lease {
			sig ^= v*31 + 7
		}
	}
	return sig
}

// staleMember returns a member that counts for the election and whose
// heartbeats announce newer metadata than this node has, or "". Until
// that metadata arrives this node does not know whether it holds a VIP,
// so it must not take one.
func (p *presence) staleMember(ms memberTable, now time.Time) string {
	for name, m := range ms {
		p.mu.Lock()
		v, ok := p.hbVersion[name]
		p.mu.Unlock()
		if ok && p.present(m, now) && (!m.hasMeta || v.newer(m.meta.version())) {
			return name
		}
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
// but was heard from less than lease + lease_margin ago, and when that
// time is up; zero when there is none. Such a holder may only be cut off:
// it releases once its lease runs out.
func (p *presence) leaseGuard(ms memberTable, instance string, now time.Time) (string, time.Time) {
	who, until := "", time.Time{}
	for name, m := range ms {
		if p.present(m, now) || !m.holds(instance) {
			continue
		}
		last, ok := p.lastHeardOf(name)
		if !ok {
			continue
		}
		if end := last.Add(p.timing.Lease + p.timing.LeaseMargin); end.After(now) && end.After(until) {
			who, until = name, end
		}
	}
	return who, until
}

// forget drops what is known of a member's heartbeats (tests).
func (p *presence) forget(name string) {
	p.mu.Lock()
	delete(p.hbVersion, name)
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
