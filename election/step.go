package election

import (
	"fmt"
	"time"
)

// facts is everything the decision for one instance looks at: the
// ranking inputs of decide (the situation) and what the safety rules
// need. evaluate gathers them; step turns them into a verdict without
// looking at anything else, so each rule is a row in a table test.
type facts struct {
	situation
	// fault, when set, makes the instance ineligible: its health, or a
	// failed acquire still backing off.
	fault string
	// needed is the quorum (0: off); seen and heard are how many members
	// count now and how many were heard within the lease, this node
	// included.
	needed, seen, heard int

	// The rules below only matter for a node about to take the VIPs
	// (decide says hold, it does not hold yet); evaluate may leave them
	// empty otherwise.

	// leaseHolder still may hold the instance: it held it, no longer
	// counts, but was heard less than lease + lease_margin ago, until
	// leaseUntil (zero: nobody).
	leaseHolder string
	leaseUntil  time.Time
	// informed is how many members (this node included) are known to
	// have this node's current state, or to know theirs is stale;
	// uninformed is a member that hears this node and is not ("": none).
	informed   int
	uninformed string
	// stale is a member whose heartbeats announce newer metadata than
	// this node has ("": none).
	stale string
	// staleRecheck is when to look again after asking stale for its state.
	staleRecheck time.Time
	// unknownHeard is a member that reports hearing a member this node
	// does not know ("": none).
	unknownHeard string
	// disagrees is a member that counts and publishes another digest of
	// the switchovers than this node's ("": none, or waited for long
	// enough).
	disagrees string
	// quorumSince is when this node last regained quorum (zero while it
	// has none); regainWait how long after that it waits for every
	// member it knows to be heard, and for every member it hears to
	// confirm its heartbeats; unheard and unconfirmed are such members
	// ("": none).
	quorumSince time.Time
	regainWait  time.Duration
	unheard     string
	unconfirmed string
	// vanished is a member that said it held the instance and no longer
	// counts; confirmAt is when a pending takeover from it may go ahead
	// (zero: none pending) and confirmDelay how long a new one waits.
	vanished     string
	confirmAt    time.Time
	confirmDelay time.Duration
}

// step is the whole decision for one instance, a pure function of facts:
// the fault, the election rule (decide), and the safety rules that keep
// a node from taking VIPs another may still hold. The first rule that
// holds a takeover back gives the reason.
func step(f facts) verdict {
	if f.fault != "" {
		return verdict{reason: f.fault, fault: true}
	}
	v := decide(f.situation)
	if !f.quorum {
		v.reason = fmt.Sprintf("no quorum: sees %d of %d needed", min(f.seen, f.heard), f.needed)
	}
	if !v.hold || f.self.Holding {
		return v
	}
	switch {
	case f.needed > 0 && !f.leaseUntil.IsZero():
		// A holder that vanished may only be cut off: it releases once
		// its lease runs out; take over only after that and a margin.
		v.hold = false
		v.reason = "waiting for the lease of " + f.leaseHolder + " to run out"
		v.recheck = f.leaseUntil
	case f.stale != "":
		// Until its state arrives this node does not know whether it
		// holds; ask for it (one round trip).
		v.hold = false
		v.reason = "waiting for the current state of " + f.stale
		v.recheck = f.staleRecheck
		v.askState = f.stale
	case f.needed > 0 && f.disagrees != "":
		// A member knows other switchovers than this node (one made
		// while this node was cut off or its link was down, say):
		// taking the VIP on this node's view could put it beside the
		// switchover's target, which takes it on the other. Exchange
		// them first (one round trip).
		v.hold = false
		v.reason = "waiting to agree on switchovers with " + f.disagrees
		v.recheck = f.staleRecheck
		v.askState = f.disagrees
		v.sendDirectives = f.disagrees
	case f.needed > 0 && f.unknownHeard != "":
		// A member others hear is missing from this node's view: it
		// may hold the VIP. Learn it first (a sync with the member
		// that hears it, one round trip).
		v.hold = false
		v.reason = "waiting to learn of a member " + f.unknownHeard + " hears"
		v.recheck = f.staleRecheck
		v.syncWith = f.unknownHeard
	case f.needed > 0 && f.unheard != "" && f.now.Before(f.quorumSince.Add(f.regainWait)):
		// Just back from a partition on the minority side: the members
		// heard first may not be all that are alive, and one not heard
		// yet may hold the VIP by now. Give every member the time a
		// silence takes to count.
		v.hold = false
		v.reason = "quorum regained; waiting to hear from " + f.unheard
		v.recheck = f.quorumSince.Add(f.regainWait)
	case f.needed > 0 && f.unconfirmed != "" && f.now.Before(f.quorumSince.Add(f.regainWait)):
		// Just started, or back from a partition: a member this node
		// hears but that has not confirmed its heartbeats yet does not
		// know this node's state (see informed), and may be taking the
		// VIP on the old one. It confirms within a heartbeat or two;
		// one that never does (its packets to this node are lost) is
		// waited for no longer than a silence takes to count.
		v.hold = false
		v.reason = "quorum regained; waiting for " + f.unconfirmed + " to confirm this node's heartbeats"
		v.recheck = f.staleRecheck
	case f.needed > 0 && (f.informed < f.needed || f.uninformed != ""):
		// This node's state changed since the members that hear it
		// last confirmed it (it regained quorum, say): a member that
		// decided on the old state may be taking the VIP right now.
		// Once they have the new state, such a member shows as a
		// holder, or as stale, to this node.
		v.hold = false
		v.reason = fmt.Sprintf("waiting until the members know this node's state (%d of %d)", f.informed, f.needed)
		if f.uninformed != "" {
			v.reason = "waiting until " + f.uninformed + " knows this node's state"
		}
		v.recheck = f.staleRecheck
	case f.vanished != "":
		// A holder that went silent: look again a moment later, so
		// heartbeats queued while this daemon was descheduled are read
		// first.
		v.confirmAt = f.confirmAt
		if v.confirmAt.IsZero() {
			v.confirmAt = f.now.Add(f.confirmDelay)
		}
		if f.now.Before(v.confirmAt) {
			v.hold = false
			v.reason = "making sure " + f.vanished + " is gone"
			v.recheck = v.confirmAt
		}
	}
	return v
}
