package election

import (
	"time"
)

// instance is one VIP instance's state on this node, owned by the
// election goroutine.
type instance struct {
	cfg         Instance
	holder      Holder
	state       State
	since       time.Time
	reason      string
	master      string
	holding     bool
	fault       string
	retryAt     time.Time // after a failed acquire, no new attempt before this
	higherSince time.Time
	// prio is the effective priority last published (0: not eligible).
	prio uint8
	// renewErr is the last renewal error logged ("" after a success).
	renewErr string
	// releaseErr is why the last release failed while the VIPs may still
	// be on the interface; "" when it did not.
	releaseErr string
	// conflict is set while another holder is seen and this node keeps
	// the VIPs.
	conflict bool
	lastFrom State
	// masterLost is when the master this node knew went away.
	masterLost time.Time
	// confirmAt is when a takeover from a holder that went silent may
	// go ahead (see confirmDelay); zero when none is pending.
	confirmAt time.Time
	// swapTo is the holder a reload gave the instance while the old
	// one's VIPs could not be removed: it takes over once they are.
	swapTo Holder
	// retiring: a reload removed the instance while its VIPs could not
	// be removed; it stays, holding, until they are.
	retiring bool
}

// retired reports whether a reload removed the instance and its VIPs
// are gone.
func (in *instance) retired() bool { return in.retiring && !in.holding }

func newInstance(ic Instance, h Holder, now time.Time, reason string) *instance {
	return &instance{cfg: ic, holder: h, state: StateInit, since: now, reason: reason}
}

// effectivePriority is an instance's priority on this node: the
// configured one less its health's penalty (never below 1), or 0 while
// the node is in maintenance, stopping or leaving, or the instance has a
// fault; 1 at now while the daemon's stall is damped.
func (n *Node) effectivePriority(in *instance, h Health, now time.Time) uint8 {
	if n.maintenance || n.stopping || n.leaving || h.Fault != "" {
		return 0
	}
	if now.Before(n.dampUntil) {
		// The daemon stalled a moment ago (see stallDamping).
		return 1
	}
	return uint8(max(in.cfg.Priority-h.Penalty, 1))
}

// publishedPriority is the priority the peers are told: the effective
// one, or 0 while this node has no quorum. A node cut off from the
// majority cannot hold a VIP; saying so lets the members that still hear
// it pass it over at once instead of waiting for it to vanish. At
// start-up, before it first had quorum, a node still gets a silence
// limit to find it: members starting together rank each other by their
// priorities, as they always did, not by who confirmed quorum first.
func (n *Node) publishedPriority(in *instance, h Health, now time.Time) uint8 {
	if n.noQuorum && (n.hadQuorum || now.Sub(n.start) > silenceLimit(n.cfg.Timing)) {
		return 0
	}
	return n.effectivePriority(in, h, now)
}

// healthOf returns an instance's health as the daemon last set it, with
// a failed acquire that is still backing off as a fault.
func (n *Node) healthOf(in *instance, now time.Time) Health {
	n.mu.Lock()
	h := n.health[in.cfg.Name]
	n.mu.Unlock()
	switch {
	case h.Fault != "":
	case in.releaseErr != "":
		h.Fault = in.releaseErr
	case now.Before(in.retryAt):
		h.Fault = in.fault
	}
	return h
}

// transition moves an instance to a state and tells OnTransition (the
// daemon logs it there, with the VIPs); staying in the same state only updates the reason.
func (n *Node) transition(in *instance, to State, reason string, now time.Time) {
	if in.state == to {
		in.reason = reason
		return
	}
	from := in.state
	in.lastFrom = from
	in.state = to
	in.since = now
	in.reason = reason
	if n.onTrans != nil {
		t := Transition{Instance: in.cfg.Name, From: from, To: to, Reason: reason, Master: in.master, At: now}
		if to == StateMaster {
			t.MasterLost = in.masterLost
			in.masterLost = time.Time{}
		}
		n.onTrans(t)
	}
}

func (n *Node) instance(name string) *instance {
	for _, in := range n.insts {
		if in.cfg.Name == name {
			return in
		}
	}
	return nil
}

func (n *Node) allOutOfInit() bool {
	for _, in := range n.insts {
		if in.state == StateInit {
			return false
		}
	}
	return true
}

// holdingAny reports whether this node holds any instance's VIPs (or
// failed to remove them).
func (n *Node) holdingAny() bool {
	for _, in := range n.insts {
		if in.holding {
			return true
		}
	}
	return false
}
