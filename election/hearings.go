package election

import "time"

// What the members report hearing. Each heartbeat lists the members its
// sender heard and how long ago (hearings); presence keeps the latest
// report of each member, and the election asks of them whether a member
// this node does not hear is heard by others (heardByOthers,
// lastHeardByAny) and whether others hear a member this node does not
// know (unknownHeard).

// heardByOthers reports whether m, which does not count for this node
// now, was heard within heartbeat_timeout by a member that counts, as
// its heartbeats report. Such a member is up and acts on what it hears —
// it may be taking a VIP this moment — although its own heartbeats do
// not reach this node (a cut in one direction): it still ranks as a
// candidate here, so that this node does not take a VIP on the belief
// that nobody better is there. It does not count for the quorum.
func (p *presence) heardByOthers(ms memberTable, m *member, now time.Time) bool {
	to := p.timing.HeartbeatTimeout
	if to <= 0 || m.state == MemberLeft {
		return false
	}
	last, ok := p.lastHeardByAny(ms, m.name, now)
	return ok && now.Sub(last) <= to
}

// unknownHeard returns a member that counts now and reports hearing,
// within heartbeat_timeout, a member this node does not know: none of its
// members has that name, or the one that has left before that hearing
// (by more than a heartbeat interval, so the last heartbeats before a
// graceful leave do not count); "" when there is none. This node's view
// then lacks a member that is up — one that came back while this node
// was cut off, say — and may hold a VIP: it cannot rank it, and must not
// take a VIP on the belief that nobody better, or nobody at all, holds
// it.
func (p *presence) unknownHeard(ms memberTable, now time.Time) string {
	to := p.timing.HeartbeatTimeout
	if to <= 0 {
		return ""
	}
	type known struct {
		hash     uint32
		leftBy   time.Time // zero unless it left
		reported bool
	}
	var names [maxHearings + 1]known
	ks := append(names[:0], known{hash: nameHash(p.self)})
	for _, m := range ms {
		k := known{hash: nameHash(m.name)}
		if m.state == MemberLeft {
			k.leftBy = m.since.Add(p.timing.HeartbeatInterval)
		}
		ks = append(ks, k)
	}
	isKnown := func(h uint32, at time.Time) bool {
		for _, k := range ks {
			if k.hash == h {
				return k.leftBy.IsZero() || !at.After(k.leftBy)
			}
		}
		return false
	}
	for name, m := range ms {
		if !p.present(m, now) {
			continue
		}
		p.mu.Lock()
		pr := p.peers[name]
		unknown := false
		if pr != nil {
			for h, at := range pr.hears {
				if now.Sub(at) <= to && !isKnown(h, at) {
					unknown = true
					break
				}
			}
		}
		p.mu.Unlock()
		if unknown {
			return name
		}
	}
	return ""
}

// lastHeardByAny is when name was last heard by this node or, as their
// last heartbeats report, by a member that counts now.
func (p *presence) lastHeardByAny(ms memberTable, name string, now time.Time) (time.Time, bool) {
	last, ok := p.lastHeardOf(name)
	h := nameHash(name)
	for other, m := range ms {
		if other == name || !p.present(m, now) {
			continue
		}
		p.mu.Lock()
		t, reported := time.Time{}, false
		if pr := p.peers[other]; pr != nil {
			t, reported = pr.hears[h]
		}
		p.mu.Unlock()
		if reported && t.After(last) {
			last, ok = t, true
		}
	}
	return last, ok
}

// missesMember reports whether r, a member that reports whom it hears,
// did not report hearing x within the silence limit in its last
// heartbeat (it does not count x now, or never did).
func (p *presence) missesMember(r, x string, now time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	pr := p.peers[r]
	if pr == nil || !pr.acks {
		return false
	}
	t, ok := pr.hears[nameHash(x)]
	return !ok || now.Sub(t) > silenceLimit(p.timing)
}

// hearings lists the members that count now, with how long ago this node
// last heard each, for its heartbeats.
func (p *presence) hearings(ms memberTable, now time.Time, dst []hearing) []hearing {
	for name, m := range ms {
		if len(dst) == maxHearings {
			break
		}
		if !p.present(m, now) {
			continue
		}
		last, ok := p.lastHeardOf(name)
		if !ok {
			continue
		}
		age := min(now.Sub(last).Milliseconds(), 1<<16-1)
		dst = append(dst, hearing{name: nameHash(name), age: uint16(max(age, 0))})
	}
	return dst
}
