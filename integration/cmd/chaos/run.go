//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/havip/havip/internal/testbed"
)

// runner carries out a schedule on a cluster and records what happened.
type runner struct {
	c    *cluster
	logf func(string, ...any)

	mu     sync.Mutex
	rec    record
	world  world
	active map[int]fault // network faults in force, by ID
	// proc is the process fault in force per node (0: none).
	proc     []int
	throttle map[int]*throttle
	skipped  map[kind]int
	injected map[kind]int
	// resolved says which node a "holder of" fault hit, by ID.
	resolved map[int]string
}

func newRunner(c *cluster, logf func(string, ...any)) *runner {
	n := len(c.net.Nodes)
	r := &runner{
		c: c, logf: logf, world: newWorld(n, c.prio),
		active: map[int]fault{}, proc: make([]int, n), throttle: map[int]*throttle{},
		skipped: map[kind]int{}, injected: map[kind]int{}, resolved: map[int]string{},
	}
	r.rec.Hung = make([][]time.Time, n)
	r.rec.Holders = make([][]holding, len(c.vips))
	r.rec.GARPs = make([][]garp, len(c.vips))
	return r
}

// note records a change of the world made by what, now.
func (r *runner) note(what string, mutate func(*world)) { r.noteAt(time.Now(), what, mutate) }

// noteAt records a change made at at. A fault counts from before its
// action began, as it begins and as it ends: the daemons act on it at
// once (a node sent SIGTERM releases before it exits, one let out of
// maintenance takes its VIP back before the command returns, a
// switchover hands over before havip switchover returns).
func (r *runner) noteAt(at time.Time, what string, mutate func(*world)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	w := r.world.clone()
	if mutate != nil {
		mutate(&w)
	}
	r.world = w
	if n := len(r.rec.Changes); n > 0 && at.Before(r.rec.Changes[n-1].At) {
		at = r.rec.Changes[n-1].At
	}
	r.rec.Changes = append(r.rec.Changes, change{At: at, What: what, W: w})
	r.logf("%s", what)
}

// sample reads the holders every samplePeriod until ctx ends and keeps
// each change.
func (r *runner) sample(ctx context.Context, probe *testbed.HolderProbe) error {
	t := time.NewTicker(samplePeriod)
	defer t.Stop()
	for {
		hs, err := probe.HoldersAll(r.c.vips)
		if err != nil {
			return err
		}
		now := time.Now()
		r.mu.Lock()
		for k, v := range r.c.vips {
			cur := r.rec.Holders[k]
			if len(cur) == 0 || !slices.Equal(cur[len(cur)-1].Holders, hs[v]) {
				r.rec.Holders[k] = append(cur, holding{At: now, Holders: hs[v]})
			}
		}
		r.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// action is the start or the end of a fault at an offset of the schedule.
type action struct {
	at  time.Duration
	end bool
	f   fault
}

// execute runs the schedule from now until its last action, then waits
// tail with nothing in force.
func (r *runner) execute(ctx context.Context, sched []fault, tail time.Duration) error {
	var acts []action
	for _, f := range sched {
		acts = append(acts, action{at: f.At, f: f})
		if f.Dur > 0 {
			acts = append(acts, action{at: f.At + f.Dur, end: true, f: f})
		}
	}
	slices.SortStableFunc(acts, func(a, b action) int { return int(a.at - b.at) })
	start := time.Now()
	for _, a := range acts {
		if err := sleepUntil(ctx, start.Add(a.at)); err != nil {
			return err
		}
		var err error
		if a.end {
			err = r.end(ctx, a.f)
		} else {
			err = r.begin(ctx, a.f)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", a.f, err)
		}
	}
	return sleepUntil(ctx, time.Now().Add(tail))
}

func sleepUntil(ctx context.Context, t time.Time) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(time.Until(t)):
		return nil
	}
}

// begin starts fault f. A fault that cannot be carried out (its node is
// busy with another process fault, or down) is skipped and counted.
func (r *runner) begin(ctx context.Context, f fault) error {
	at := time.Now()
	if len(f.Nodes) == 1 && f.Nodes[0] == holderOf {
		n, ok := r.holder(f.Inst)
		if !ok {
			r.skip(f, "no single holder")
			return nil
		}
		f.Nodes = []int{n}
		r.mu.Lock()
		r.resolved[f.ID] = hostName(n)
		r.mu.Unlock()
	}
	n := f.Nodes[0]
	if slices.Contains(processKinds, f.Kind) {
		r.mu.Lock()
		busy, down := r.proc[n] != 0, r.world.Down[n]
		r.mu.Unlock()
		if busy || down {
			r.skip(f, fmt.Sprintf("%s has a process fault already", hostName(n)))
			return nil
		}
		r.mu.Lock()
		r.proc[n] = f.ID
		r.mu.Unlock()
	}
	r.mu.Lock()
	r.injected[f.Kind]++
	r.mu.Unlock()
	switch f.Kind {
	case kPartition, kOneWay, kLoss:
		return r.network(at, f, true)
	case kLinkDown:
		if err := r.c.net.SetLink(n, "eth0", false); err != nil {
			return err
		}
		r.noteAt(at, f.String(), func(w *world) { w.LinkDown[n] = true })
	case kDeleteVIP:
		return r.deleteVIP(ctx, at, f, n)
	case kKill, kFreeze:
		r.hung(n)
		sig := syscall.SIGKILL
		if f.Kind == kFreeze {
			sig = syscall.SIGSTOP
		}
		if err := r.c.signal(n, sig); err != nil {
			return err
		}
		r.noteAt(at, f.String(), func(w *world) {
			if f.Kind == kKill {
				w.Down[n] = true
			} else {
				w.Frozen[n] = true
			}
		})
	case kTerm:
		if err := r.c.signal(n, syscall.SIGTERM); err != nil {
			return err
		}
		r.noteAt(at, f.String(), func(w *world) { w.Down[n] = true })
	case kStarve:
		t, err := throttlePID(r.c.pid(n), fmt.Sprintf("havip-chaos-%d-node%d", os.Getpid(), n), 2)
		if err != nil {
			r.mu.Lock()
			r.proc[n] = 0
			r.injected[f.Kind]--
			r.mu.Unlock()
			r.skip(f, "CPU starvation not possible here: "+err.Error())
			return nil
		}
		r.mu.Lock()
		r.throttle[n] = t
		r.mu.Unlock()
		r.noteAt(at, f.String(), func(w *world) { w.Starved[n] = true })
	case kMaint:
		if err := r.c.havip(ctx, n, "maintenance", "on"); err != nil {
			return err
		}
		r.noteAt(at, f.String(), func(w *world) { w.Drained[n] = true })
	case kReload:
		if !r.answers(n) {
			r.skip(f, hostName(n)+" is down or frozen")
			return nil
		}
		if err := r.c.setPriority(ctx, n, f.Inst, f.Prio); err != nil {
			r.skip(f, err.Error())
			return nil
		}
		r.noteAt(at, f.String(), func(w *world) { w.Prio[f.Inst][n] = f.Prio })
	case kSwitch:
		if !r.answers(n) {
			r.skip(f, hostName(n)+" is down or frozen")
			return nil
		}
		if err := r.c.havip(ctx, n, "switchover", "--instance", instName(f.Inst)); err != nil {
			// Refused (no eligible target, node down): part of the game.
			r.skip(f, err.Error())
			return nil
		}
		r.noteAt(at, f.String(), nil)
	}
	return nil
}

// end ends fault f, if it began.
func (r *runner) end(ctx context.Context, f fault) error {
	at := time.Now()
	if len(f.Nodes) == 1 && f.Nodes[0] == holderOf {
		n := r.resolvedNode(f.ID)
		if n < 0 {
			return nil // skipped
		}
		f.Nodes = []int{n}
	}
	if f.Kind == kPartition || f.Kind == kOneWay || f.Kind == kLoss {
		return r.network(at, f, false)
	}
	n := -1
	r.mu.Lock()
	for i, id := range r.proc {
		if id == f.ID {
			n = i
			r.proc[i] = 0
		}
	}
	r.mu.Unlock()
	if f.Kind == kLinkDown {
		n = f.Nodes[0]
		if err := r.c.net.SetLink(n, "eth0", true); err != nil {
			return err
		}
		r.noteAt(at, "end of "+f.String(), func(w *world) { w.LinkDown[n] = false })
		return nil
	}
	if n < 0 {
		return nil // skipped, or instantaneous
	}
	switch f.Kind {
	case kKill, kTerm:
		if err := r.c.start(n); err != nil {
			return err
		}
		r.noteAt(at, "end of "+f.String()+": started again", func(w *world) { w.Down[n] = false })
	case kFreeze:
		if err := r.c.signal(n, syscall.SIGCONT); err != nil {
			return err
		}
		r.noteAt(at, "end of "+f.String(), func(w *world) { w.Frozen[n] = false })
	case kStarve:
		r.mu.Lock()
		t := r.throttle[n]
		delete(r.throttle, n)
		r.mu.Unlock()
		if err := t.undo(); err != nil {
			return err
		}
		r.noteAt(at, "end of "+f.String(), func(w *world) { w.Starved[n] = false })
	case kMaint:
		if err := r.c.havip(ctx, n, "maintenance", "off"); err != nil {
			return err
		}
		r.noteAt(at, "end of "+f.String(), func(w *world) { w.Drained[n] = false })
	}
	return nil
}

// answers reports whether node n's daemon runs and is not frozen.
func (r *runner) answers(n int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.world.Down[n] && !r.world.Frozen[n]
}

func (r *runner) resolvedNode(id int) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	name, ok := r.resolved[id]
	if !ok {
		return -1
	}
	for i := range r.world.nodes() {
		if hostName(i) == name {
			return i
		}
	}
	return -1
}

func (r *runner) skip(f fault, why string) {
	r.mu.Lock()
	r.skipped[f.Kind]++
	r.mu.Unlock()
	r.logf("skipped %s: %s", f, why)
}

// hung records that node n's daemon stops renewing without releasing.
func (r *runner) hung(n int) {
	r.mu.Lock()
	r.rec.Hung[n] = append(r.rec.Hung[n], time.Now())
	r.mu.Unlock()
}

// holder returns the single holder of instance k as last sampled.
func (r *runner) holder(k int) (int, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	hs := r.rec.Holders[k]
	if len(hs) == 0 || len(hs[len(hs)-1].Holders) != 1 {
		return 0, false
	}
	return hs[len(hs)-1].Holders[0], true
}

// network starts or ends a network fault: the whole fault state is put
// in place at once, and the world's cuts and loss follow it.
func (r *runner) network(at time.Time, f fault, on bool) error {
	r.mu.Lock()
	if on {
		r.active[f.ID] = f
	} else {
		delete(r.active, f.ID)
	}
	fs, cuts, loss := netState(r.active, len(r.world.Down))
	r.mu.Unlock()
	if err := r.c.net.SetFaults(fs); err != nil {
		return err
	}
	what := f.String()
	if !on {
		what = "end of " + what
	}
	r.noteAt(at, what, func(w *world) { w.Cut, w.Loss = cuts, loss })
	return nil
}

// deleteVIP removes instance k's VIP from node n behind its daemon's
// back.
func (r *runner) deleteVIP(ctx context.Context, at time.Time, f fault, n int) error {
	p := testbed.HostPrefix(r.c.vips[f.Inst])
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := r.c.net.Exec(cctx, r.c.net.Nodes[n].NS, "ip", "addr", "del", p.String(), "dev", "eth0"); err != nil {
		// Gone already (expired, released): nothing was done.
		r.skip(f, err.Error())
		return nil
	}
	r.noteAt(at, f.String(), nil)
	return nil
}

// finish ends what the schedule left in force (on an early stop): every
// frozen daemon resumed, every throttle undone, the network healed.
func (r *runner) finish() error {
	var errs []error
	r.mu.Lock()
	ts := r.throttle
	r.throttle = map[int]*throttle{}
	frozen := slices.Clone(r.world.Frozen)
	r.mu.Unlock()
	for _, t := range ts {
		errs = append(errs, t.undo())
	}
	for i, f := range frozen {
		if f {
			errs = append(errs, r.c.signal(i, syscall.SIGCONT))
		}
	}
	errs = append(errs, r.c.net.Heal())
	return errors.Join(errs...)
}

// cluster is the topology and a havip daemon per node.
type cluster struct {
	net   *testbed.Net
	bin   string
	dir   string
	opts  testbed.ClusterOpts
	prio  [][]int
	vips  []netip.Addr
	procs []*testbed.Proc
	logs  []string
}

func instName(k int) string { return fmt.Sprintf("i%d", k) }

func (c *cluster) config(i int) string { return filepath.Join(c.dir, fmt.Sprintf("node%d.toml", i)) }

func (c *cluster) socket(i int) string { return testbed.SocketPath(c.dir, i) }

// start runs havip on node i, its output appended to the node's log.
func (c *cluster) start(i int) error {
	f, err := os.OpenFile(c.logs[i], os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	p, err := c.net.Start(c.net.Nodes[i].NS, []string{c.bin, "run", "--config", c.config(i)}, f, f)
	if err != nil {
		return err
	}
	c.procs[i] = p
	return nil
}

func (c *cluster) pid(i int) int { return c.procs[i].PID }

// signal sends sig to node i's daemon; for SIGKILL and SIGTERM it waits
// for the daemon to exit.
func (c *cluster) signal(i int, sig syscall.Signal) error {
	p := c.procs[i]
	if err := p.Signal(sig); err != nil {
		return fmt.Errorf("node%d: %v: %w", i, sig, err)
	}
	if sig == syscall.SIGKILL || sig == syscall.SIGTERM {
		if _, err := p.Wait(10 * time.Second); err != nil {
			return fmt.Errorf("node%d: after %v: %w", i, sig, err)
		}
	}
	return nil
}

// havip runs a havip command against node i's daemon.
func (c *cluster) havip(ctx context.Context, i int, args ...string) error {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	argv := append([]string{c.bin}, args...)
	argv = append(argv, "--socket", c.socket(i))
	_, stderr, err := c.net.ExecFull(cctx, c.net.Nodes[i].NS, argv...)
	if err != nil {
		return fmt.Errorf("node%d: havip %v: %w: %s", i, args, err, stderr)
	}
	return nil
}

// setPriority rewrites node i's configuration with a new priority for
// instance k and reloads its daemon.
func (c *cluster) setPriority(ctx context.Context, i, k, prio int) error {
	old := c.opts.Instances[k].Priority[i]
	c.opts.Instances[k].Priority[i] = prio
	_, err := testbed.WriteNodeConfig(c.config(i), i, c.opts)
	if err == nil {
		err = c.havip(ctx, i, "reload")
	}
	if err != nil {
		c.opts.Instances[k].Priority[i] = old
		_, _ = testbed.WriteNodeConfig(c.config(i), i, c.opts)
		return err
	}
	c.prio[k][i] = prio
	return nil
}

// stopAll stops every daemon still running: SIGCONT, SIGTERM, then
// SIGKILL after a grace.
func (c *cluster) stopAll() {
	for _, p := range c.procs {
		if p != nil && !p.Exited() {
			_ = p.Signal(syscall.SIGCONT)
			if _, killed, err := p.Stop(5 * time.Second); err != nil || killed {
				_ = p.Kill()
			}
		}
	}
}
