package election

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"time"
)

// Errors a control request can return; callers decide on them with
// errors.Is.
var (
	ErrUnknownInstance = errors.New("unknown instance")
	ErrNoTarget        = errors.New("no eligible target")
	ErrNotRunning      = errors.New("election is not running")
)

// directive is a switchover: the operator's choice of holder for one
// instance. It is shared with every member (direct message and push/pull)
// and the newest one wins; it stays in force until its target fails or
// is drained (Cleared), or a newer switchover replaces it.
type directive struct {
	Instance string `json:"instance"`
	Target   string `json:"target"`
	Issued   int64  `json:"issued"` // unix nanoseconds
	Issuer   string `json:"issuer"`
	Cleared  bool   `json:"cleared,omitempty"`
}

// supersedes reports whether d should replace o.
func (d directive) supersedes(o directive) bool {
	if d.Issued != o.Issued {
		return d.Issued > o.Issued
	}
	if d.Issuer != o.Issuer {
		return d.Issuer > o.Issuer
	}
	return d.Cleared && !o.Cleared
}

// pushState is what LocalState sends with every push/pull: the node's
// current metadata (fresher than memberlist's copy) and the directives it
// knows.
type pushState struct {
	Name       string      `json:"name"`
	Meta       []byte      `json:"meta"`
	Directives []directive `json:"directives,omitempty"`
}

// control runs f in the election goroutine and waits until the
// evaluation that follows it is done, so its effect is in Status.
func (n *Node) control(f func()) error {
	req := controlReq{f: f, done: make(chan struct{})}
	select {
	case n.ctl <- req:
	case <-time.After(5 * time.Second):
		return ErrNotRunning
	}
	select {
	case <-req.done:
		return nil
	case <-time.After(5 * time.Second):
		return ErrNotRunning
	}
}

type controlReq struct {
	f    func()
	done chan struct{}
}

// SetMaintenance drains (on) or undrains (off) this node: every instance
// is published with priority 0, a holder releases at once and tells the
// peers directly, so they take over without a detection delay.
func (n *Node) SetMaintenance(on bool) {
	_ = n.control(func() {
		if n.maintenance == on {
			return
		}
		n.maintenance = on
		n.log.Info("maintenance", "on", on)
	})
}

// Switchover moves an instance to the node to, or with to == "" to the
// best eligible node other than the current master, and returns the
// node chosen. The choice holds against preemption until that node fails
// or is drained, or another switchover is made.
func (n *Node) Switchover(instance, to string) (string, error) {
	var target string
	var err error
	cerr := n.control(func() { target, err = n.switchover(instance, to) })
	if cerr != nil {
		return "", cerr
	}
	return target, err
}

func (n *Node) switchover(instance, to string) (string, error) {
	cands, known := n.candidates(instance)
	if !known {
		return "", fmt.Errorf("%w %q: no member publishes it", ErrUnknownInstance, instance)
	}
	master := ""
	for _, c := range cands {
		if c.Holding {
			master = c.Node
		}
	}
	ranked := Rank(cands)
	if to == "" {
		for _, c := range ranked {
			if c.Node != master {
				to = c.Node
				break
			}
		}
		if to == "" {
			return "", fmt.Errorf("%w for instance %q: no eligible member other than %q", ErrNoTarget, instance, master)
		}
	} else if !slices.ContainsFunc(ranked, func(c Candidate) bool { return c.Node == to }) {
		why := "is not a member"
		if m := n.members.members[to]; m != nil {
			why = "is " + string(m.state)
			if m.state.member() {
				why = "is not eligible (priority 0: fault, maintenance or instance not configured there)"
			}
		} else if to == n.cfg.Name {
			why = "is not eligible here (priority 0: fault, maintenance or instance not configured)"
		}
		return "", fmt.Errorf("%w for instance %q: %q %s", ErrNoTarget, instance, to, why)
	}
	d := directive{Instance: instance, Target: to, Issued: n.issueTime(instance, time.Now()), Issuer: n.cfg.Name}
	n.directives[instance] = d
	n.log.Info("switchover", "instance", instance, "peer", to, "master", master)
	n.sendDirectives([]directive{d})
	return to, nil
}

// candidates lists every member (this node included) that publishes the
// instance, and whether any does.
func (n *Node) candidates(instance string) ([]Candidate, bool) {
	var out []Candidate
	known, holding := false, false
	if in := n.instance(instance); in != nil {
		known, holding = true, in.holding
		now := time.Now()
		out = append(out, Candidate{Node: n.cfg.Name, Priority: int(n.publishedPriority(in, n.healthOf(in, now), now)), Holding: in.holding})
	}
	peers := n.members.candidates(instance, time.Now(), holding)
	if len(peers) > 0 {
		known = true
	}
	return append(out, peers...), known
}

// issueTime is the Issued of a new directive for an instance: the
// time, or just after the one in force when that is later — issued by a
// member whose clock is ahead, it must not outlive every switchover made
// after it.
func (n *Node) issueTime(instance string, now time.Time) int64 {
	t := now.UnixNano()
	if d, ok := n.directives[instance]; ok && d.Issued >= t {
		t = d.Issued + 1
	}
	return t
}

// maxDirectiveAhead is how far ahead of this node's clock a directive's
// Issued may be: clocks differ, but not by a day.
const maxDirectiveAhead = 24 * time.Hour

// maxDirectives bounds the directives kept: one per instance, and a
// cluster has a few dozen at most; more can only come from a forged
// message in insecure mode.
const maxDirectives = 256

// mergeDirective adopts d if it is newer than what this node knows.
func (n *Node) mergeDirective(d directive) {
	old, ok := n.directives[d.Instance]
	if ok && !d.supersedes(old) {
		return
	}
	if d.Issued > time.Now().Add(maxDirectiveAhead).UnixNano() {
		// Forged (insecure mode) or issued with a clock far ahead:
		// it would outrank every switchover made after it.
		n.log.Debug("ignoring a switchover issued more than a day ahead of this node's clock", "instance", d.Instance, "issuer", d.Issuer)
		return
	}
	if !ok && len(n.directives) >= maxDirectives {
		return
	}
	n.directives[d.Instance] = d
	if !d.Cleared && (!ok || old.Issued != d.Issued || old.Issuer != d.Issuer) {
		n.log.Info("switchover learned", "instance", d.Instance, "peer", d.Target, "issuer", d.Issuer)
	}
}

// preferred returns the target of the instance's active switchover,
// clearing it (and telling the peers) once the target has failed or been
// drained. A target this node does not know yet is left alone: a node
// that just joined must not cancel the cluster's choice.
func (n *Node) preferred(instance string, now time.Time) string {
	d, ok := n.directives[instance]
	if !ok || d.Cleared {
		return ""
	}
	failed := ""
	if d.Target == n.cfg.Name {
		if in := n.instance(instance); in == nil || n.publishedPriority(in, n.healthOf(in, now), now) == 0 {
			failed = "not eligible"
		}
	} else if m := n.members.members[d.Target]; m != nil {
		if !n.presence.present(m, time.Now()) {
			failed = "gone (" + string(m.state) + ")"
		} else if m.hasMeta {
			if im, ok := m.meta.instance(instance); !ok || im.Priority == 0 {
				failed = "not eligible"
			}
		}
	}
	if failed == "" {
		return d.Target
	}
	d.Cleared = true
	n.directives[instance] = d
	n.log.Info("switchover ended", "instance", instance, "peer", d.Target, "reason", "target "+failed)
	n.sendDirectives([]directive{d})
	return ""
}

// sendDirectives tells every member about directives at once.
func (n *Node) sendDirectives(ds []directive) {
	b, err := json.Marshal(ds)
	if err != nil {
		return
	}
	n.members.sendAll(append([]byte{msgDirective}, b...))
}

// directivesDigest digests a set of directives, the same on every node
// that knows the same ones (0: none). Published in the metadata, it
// shows which members missed a switchover or its end: the direct
// message that carries one is a single packet, and push/pull may be
// minutes away. A node that still follows a switchover every other
// member has ended waits for a holder that has long yielded.
func directivesDigest(ds map[string]directive) uint64 {
	if len(ds) == 0 {
		return 0
	}
	names := slices.Sorted(maps.Keys(ds))
	h := fnv.New64a()
	var buf [8]byte
	for _, name := range names {
		d := ds[name]
		for _, s := range []string{d.Instance, d.Target, d.Issuer} {
			h.Write([]byte(s))
			h.Write([]byte{0})
		}
		binary.BigEndian.PutUint64(buf[:], uint64(d.Issued))
		h.Write(buf[:])
		if d.Cleared {
			h.Write([]byte{1})
		} else {
			h.Write([]byte{0})
		}
	}
	return h.Sum64()
}

// disagreement returns a member that counts and whose metadata
// publishes another digest of the switchovers than this node's, or "".
// A takeover waits for the two to agree — a switchover made while this
// node's link was down would otherwise put the VIP on it and on the
// switchover's target at once — but for no longer than a silence limit
// from the first disagreement seen: a member whose directives cannot
// reach this node (a one-way cut) must not hold every takeover back.
func (n *Node) disagreement(now time.Time) string {
	for name, m := range n.members.members {
		if !m.counted || !m.hasMeta || !m.meta.HasDirectives || m.meta.Directives == n.dirDigest {
			continue
		}
		if n.disagreeSince.IsZero() {
			n.disagreeSince = now
		}
		if now.Sub(n.disagreeSince) > silenceLimit(n.cfg.Timing) {
			return ""
		}
		return name
	}
	n.disagreeSince = time.Time{}
	return ""
}

// sendDirectivesTo sends m every directive this node knows (nothing
// when it knows none).
func (n *Node) sendDirectivesTo(m *member) {
	for _, d := range n.directivesMessages() {
		n.members.sendTo(m, d)
	}
}

// directivesMessages encodes every directive this node knows, a few to a
// message so that each fits one packet.
func (n *Node) directivesMessages() [][]byte {
	names := slices.Sorted(maps.Keys(n.directives))
	var out [][]byte
	for chunk := range slices.Chunk(names, 4) {
		ds := make([]directive, 0, len(chunk))
		for _, name := range chunk {
			ds = append(ds, n.directives[name])
		}
		if b, err := json.Marshal(ds); err == nil {
			out = append(out, append([]byte{msgDirective}, b...))
		}
	}
	return out
}

// localState encodes the push/pull state; it runs on memberlist's
// goroutines, so it reads only what the mutex guards.
func (n *Node) localState() []byte {
	n.mu.Lock()
	ps := pushState{Name: n.cfg.Name, Meta: slices.Clone(n.metaBuf), Directives: slices.Clone(n.pubDirectives)}
	n.mu.Unlock()
	b, _ := json.Marshal(ps)
	return b
}

// Reload applies the reloadable part of a new configuration without a
// restart; the rest of Config is what memberlist and the heartbeats were
// started with and stays. Instances whose settings did not change keep
// their state and holder untouched; changed ones are updated in place (a
// holder that changed is swapped: released and, if this node should hold,
// acquired again with the new VIPs); removed ones are released; new ones
// start in INIT.
func (n *Node) Reload(r Reloadable, holders map[string]Holder) error {
	for _, ic := range r.Instances {
		if holders[ic.Name] == nil {
			return fmt.Errorf("election: no holder for instance %q", ic.Name)
		}
	}
	if err := checkMetaSize(r.Instances); err != nil {
		return fmt.Errorf("election: %w", err)
	}
	return n.control(func() { n.reload(r, holders) })
}

func (n *Node) reload(r Reloadable, holders map[string]Holder) {
	ctx := n.runCtx
	now := time.Now()
	old := map[string]*instance{}
	for _, in := range n.insts {
		old[in.cfg.Name] = in
	}
	var next []*instance
	for _, ic := range r.Instances {
		h := holders[ic.Name]
		in, ok := old[ic.Name]
		if !ok {
			n.log.Info("instance added", "instance", ic.Name)
			next = append(next, newInstance(ic, h, now, "added by reload"))
			continue
		}
		delete(old, ic.Name)
		if in.cfg != ic {
			n.log.Info("instance changed", "instance", ic.Name)
		}
		switch {
		case h == in.holder:
		case in.holding && !n.release(ctx, in, &verdict{}, now):
			// The old VIPs may still be on the interface: the
			// instance keeps holding them (FAULT) until a retry
			// removes them, and only then takes the new holder.
			in.swapTo = h
		default:
			in.holder, in.swapTo = h, nil
		}
		in.cfg = ic
		next = append(next, in)
	}
	for name, in := range old {
		if in.holding && !n.release(ctx, in, &verdict{}, now) {
			// It stays, holding (FAULT), until a retry removes its
			// VIPs; then evaluate drops it.
			in.retiring = true
			next = append(next, in)
			n.log.Info("instance removed; it stays until its VIPs are removed", "instance", name)
			continue
		}
		n.log.Info("instance removed", "instance", name)
	}
	n.insts = next
	n.cfg.Reloadable = Reloadable{Instances: r.Instances, Quorum: r.Quorum}
	n.forcePublish = true
}
