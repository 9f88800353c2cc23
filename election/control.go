package election

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/havip/havip/config"
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

// msgDirective is the first byte of a direct message carrying directives.
const msgDirective byte = 2

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

// SetPenalty lowers an instance's effective priority by weight for a
// named source (a failing track script); weight 0 removes that source's
// penalty. The effective priority never drops below 1 this way: only a
// fault or maintenance makes a node ineligible.
func (n *Node) SetPenalty(instance, source string, weight int) {
	_ = n.control(func() {
		in := n.instance(instance)
		if in == nil {
			return
		}
		if weight <= 0 {
			delete(in.penalties, source)
		} else {
			in.penalties[source] = weight
		}
	})
}

// SetInitialPenalties sets penalties (instance → source → weight) found
// before Run, such as a weighted check that failed its first run, so the
// first metadata the peers see already carries the lowered priority. It
// must be called before Run starts; later changes go through SetPenalty.
func (n *Node) SetInitialPenalties(p map[string]map[string]int) {
	for name, m := range p {
		in := n.instance(name)
		if in == nil {
			continue
		}
		for src, w := range m {
			if w > 0 {
				in.penalties[src] = w
			}
		}
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
		if m := n.members[to]; m != nil {
			why = "is " + string(m.state)
			if m.state.member() {
				why = "is not eligible (priority 0: fault, maintenance or instance not configured there)"
			}
		} else if to == n.cfg.Node.Name {
			why = "is not eligible here (priority 0: fault, maintenance or instance not configured)"
		}
		return "", fmt.Errorf("%w for instance %q: %q %s", ErrNoTarget, instance, to, why)
	}
	d := directive{Instance: instance, Target: to, Issued: time.Now().UnixNano(), Issuer: n.cfg.Node.Name}
	n.directives[instance] = d
	n.log.Info("switchover", "instance", instance, "peer", to, "master", master)
	n.sendDirectives([]directive{d})
	return to, nil
}

// candidates lists every member (this node included) that publishes the
// instance, and whether any does.
func (n *Node) candidates(instance string) ([]Candidate, bool) {
	var out []Candidate
	known := false
	if in := n.instance(instance); in != nil {
		known = true
		out = append(out, Candidate{Node: n.cfg.Node.Name, Priority: int(n.effectivePriority(in, n.faultOf(in))), Holding: in.holding})
	}
	peers := n.peersFor(instance)
	if len(peers) > 0 {
		known = true
	}
	return append(out, peers...), known
}

// faultOf returns the instance's current fault reason, if any.
func (n *Node) faultOf(in *instance) string {
	n.mu.Lock()
	f := n.faults[in.cfg.Name]
	n.mu.Unlock()
	if f == "" && time.Now().Before(in.retryAt) {
		f = in.fault
	}
	return f
}

// mergeDirective adopts d if it is newer than what this node knows.
func (n *Node) mergeDirective(d directive) {
	old, ok := n.directives[d.Instance]
	if ok && !d.supersedes(old) {
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
func (n *Node) preferred(instance string) string {
	d, ok := n.directives[instance]
	if !ok || d.Cleared {
		return ""
	}
	failed := ""
	if d.Target == n.cfg.Node.Name {
		if in := n.instance(instance); in == nil || n.effectivePriority(in, n.faultOf(in)) == 0 {
			failed = "not eligible"
		}
	} else if m := n.members[d.Target]; m != nil {
		if !n.present(m, time.Now()) {
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
	if n.ml == nil || n.mlStopped.Load() {
		return
	}
	b, err := json.Marshal(ds)
	if err != nil {
		return
	}
	n.sendAll(append([]byte{msgDirective}, b...))
}

// localState encodes the push/pull state; it runs on memberlist's
// goroutines, so it reads only what the mutex guards.
func (n *Node) localState() []byte {
	n.mu.Lock()
	ps := pushState{Name: n.cfg.Node.Name, Meta: slices.Clone(n.metaBuf), Directives: slices.Clone(n.pubDirectives)}
	n.mu.Unlock()
	b, _ := json.Marshal(ps)
	return b
}

// Reload applies a new configuration without a restart. Instances whose
// settings did not change keep their state and holder untouched; changed
// ones are updated in place (a holder that changed is swapped: released
// and, if this node should hold, acquired again with the new VIPs);
// removed ones are released; new ones start in INIT. Settings memberlist
// was started with (node name, bind, cluster name, key, timing) stay as
// they were: the caller reports them as needing a restart.
func (n *Node) Reload(cfg *config.Config, holders map[string]Holder) error {
	for _, ic := range cfg.Instances {
		if holders[ic.Name] == nil {
			return fmt.Errorf("election: no holder for instance %q", ic.Name)
		}
	}
	probe := Meta{}
	for _, ic := range cfg.Instances {
		probe.Instances = append(probe.Instances, InstanceMeta{Name: ic.Name})
	}
	if _, err := probe.MarshalBinary(); err != nil {
		return fmt.Errorf("election: %w", err)
	}
	var err error
	cerr := n.control(func() { err = n.reload(cfg, holders) })
	if cerr != nil {
		return cerr
	}
	return err
}

func (n *Node) reload(cfg *config.Config, holders map[string]Holder) error {
	ctx := n.runCtx
	now := time.Now()
	old := map[string]*instance{}
	for _, in := range n.insts {
		old[in.cfg.Name] = in
	}
	var next []*instance
	for _, ic := range cfg.Instances {
		h := holders[ic.Name]
		in, ok := old[ic.Name]
		if !ok {
			n.log.Info("instance added", "instance", ic.Name)
			next = append(next, &instance{cfg: ic, holder: h, state: StateInit, since: now, reason: "added by reload", penalties: map[string]int{}})
			continue
		}
		delete(old, ic.Name)
		if h != in.holder {
			if in.holding {
				if err := in.holder.Release(ctx); err != nil {
					n.log.Error("releasing VIPs for reload", "instance", ic.Name, "err", err)
				}
				in.holding = false
			}
			in.holder = h
		}
		if !instanceEqual(in.cfg, ic) {
			n.log.Info("instance changed", "instance", ic.Name)
		}
		in.cfg = ic
		next = append(next, in)
	}
	for name, in := range old {
		if in.holding {
			if err := in.holder.Release(ctx); err != nil {
				n.log.Error("releasing VIPs of removed instance", "instance", name, "err", err)
			}
		}
		delete(n.lastPubPrios, name)
		n.log.Info("instance removed", "instance", name)
	}
	n.insts = next
	// What memberlist was started with stays; the rest is taken.
	keep := n.cfg
	c := *cfg
	c.Node = keep.Node
	c.Cluster.Name = keep.Cluster.Name
	c.Cluster.SecretKey = keep.Cluster.SecretKey
	c.Cluster.SecretKeyFile = keep.Cluster.SecretKeyFile
	c.Cluster.Insecure = keep.Cluster.Insecure
	c.Cluster.Timing = keep.Cluster.Timing
	c.Status = keep.Status
	n.cfg = &c
	n.forcePublish = true
	return nil
}

// instanceEqual compares the settings of two instances.
func instanceEqual(a, b config.Instance) bool {
	return a.Name == b.Name && a.Interface == b.Interface && slices.Equal(a.VIPs, b.VIPs) &&
		a.Priority == b.Priority && a.Preempt == b.Preempt && a.PreemptDelay == b.PreemptDelay &&
		a.Announce == b.Announce
}
