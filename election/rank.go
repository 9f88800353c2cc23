package election

import (
	"cmp"
	"slices"
	"time"
)

// Candidate is one alive member's published state for one instance.
type Candidate struct {
	Node     string
	Priority int
	Holding  bool
}

// outranks reports whether a ranks above b: higher priority first, then
// the lower node name. Every node computes the same order from the same
// member list.
func outranks(a, b Candidate) bool {
	if a.Priority != b.Priority {
		return a.Priority > b.Priority
	}
	return a.Node < b.Node
}

// Rank returns the eligible candidates (priority > 0), best first.
func Rank(cands []Candidate) []Candidate {
	out := make([]Candidate, 0, len(cands))
	for _, c := range cands {
		if c.Priority > 0 {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b Candidate) int {
		if outranks(a, b) {
			return -1
		}
		if outranks(b, a) {
			return 1
		}
		return cmp.Compare(a.Node, b.Node)
	})
	return out
}

// sortCandidates orders candidates by node name.
func sortCandidates(cs []Candidate) {
	slices.SortFunc(cs, func(a, b Candidate) int { return cmp.Compare(a.Node, b.Node) })
}

// situation is everything one decision for one instance looks at.
type situation struct {
	now  time.Time
	self Candidate // Priority is the effective priority, 0 when not eligible
	// peers are the alive members other than this node that publish this
	// instance.
	peers        []Candidate
	quorum       bool // this node sees enough members to hold a VIP
	settled      bool // start-up is over: this node has joined or waited
	preempt      bool
	preemptDelay time.Duration
	// higherSince is when a better-ranked, eligible peer that does not
	// hold was first seen while this node held (zero: none).
	higherSince time.Time
	// preferred is the target of an active switchover: while eligible it
	// ranks first, and a holder yields to it at once, whatever preempt
	// says.
	preferred string
	// doubts, for a holder under quorum, names the peers whose view here
	// may not be current, and why (see presence.doubt): it does not
	// yield to them, by preemption or switchover, until that clears.
	doubts map[string]string
}

// verdict is the outcome of a decision.
type verdict struct {
	hold   bool
	reason string
	// higherSince is the new value of situation.higherSince.
	higherSince time.Time
	// recheck, if non-zero, is when the decision may change without any
	// new input (a preemption delay running out).
	recheck time.Time
	// master is the node this node believes holds, or will hold, the
	// instance ("" when nobody can).
	master string
	// conflict: this node holds, keeps holding, and sees another holder
	// (which must release).
	conflict bool
	// fault: the instance is not eligible because of a fault (reason).
	fault bool
	// askState names a member to ask for its current metadata.
	askState string
	// syncWith names a member to exchange member tables with (it hears
	// a member this node does not know).
	syncWith string
	// sendDirectives names a member to send this node's switchover
	// directives to (it publishes another digest of them).
	sendDirectives string
	// confirmAt is when a pending takeover from a holder that went
	// silent may go ahead (zero: none pending).
	confirmAt time.Time
}

// order ranks the eligible candidates, best first, with the switchover
// target (if eligible) in front.
func order(cands []Candidate, preferred string) []Candidate {
	ranked := Rank(cands)
	if preferred == "" {
		return ranked
	}
	for i, c := range ranked {
		if c.Node == preferred {
			copy(ranked[1:i+1], ranked[:i])
			ranked[0] = c
			break
		}
	}
	return ranked
}

// decide is the election rule, a pure function of what this node sees.
func decide(s situation) verdict {
	ranked := order(append([]Candidate{s.self}, s.peers...), s.preferred)
	pos := make(map[string]int, len(ranked))
	for i, c := range ranked {
		pos[c.Node] = i
	}
	v := verdict{}
	// The believed master: a holder if there is one (the best-ranked
	// holder), else the best-ranked eligible candidate.
	var otherHolder *Candidate
	for i, c := range ranked {
		if !c.Holding {
			continue
		}
		if v.master == "" {
			v.master = c.Node
		}
		if c.Node != s.self.Node && otherHolder == nil {
			otherHolder = &ranked[i]
		}
	}
	// A member that holds while not eligible is releasing, or failed to
	// release: its VIPs may still be on its interface, so it counts as a
	// holder that ranks below every eligible member.
	if otherHolder == nil {
		for i, c := range s.peers {
			if c.Holding && c.Priority <= 0 {
				otherHolder = &s.peers[i]
				pos[c.Node] = len(ranked)
				if v.master == "" {
					v.master = c.Node
				}
				break
			}
		}
	}
	if v.master == "" && len(ranked) > 0 {
		v.master = ranked[0].Node
	}

	switch {
	case s.self.Priority <= 0:
		v.reason = "not eligible"
		return v
	case !s.quorum:
		v.reason = "no quorum"
		if v.master == s.self.Node {
			v.master = ""
		}
		return v
	case !s.settled:
		v.reason = "waiting for the cluster at start-up"
		if v.master == s.self.Node {
			v.master = ""
		}
		return v
	}

	if s.self.Holding {
		return decideHolding(s, v, ranked, pos, otherHolder)
	}
	if otherHolder != nil {
		v.reason = otherHolder.Node + " holds"
		if otherHolder.Priority <= 0 {
			v.reason = otherHolder.Node + " still holds (not eligible: waiting for it to release)"
		}
		v.master = otherHolder.Node
		return v
	}
	if ranked[0].Node == s.self.Node {
		v.hold = true
		v.reason = "highest-ranked eligible member"
		if s.preferred == s.self.Node {
			v.reason = "switchover target"
		}
		v.master = s.self.Node
		return v
	}
	v.reason = ranked[0].Node + " ranks higher"
	return v
}

// decideHolding is decide for a node that holds the instance: it keeps it
// unless a better-ranked holder, a switchover or a due preemption says
// otherwise. v carries the believed master; pos is each candidate's rank.
func decideHolding(s situation, v verdict, ranked []Candidate, pos map[string]int, otherHolder *Candidate) verdict {
	if otherHolder != nil && pos[otherHolder.Node] < pos[s.self.Node] {
		v.reason = "higher-ranked holder " + otherHolder.Node + " seen"
		v.master = otherHolder.Node
		return v
	}
	best := ranked[0]
	if doubt := s.doubts[best.Node]; doubt != "" && best.Node != s.self.Node && (best.Node == s.preferred || s.preempt) {
		// Yielding to a member that cannot take the VIP (it does not
		// hear this node, say, and so has no majority) would leave
		// nobody holding it. Keep it; the preemption delay counts
		// from when the doubt clears.
		v.hold = true
		v.conflict = otherHolder != nil
		v.reason = "holding; not yielding to " + best.Node + ": " + doubt
		v.master = s.self.Node
		return v
	}
	if best.Node != s.self.Node && best.Node == s.preferred {
		v.reason = "switchover to " + best.Node
		v.master = best.Node
		return v
	}
	if s.preempt && best.Node != s.self.Node {
		since := s.higherSince
		if since.IsZero() {
			since = s.now
		}
		if !s.now.Before(since.Add(s.preemptDelay)) {
			v.reason = "preempted by " + best.Node
			v.master = best.Node
			return v
		}
		v.hold = true
		v.conflict = otherHolder != nil
		v.reason = "preemption by " + best.Node + " pending"
		v.higherSince = since
		v.recheck = since.Add(s.preemptDelay)
		v.master = s.self.Node
		return v
	}
	v.hold = true
	v.reason = "holding"
	v.conflict = otherHolder != nil
	if v.conflict {
		v.reason = "holding; lower-ranked holder " + otherHolder.Node + " must release"
	}
	if s.preferred == s.self.Node {
		v.reason = "holding (switchover target)"
	}
	v.master = s.self.Node
	return v
}
