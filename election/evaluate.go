package election

import (
	"context"
	"errors"
	"slices"
	"time"
)

// view is what one evaluation knows of the cluster as a whole, gathered
// once for every instance: quorum, and the safety facts that hold back a
// takeover of any instance (see facts).
type view struct {
	now                 time.Time
	needed, seen, heard int
	quorum              bool

	stale, unknownHeard, disagrees string
	informed                       int
	uninformed                     string
	unheard, unconfirmed           string
}

// evaluate decides every instance: it gathers the facts, steps each
// instance's state machine, acts on the holders and publishes the
// result. It returns when it next needs to run without new input.
func (n *Node) evaluate(ctx context.Context) time.Time {
	w := n.observe(time.Now())
	var next time.Time
	changed := false
	for _, in := range n.insts {
		h := n.healthOf(in, w.now)
		v := step(n.gather(in, h, w))
		if n.stopping && !v.hold && !v.fault {
			v.reason = "shutting down"
		}
		if n.act(ctx, in, &v, w.now) {
			changed = true
		}
		for _, t := range []time.Time{v.recheck, in.retryAt} {
			if t.After(w.now) && (next.IsZero() || t.Before(next)) {
				next = t
			}
		}
		if v.fault && h.Fault == "" {
			// The fault of a failed acquire or release is only known
			// after act.
			h.Fault = v.reason
		}
		if p := n.publishedPriority(in, h, w.now); in.prio != p {
			in.prio = p
			changed = true
		}
	}
	if slices.ContainsFunc(n.insts, (*instance).retired) {
		// Instances a reload removed once their VIPs are gone.
		n.insts = slices.DeleteFunc(n.insts, (*instance).retired)
		changed = true
	}
	if !n.settled && !n.settleBy.IsZero() && (next.IsZero() || n.settleBy.Before(next)) {
		next = n.settleBy
	}
	if n.dampUntil.After(w.now) && (next.IsZero() || n.dampUntil.Before(next)) {
		next = n.dampUntil
	}
	switch d := directivesDigest(n.directives); {
	case changed || n.forcePublish:
		n.dirDigest = d
		n.forcePublish = false
		n.publish()
	case d != n.dirDigest:
		n.dirDigest = d
		n.publishMeta()
	}
	n.mu.Lock()
	n.pubDirectives = n.pubDirectives[:0]
	for _, d := range n.directives {
		n.pubDirectives = append(n.pubDirectives, d)
	}
	n.mu.Unlock()
	n.updateSnapshot()
	if !n.readyFired && n.ready != nil && n.allOutOfInit() {
		n.readyFired = true
		n.ready()
	}
	return next
}

// observe updates start-up and quorum state and returns the cluster-wide
// facts of this evaluation.
func (n *Node) observe(now time.Time) view {
	if !n.settled && !n.settleBy.IsZero() && !now.Before(n.settleBy) {
		n.settled = true
	}
	if !n.settled && n.joinFailed && n.members.anyKnownState() {
		// Nobody answered our join, but someone joined us: its
		// push/pull brought the cluster's state.
		n.settled = true
	}
	ms := n.members.members
	for _, m := range ms {
		c := n.presence.present(m, now)
		if c && !m.counted {
			m.countedSince = now
		}
		m.counted = c
	}
	w := view{now: now, needed: n.cfg.Quorum, seen: n.presence.seen(ms, now), heard: n.presence.leaseHolders(ms, now)}
	w.quorum = w.needed == 0 || (w.seen >= w.needed && w.heard >= w.needed)
	switch {
	case !w.quorum:
		n.quorumSince = time.Time{}
	case n.quorumSince.IsZero():
		n.quorumSince = now
	}
	n.noQuorum = !w.quorum
	n.hadQuorum = n.hadQuorum || w.quorum

	p := n.presence
	stale, overdue := p.staleMember(ms, now)
	if overdue {
		n.log.Warn("heartbeats announce a state the member's metadata never reached; not waiting for it any longer", "peer", stale)
		stale = ""
	}
	w.stale = stale
	w.unknownHeard = p.unknownHeard(ms, now)
	w.disagrees = n.disagreement(now)
	w.informed, w.uninformed = p.informed(ms, now, n.stateSeq)
	w.unheard = p.unheardMember(ms, now)
	w.unconfirmed = p.unconfirmedMember(ms, now)
	return w
}

// gather collects the facts step needs for one instance. The safety
// facts are only looked up for an instance this node does not hold: they
// only ever hold a takeover back.
func (n *Node) gather(in *instance, h Health, w view) facts {
	t := n.cfg.Timing
	f := facts{
		fault:  h.Fault,
		needed: w.needed, seen: w.seen, heard: w.heard,
		quorumSince:  n.quorumSince,
		regainWait:   silenceLimit(t),
		confirmAt:    in.confirmAt,
		confirmDelay: confirmDelay(t),
		staleRecheck: w.now.Add(t.HeartbeatInterval),
	}
	if f.fault != "" {
		return f
	}
	f.situation = situation{
		now:          w.now,
		self:         Candidate{Node: n.cfg.Name, Priority: int(n.effectivePriority(in, h, w.now)), Holding: in.holding},
		peers:        n.members.candidates(in.cfg.Name, w.now, in.holding),
		quorum:       w.quorum,
		settled:      n.settled,
		preempt:      in.cfg.Preempt,
		preemptDelay: in.cfg.PreemptDelay,
		higherSince:  in.higherSince,
		preferred:    n.preferred(in.cfg.Name, w.now),
	}
	ms, p := n.members.members, n.presence
	if in.holding {
		if w.needed > 0 {
			for _, c := range f.peers {
				if d := p.doubt(ms[c.Node], w.now); d != "" {
					if f.doubts == nil {
						f.doubts = map[string]string{}
					}
					f.doubts[c.Node] = d
				}
			}
		}
		return f
	}
	f.leaseHolder, f.leaseUntil = p.leaseGuard(ms, in.cfg.Name, w.now)
	f.stale, f.unknownHeard, f.disagrees = w.stale, w.unknownHeard, w.disagrees
	f.informed, f.uninformed = w.informed, w.uninformed
	if n.publishedPriority(in, h, w.now) != in.prio {
		// What this node publishes changes in this evaluation (it
		// just regained quorum, say): nobody knows the new state yet.
		f.informed, f.uninformed = 1, ""
	}
	f.unheard, f.unconfirmed = w.unheard, w.unconfirmed
	f.vanished = p.vanishedHolder(ms, in.cfg.Name, w.now)
	return f
}

// act carries out a verdict: it acquires or releases the VIPs, asks a
// member for its state, and moves the instance to its new state. A failed
// acquire turns the verdict into a fault. It reports whether what this
// node publishes changed.
func (n *Node) act(ctx context.Context, in *instance, v *verdict, now time.Time) bool {
	if v.askState != "" {
		n.presence.asking(v.askState, now)
		n.members.sendTo(n.members.members[v.askState], namedMessage(msgMetaRequest, n.cfg.Name, nil))
	}
	if v.syncWith != "" {
		n.syncWith(v.syncWith, now)
	}
	if v.sendDirectives != "" {
		n.sendDirectivesTo(n.members.members[v.sendDirectives])
	}
	in.confirmAt = v.confirmAt
	in.higherSince = v.higherSince
	in.noteMaster(v.master, n.cfg.Name, now)
	in.master = v.master

	changed := false
	switch {
	case v.hold && !in.holding:
		if err := in.holder.Acquire(ctx); err != nil {
			n.log.Error("acquiring VIPs failed", "instance", in.cfg.Name, "err", err)
			in.fault = "acquire failed: " + err.Error()
			in.retryAt = now.Add(2 * time.Second)
			*v = verdict{reason: in.fault, fault: true}
			if rerr := in.holder.Release(ctx); rerr != nil {
				// Some VIPs may be on the interface: hold them
				// (and say so) until a release succeeds.
				n.log.Error("cleaning up after failed acquire", "instance", in.cfg.Name, "err", rerr)
				in.holding = true
				in.releaseErr = "releasing VIPs failed: " + rerr.Error()
				in.retryAt = now.Add(releaseRetry)
				changed = true
			}
		} else {
			in.holding = true
			changed = true
		}
	case v.hold && in.holding && v.conflict:
		// Another holder was seen and this node won: the loser releases;
		// announce again so neighbours that followed the loser come back.
		if !in.conflict {
			if r, ok := in.holder.(Reannouncer); ok {
				n.log.Info("other holder seen, announcing again", "instance", in.cfg.Name)
				r.Reannounce()
			}
		}
	case !v.hold && in.holding:
		changed = n.release(ctx, in, v, now)
	}
	in.conflict = v.conflict && v.hold

	to := StateBackup
	switch {
	case in.releaseErr != "":
		to = StateFault
	case in.holding:
		to = StateMaster
	case v.fault:
		to = StateFault
	}
	if to == StateMaster {
		in.master = n.cfg.Name
	} else if in.master == n.cfg.Name {
		in.master = ""
	}
	n.transition(in, to, v.reason, now)
	return changed
}

// renew renews the VIPs this node holds while its lease holds (see
// Renewer). VIPs that ran out unrenewed — the daemon was frozen or
// starved for longer than their lifetime — are gone: the instance no
// longer holds, and the election decides again at once, with the lease
// as it is now.
func (n *Node) renew(ctx context.Context) {
	if n.noQuorum {
		return
	}
	for _, in := range n.insts {
		r, ok := in.holder.(Renewer)
		if !ok || !in.holding || in.releaseErr != "" {
			continue
		}
		err := r.Renew(ctx)
		switch {
		case err == nil:
			in.renewErr = ""
		case errors.Is(err, ErrLost):
			// The holder's release clears what is left (its
			// announcements, the cloud binding); the VIPs themselves
			// are gone, which counts as removed.
			n.log.Warn("VIPs expired before they were renewed; no longer holding", "instance", in.cfg.Name, "err", err)
			now := time.Now()
			v := verdict{reason: "VIPs expired before they were renewed"}
			n.release(ctx, in, &v, now)
			to := StateBackup
			if in.releaseErr != "" {
				to = StateFault
			}
			in.master = ""
			n.transition(in, to, v.reason, now)
			n.forcePublish = true
			n.poke()
		case err.Error() != in.renewErr:
			in.renewErr = err.Error()
			n.log.Error("renewing VIPs failed", "instance", in.cfg.Name, "err", err)
		}
	}
}

// releaseRetry is how soon a failed release is tried again.
const releaseRetry = time.Second

// stopRelease is how long a stopping node tries to remove VIPs whose
// removal fails before it stops all the same (see shutdown): long
// enough for several tries, and for the kernel to remove VIPs added with
// a lifetime once they are no longer renewed.
const stopRelease = 5 * time.Second

// release takes the VIPs away. A release that fails leaves the node
// holding: the VIPs may still be on the interface, and publishing that
// it holds nothing would let another member add them beside. It goes to
// FAULT (priority 0) with the reason and is tried again every
// releaseRetry until it succeeds. It reports whether what this node
// publishes changed.
func (n *Node) release(ctx context.Context, in *instance, v *verdict, now time.Time) bool {
	if err := in.holder.Release(ctx); err != nil {
		if in.releaseErr == "" {
			n.log.Error("releasing VIPs failed; still holding them, trying again", "instance", in.cfg.Name, "err", err, "retry", releaseRetry)
		}
		in.releaseErr = "releasing VIPs failed: " + err.Error()
		in.retryAt = now.Add(releaseRetry)
		*v = verdict{reason: in.releaseErr, fault: true, recheck: in.retryAt}
		return false
	}
	if in.releaseErr != "" {
		n.log.Info("VIPs released after failed attempts", "instance", in.cfg.Name)
		in.releaseErr = ""
		in.retryAt = time.Time{}
		v.fault = false
		v.reason = "VIPs released after failed attempts"
		// Decide again at once, on the health alone.
		n.poke()
	}
	in.holding = false
	if in.swapTo != nil {
		// A reload gave the instance another holder while the old
		// one's VIPs would not go.
		in.holder, in.swapTo = in.swapTo, nil
	}
	return true
}
