package election

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"github.com/havip/havip/config"
	"github.com/havip/havip/election/internal/wire"
)

// loop is the election goroutine: it applies events and control
// requests, sends the heartbeats and decides, until ctx is done.
func (n *Node) loop(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	joinDone := make(chan map[string]string, 1)
	every := n.cfg.Timing.HeartbeatInterval
	heartbeat := newTicker(every)
	defer heartbeat.Stop()
	var b beatState
	// The loop wakes at least once a heartbeat interval (its own tick,
	// or the pace member's heartbeat), so the rejoin round and the safety
	// evaluation (a full one at least every second, even without input)
	// ride on those wakeups instead of tickers of their own: on an idle
	// daemon every wakeup is most of what it costs.
	rejoinEvery := n.cfg.Timing.RejoinInterval
	lastRejoin := time.Now()
	// Once ctx is done the node is stopping: every instance releases,
	// and the loop goes on (heartbeats, answers, retries) until none
	// holds, or stopRelease has passed. A removal that fails is then
	// tried again while this node still says it holds, so nobody takes a
	// VIP that may still be on its interface (see shutdown).
	done := ctx.Done()
	var stopBy time.Time

	for {
		var req *controlReq
		beat, paced := false, false
		select {
		case <-done:
			done = nil
			n.stopping = true
			stopBy = time.Now().Add(stopRelease)
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(context.WithoutCancel(ctx), stopBy)
			defer cancel()
		case e := <-n.events.ch:
			n.apply(e)
			n.drain()
		case <-n.events.more:
			n.drain()
		case <-n.kick:
		case r := <-n.ctl:
			r.f()
			req = &r
		case <-timer.C:
		case <-n.beats.paced:
			// The pace member's heartbeat arrived: put the own tick
			// off until just after its next one is due, so that the
			// tick fires only when the pace member falls silent, and
			// send this node's heartbeat in this wakeup.
			heartbeat.Delay(every + every/4)
			beat, paced = true, true
		case <-heartbeat.C():
			beat = true
		case <-n.beats.news:
			n.answerNews(&b)
		case errs := <-joinDone:
			n.joinBusy = false
			n.noteJoinErrors(errs)
			continue
		}
		// Whatever woke the loop, the heartbeats waiting in the lazy
		// socket are read before anything is decided.
		n.beats.readLazy()
		now := time.Now()
		n.noteStall(&b, now)
		if now.Sub(lastRejoin) >= rejoinEvery {
			lastRejoin = now
			n.rejoin(joinDone)
		}
		if beat {
			send, eval := n.beatDue(&b, paced, now)
			if !eval {
				if send {
					n.sendBeat(&b, false)
				}
				n.renew(ctx)
				continue
			}
		}
		next := n.decide(ctx, &b, beat, now)
		if req != nil {
			close(req.done)
		}
		if n.stopping && (!n.holdingAny() || !now.Before(stopBy)) {
			return
		}
		if !next.IsZero() {
			timer.Reset(max(time.Until(next), time.Millisecond))
		}
	}
}

// decide evaluates the election and then, on a heartbeat tick, sends
// the heartbeat and renews the VIPs held; a changed state is announced
// at once. The heartbeat goes out after the evaluation: a node that lost
// its lease (a daemon resumed after a freeze) releases before it tells
// anyone it is there, so nobody sees its old claim as current. It
// returns when the next evaluation is due without new input.
func (n *Node) decide(ctx context.Context, b *beatState, beat bool, now time.Time) time.Time {
	next := n.evaluate(ctx)
	changed := n.cfg.Quorum > 0 && n.seq != b.sentSeq
	if beat || changed {
		// Under quorum a takeover waits for the members to confirm
		// the current state (see presence.informed).
		n.sendBeat(b, changed)
	}
	if beat {
		n.renew(ctx)
	}
	b.lastEval = now
	return next
}

// answerNews confirms at once a member's new state (under quorum its
// takeover waits for that), at most four times an interval — counted
// apart from the regular heartbeats: one may have gone out just before
// the new state arrived.
func (n *Node) answerNews(b *beatState) {
	if n.cfg.Quorum > 0 && time.Since(b.lastUrgent) >= n.cfg.Timing.HeartbeatInterval/4 {
		b.lastUrgent = time.Now()
		n.sendBeat(b, true)
	}
}

// noteStall notices that the loop did not run for longer than a silence
// limit — it wakes at least once a heartbeat interval, so the daemon was
// frozen (SIGSTOP, a paused VM) or starved — and treats what it knows of
// the cluster as it would at start-up: messages queued meanwhile may be
// read in any order, and the members may have counted this node out and
// moved on. It takes no VIP for one more silence limit; its lease, which
// rests on fresh confirmations, is checked at once as always. It then
// ranks last for a while (see stallDamping).
func (n *Node) noteStall(b *beatState, now time.Time) {
	gap := now.Sub(b.lastWake)
	b.lastWake = now
	limit := silenceLimit(n.cfg.Timing)
	if b.lastEval.IsZero() || gap <= limit {
		return
	}
	n.dampUntil = now.Add(stallDamping(n.cfg.Timing))
	n.log.Warn("the daemon did not run for a while; taking no VIP until the cluster is heard again, and ranking last for a while",
		"stalled", gap.Round(time.Millisecond), "wait", limit, "rank_last_until", n.dampUntil.Format(time.RFC3339Nano))
	n.settled = false
	n.joinFailed = false
	n.settleBy = now.Add(limit)
}

// stallDamping is how long a node ranks last after its daemon stalled:
// ten silence limits, counted from the last stall. A daemon starved of
// CPU stalls again and again; ranking as configured, it would be handed
// the VIP (preemption) each time it ran again, stall while holding it —
// past its lease, so the next member takes over while its VIPs are still
// on its interface — and be handed it again: the VIP moving back and
// forth several times a second. Ranking last it takes a VIP only when no
// other member can, and preempts once it has run without a stall for
// that long.
func stallDamping(t config.Timing) time.Duration {
	return 10 * silenceLimit(t)
}

// beatState is the loop's record of its heartbeats.
type beatState struct {
	// lastWake is when the loop last woke.
	lastWake time.Time
	lastBeat time.Time
	lastEval time.Time
	// sentSeq is the metadata version the last heartbeat announced.
	sentSeq uint64
	// lastUrgent is when the last heartbeat answering news went out.
	lastUrgent time.Time
	// seqSince is when the heartbeats began announcing sentSeq;
	// lastResend when catchUp last looked for members that had not
	// confirmed it.
	seqSince, lastResend time.Time
}

// beatDue tells, on a heartbeat tick (paced: the pace member's
// heartbeat arrived), whether to send this node's heartbeat, and whether
// to evaluate the election first. Under quorum the lease, with
// heartbeat_timeout the members' presence, is re-checked every beat; the
// full evaluation runs only when either changed, or when the last one is
// a second old.
func (n *Node) beatDue(b *beatState, paced bool, now time.Time) (send, eval bool) {
	if time.Since(b.lastBeat) < n.cfg.Timing.HeartbeatInterval/2 {
		// A tick delivered before a Delay, or a pace heartbeat just
		// after the own tick sent one (the next arrival will send).
		return false, false
	}
	if paced {
		n.beats.pacedBeats.Add(1)
	}
	if sig := n.presence.signature(n.members.members, now, n.cfg.Quorum > 0); sig != n.lastSig {
		n.lastSig = sig
		return true, true
	}
	return true, now.Sub(b.lastEval) >= time.Second
}

// sendBeat sends this node's heartbeat now (urgent: see
// heartbeater.send) and picks the pace member anew.
func (n *Node) sendBeat(b *beatState, urgent bool) {
	n.beats.send(n.members, metaVersionOf{epoch: n.epoch, seq: n.seq}, urgent)
	now := time.Now()
	if b.sentSeq != n.seq || b.seqSince.IsZero() {
		b.seqSince = now
	}
	b.lastBeat, b.sentSeq = now, n.seq
	n.beats.setPace(n.members.members, now)
	n.catchUp(b, now)
	n.relay(now)
}

// lookAgainEvery is how far apart catchUp and relay look for what
// members missed: a quarter of a silence limit, so a member learns it well
// before a silence would count, and at least a heartbeat interval.
func lookAgainEvery(t config.Timing) time.Duration {
	return max(silenceLimit(t)/4, t.HeartbeatInterval)
}

// catchUp sends members what they missed, looking a quarter of a
// silence limit apart: this node's metadata, to the members its
// heartbeats go to that have not confirmed one announcing the current
// version a while after it was published; its switchover directives, to
// those whose metadata publishes another digest of them. The direct
// messages that carry either when it changes are one packet each, and
// under a one-way cut the members' requests for the metadata never
// arrive: a member that hears this node's heartbeats would act on its old
// state (rank it as eligible while it has no quorum, say), and one that
// missed a switchover's end would wait for its target after the target
// has yielded. In a steady cluster every member has both and nothing is
// sent.
func (n *Node) catchUp(b *beatState, now time.Time) {
	every := lookAgainEvery(n.cfg.Timing)
	if now.Sub(b.seqSince) < every || now.Sub(b.lastResend) < every {
		return
	}
	b.lastResend = now
	var msg []byte
	n.members.forContacts(func(m *member) {
		if n.presence.lacksVersion(m.name, n.seq) {
			if msg == nil {
				msg = n.directMessage()
			}
			n.members.sendTo(m, msg)
		}
		if m.hasMeta && m.meta.HasDirectives && m.meta.Directives != n.dirDigest {
			// It knows other switchovers than this node: send it
			// this node's; when it knows newer ones, its own
			// sending brings them here.
			n.sendDirectivesTo(m)
		}
	})
}

// relay passes on the state of the members this node hears to members
// whose heartbeats say they do not hear them, looking a quarter of a
// silence limit apart. Such a member knows the other only from before it
// stopped hearing it, and memberlist may tell it nothing newer for
// seconds (it gossips a change a few times, and a member it did not count
// dead is not synchronised with): a member that took a VIP while it was
// cut off — or restarted and took it — is one this node hears and it
// does not; ranking first, it would take the VIP beside it. Each state is
// sent again a silence limit later while the member still does not hear
// its owner, at once when it changes. In a steady cluster every member
// hears every other and nothing is sent.
func (n *Node) relay(now time.Time) {
	limit := silenceLimit(n.cfg.Timing)
	if now.Sub(n.lastRelay) < lookAgainEvery(n.cfg.Timing) {
		return
	}
	n.lastRelay = now
	for k, r := range n.relayed {
		if now.Sub(r.at) > limit {
			delete(n.relayed, k)
		}
	}
	ms := n.members.members
	n.members.forContacts(func(to *member) {
		if !to.counted {
			return
		}
		for _, x := range ms {
			if x == to || !x.counted || !x.hasMeta || !n.presence.missesMember(to.name, x.name, now) {
				continue
			}
			k := relayKey{to: to.name, of: x.name}
			if r, ok := n.relayed[k]; ok && r.version == x.meta.version() {
				continue
			}
			b, err := x.meta.MarshalBinary()
			if err != nil {
				continue
			}
			if n.relayed == nil {
				n.relayed = map[relayKey]relayMark{}
			}
			n.relayed[k] = relayMark{version: x.meta.version(), at: now}
			n.relayCount++
			n.members.sendTo(to, namedMessage(msgMetaOf, x.name, b))
		}
	})
}

// relayKey names a member (to) and a member whose state relay passed on
// to it (of); relayMark is which version of that state, and when.
type relayKey struct{ to, of string }

type relayMark struct {
	version metaVersionOf
	at      time.Time
}

// drain applies every queued event without waiting, so one evaluation
// sees a whole burst of updates: the channel's, then those merged while
// it was full.
func (n *Node) drain() {
	for {
		select {
		case e := <-n.events.ch:
			n.apply(e)
		default:
			for _, e := range n.events.take() {
				n.apply(e)
			}
			return
		}
	}
}

// apply hands an event to its owner: directives to the switchover state,
// requests for this node's state to the direct path, the rest to the
// member table.
func (n *Node) apply(e event) {
	switch {
	case e.kind == evDirective:
		for _, d := range e.dirs {
			n.mergeDirective(d)
		}
	case e.name == n.cfg.Name:
	case e.kind == evResumed || e.kind == evMetaRequest:
		m := n.members.members[e.name]
		if e.long && n.cfg.Quorum > 0 && m != nil && n.settled && (!m.counted || !m.countedSince.Before(e.at)) {
			// Silent for longer than its lease, and counted out
			// here meanwhile while this node ran (not settling
			// after its own stall, when everybody looks silent):
			// whatever it held then, it has released by now (or
			// its daemon was frozen and its lease check comes
			// first thing). Its old claim must not make this node
			// step down. An evaluation between its return and
			// this event counts it again already: that it counts
			// only since then shows it was out.
			m.void()
		}
		n.members.sendTo(m, n.directMessage())
		if e.kind == evMetaRequest {
			// A member that asks may lack a switchover too (see
			// disagreement).
			n.sendDirectivesTo(m)
		}
	default:
		n.members.update(e)
	}
}

// errAlreadyMember skips a configured peer, given by name, that turns out
// to be an alive member's address once looked up.
var errAlreadyMember = errors.New("already an alive member")

// rejoin joins the configured peers that are not alive members, in the
// background and all at once (see joinEach), so a healed partition or a
// restarted peer is found again without waiting for memberlist's own
// gossip to the dead. A peer given
// by name is looked up in the background too: a lookup can take seconds,
// and the election loop (heartbeats, the lease, takeovers) must not wait
// for it.
func (n *Node) rejoin(done chan<- map[string]string) {
	if n.joinBusy || len(n.cfg.Peers) == 0 {
		return
	}
	alive := n.members.aliveAddrs()
	var check []string
	for _, p := range n.cfg.Peers {
		if _, err := netip.ParseAddrPort(p); err == nil && alive[resolvePeer(p)] {
			continue
		}
		check = append(check, p)
	}
	if len(check) == 0 {
		return
	}
	n.joinBusy = true
	ml := n.members.ml
	go func() {
		results := joinEach(func(p string) error {
			if alive[resolvePeer(p)] {
				return errAlreadyMember
			}
			_, err := ml.Join([]string{p})
			return err
		}, check)
		errs := map[string]string{}
		for range check {
			switch r := <-results; {
			case errors.Is(r.err, errAlreadyMember):
			case r.err != nil:
				errs[r.peer] = r.err.Error()
			default:
				errs[r.peer] = ""
			}
		}
		done <- errs
	}()
}

// syncWith exchanges member tables with member name (memberlist's
// push/pull, what a join does) in the background, to learn a member it
// hears that this node does not know; the election looks again when it
// is done. One at a time, at most once per silence limit.
func (n *Node) syncWith(name string, now time.Time) {
	m := n.members.members[name]
	if m == nil || m.addr == "" || n.syncBusy.Load() || now.Sub(n.lastSync) < silenceLimit(n.cfg.Timing) {
		return
	}
	n.lastSync = now
	n.syncBusy.Store(true)
	n.log.Info("a member hears a member this node does not know; syncing with it", "peer", name)
	ml, addr := n.members.ml, m.addr
	go func() {
		defer n.syncBusy.Store(false)
		if _, err := ml.Join([]string{addr}); err != nil {
			n.log.Debug("syncing member tables", "peer", name, "err", err)
		}
		n.poke()
	}()
}

// noteJoinErrors logs a peer's join error when it changes, so a peer with
// a wrong key or cluster name is reported once, not every second.
func (n *Node) noteJoinErrors(errs map[string]string) {
	for p, e := range errs {
		if n.joinErrs[p] == e {
			continue
		}
		n.joinErrs[p] = e
		if e == "" {
			n.log.Info("re-joined configured peer", "peer", p)
		} else {
			n.log.Warn("cannot join configured peer", "peer", p, "err", e)
		}
	}
}

// resolvePeer turns "host:port" into "ip:port" the way the transport
// resolves it; an address it cannot resolve is returned unchanged.
func resolvePeer(p string) string {
	if ap, err := wire.ResolveUDP(p); err == nil {
		return ap.String()
	}
	return p
}
