//go:build linux

// Command chaos hunts for split brain: it runs havip on a namespace test
// bed (a bridge in a switch namespace, a namespace per node and an
// observer, as the benchmark does), carries out a seeded random schedule
// of overlapping faults, samples every node's addresses every 5 ms and
// the observer's view of gratuitous ARPs, and checks the invariants
// (see check.go) from outside. Every process, rule and cgroup it makes
// stays inside what it creates, and it stops by itself after -duration.
//
//	sudo go run ./integration/cmd/chaos -nodes 3 -profile fast -duration 1m -seed 1
//
// It exits 0 when no invariant was violated, 1 otherwise, 2 when it
// could not run. The same seed and flags draw the same schedule; the
// report (Markdown, -out) lists each violation with the schedule around
// it and the nodes' last log lines.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/havip/havip/config"
	"github.com/havip/havip/internal/testbed"
	"golang.org/x/sync/errgroup"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "chaos:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := chaos(ctx, o, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "chaos:", err)
		return 2
	}
	w := stdout
	if o.out != "" {
		f, err := os.Create(o.out)
		if err != nil {
			fmt.Fprintln(stderr, "chaos:", err)
			return 2
		}
		defer f.Close()
		w = f
	}
	rep.write(w)
	fmt.Fprintln(stderr, rep.summary())
	if len(rep.violations) > 0 {
		return 1
	}
	return 0
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("chaos", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.nodes, "nodes", 3, "nodes, 2..10 (the witness included)")
	fs.BoolVar(&o.witness, "witness", false, "make the last node a witness (a member with no instance)")
	fs.IntVar(&o.instances, "instances", 1, "instances, 1..8, each with a VIP")
	fs.StringVar(&o.profile, "profile", "fast", "timing profile: "+strings.Join(config.ProfileNames(), ", "))
	fs.DurationVar(&o.duration, "duration", time.Minute, "how long faults are drawn for")
	fs.Uint64Var(&o.seed, "seed", 0, "seed of the schedule (0: from the clock; printed)")
	fs.DurationVar(&o.gap, "gap", 2*time.Second, "mean time between two fault starts")
	fs.IntVar(&o.maxActive, "max-active", 3, "most faults with a duration in force at once")
	fs.StringVar(&o.kinds, "kinds", "", "comma-separated fault kinds to draw from (default all)")
	fs.StringVar(&o.havip, "havip", "", "havip binary (default: build ./cmd/havip)")
	fs.StringVar(&o.out, "out", "", "write the Markdown report there (default stdout)")
	fs.BoolVar(&o.keep, "keep", false, "keep the daemons' configurations and logs (the directory is printed)")
	fs.BoolVar(&o.verbose, "v", false, "log every action to stderr")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	case o.nodes < 2 || o.nodes > 10:
		return o, fmt.Errorf("-nodes %d: want 2..10", o.nodes)
	case o.witness && o.nodes < 3:
		return o, errors.New("-witness needs 3 nodes or more")
	case o.instances < 1 || o.instances > 8:
		return o, fmt.Errorf("-instances %d: want 1..8", o.instances)
	case o.duration < 10*time.Second || o.duration > 24*time.Hour:
		return o, fmt.Errorf("-duration %v: want 10s..24h", o.duration)
	case o.gap <= 0 || o.maxActive < 1:
		return o, errors.New("-gap and -max-active must be positive")
	}
	if _, ok := config.Profile(o.profile); !ok {
		return o, fmt.Errorf("-profile %q: want one of %s", o.profile, strings.Join(config.ProfileNames(), ", "))
	}
	for _, k := range splitKinds(o.kinds) {
		if !containsKind(allKinds, k) {
			return o, fmt.Errorf("-kinds: unknown kind %q", k)
		}
	}
	if o.seed == 0 {
		o.seed = uint64(time.Now().UnixNano())
	}
	if os.Geteuid() != 0 {
		return o, errors.New("needs root: it builds network namespaces")
	}
	return o, nil
}

func splitKinds(s string) []kind {
	var out []kind
	for _, k := range strings.Split(s, ",") {
		if k = strings.TrimSpace(k); k != "" {
			out = append(out, kind(k))
		}
	}
	return out
}

func containsKind(ks []kind, k kind) bool {
	for _, x := range ks {
		if x == k {
			return true
		}
	}
	return false
}

// boundsFor are the invariants' allowances for a timing profile.
func boundsFor(tm config.Timing) bounds {
	// The kernel removes an expired address up to ~0.2 s late (measured
	// 1.02–1.17 s for a 1 s lifetime); a frozen daemon renewed last up
	// to half a lifetime before it stopped, which only makes it sooner.
	grace := tm.AddressLifetime + 500*time.Millisecond
	failover := tm.Lease + tm.LeaseMargin + tm.HeartbeatInterval
	return bounds{
		Grace:    grace,
		Release:  time.Second,
		Stable:   failover + tm.FailureDetection() + tm.RejoinInterval + time.Second,
		Gap:      250 * time.Millisecond,
		Announce: 500 * time.Millisecond,
	}
}

// chaos sets the cluster up, runs the schedule and judges it.
func chaos(ctx context.Context, o options, stderr io.Writer) (*report, error) {
	logf := func(format string, args ...any) {
		if o.verbose {
			fmt.Fprintf(stderr, time.Now().Format("15:04:05.000 ")+format+"\n", args...)
		}
	}
	tm, _ := config.Profile(o.profile)
	b := boundsFor(tm)
	p := plan{
		Nodes: o.nodes, Witness: o.witness, Instances: o.instances, Duration: o.duration,
		Gap: o.gap, Quiet: b.Stable + 2*time.Second, MaxActive: o.maxActive, Kinds: splitKinds(o.kinds),
	}
	sched := draw(p, o.seed)
	fmt.Fprintf(stderr, "chaos: seed %d, %d faults over %v\n", o.seed, len(sched), o.duration)

	work, err := os.MkdirTemp("", "havip-chaos-")
	if err != nil {
		return nil, err
	}
	if o.keep {
		defer fmt.Fprintln(stderr, "chaos: configurations and logs kept in", work)
	} else {
		defer os.RemoveAll(work)
	}
	c, err := setUp(ctx, o, work, logf)
	if err != nil {
		return nil, err
	}
	defer func() {
		c.stopAll()
		if err := c.net.Close(); err != nil {
			fmt.Fprintln(stderr, "chaos: removing the topology:", err)
		}
	}()
	r := newRunner(c, logf)
	rec, err := r.observe(ctx, sched, b)
	if err != nil {
		return nil, err
	}
	vs, stats := check(rec, b)
	rep := &report{o: o, tm: tm, b: b, sched: sched, rec: rec, violations: vs, stats: stats,
		injected: r.injected, skipped: r.skipped, resolved: r.resolved, tails: readTails(vs, c.logs)}
	return rep, nil
}

// setUp builds the topology, writes the configurations and starts the
// daemons; it returns once every instance has exactly one holder.
func setUp(ctx context.Context, o options, work string, logf func(string, ...any)) (*cluster, error) {
	bin := o.havip
	if bin == "" {
		var err error
		if bin, err = testbed.BuildHavip(ctx, work); err != nil {
			return nil, err
		}
	} else if abs, err := filepath.Abs(bin); err == nil {
		bin = abs
	}
	tb, err := testbed.New(ctx, testbed.Options{Nodes: o.nodes})
	if err != nil {
		return nil, err
	}
	c := &cluster{net: tb, bin: bin, dir: work, procs: make([]*testbed.Proc, o.nodes)}
	servers := o.nodes
	if o.witness {
		servers--
	}
	c.opts = testbed.ClusterOpts{Nodes: o.nodes, Timing: o.profile, Quorum: "majority", SocketDir: work}
	for k := range o.instances {
		prio := make([]int, o.nodes)
		for i := range servers {
			// Each instance prefers another node: active/active.
			prio[(i+k)%servers] = 150 - 10*i
		}
		v := testbed.VIP4(k)
		c.vips = append(c.vips, v)
		c.prio = append(c.prio, append([]int(nil), prio...))
		c.opts.Instances = append(c.opts.Instances, testbed.InstanceOpts{
			Name: instName(k), VIPs: []netip.Addr{v}, Priority: prio, Preempt: k%2 == 0,
		})
	}
	for i := range o.nodes {
		c.logs = append(c.logs, filepath.Join(work, fmt.Sprintf("node%d.log", i)))
		if _, err := testbed.WriteNodeConfig(c.config(i), i, c.opts); err != nil {
			tb.Close()
			return nil, err
		}
	}
	for i := range o.nodes {
		if err := c.start(i); err != nil {
			c.stopAll()
			tb.Close()
			return nil, err
		}
	}
	for _, v := range c.vips {
		err := testbed.WaitUntil(ctx, time.Minute, func() error {
			hs, err := tb.HoldersOf(v)
			if err == nil && len(hs) != 1 {
				err = fmt.Errorf("holders of %s: %v", v, hs)
			}
			return err
		})
		if err != nil {
			c.stopAll()
			tb.Close()
			return nil, fmt.Errorf("the cluster did not settle: %w", err)
		}
	}
	logf("cluster up: %d nodes, VIPs %v", o.nodes, c.vips)
	return c, nil
}

// observe samples and watches while the schedule runs, and returns the
// record.
func (r *runner) observe(ctx context.Context, sched []fault, b bounds) (record, error) {
	probe, err := r.c.net.OpenHolderProbe()
	if err != nil {
		return record{}, err
	}
	defer probe.Close()
	var watches []*testbed.ARPWatch
	defer func() {
		for _, w := range watches {
			w.Close()
		}
	}()
	for _, v := range r.c.vips {
		w, err := r.c.net.WatchGARP(v)
		if err != nil {
			return record{}, err
		}
		watches = append(watches, w)
	}
	sctx, stopSampling := context.WithCancel(ctx)
	g, gctx := errgroup.WithContext(sctx)
	g.Go(func() error { return r.sample(gctx, probe) })
	// The first sample is the start; the world then has no fault.
	time.Sleep(2 * samplePeriod)
	r.rec.Start = time.Now()
	r.note("start", nil)
	g.Go(func() error {
		defer stopSampling()
		err := r.execute(gctx, sched, b.Stable+2*time.Second)
		return errors.Join(err, r.finish())
	})
	err = g.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rec.End = time.Now()
	for k, w := range watches {
		for _, a := range w.All() {
			r.rec.GARPs[k] = append(r.rec.GARPs[k], garp{At: a.At, Node: a.Node})
		}
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		return r.rec, err
	}
	if ctx.Err() != nil {
		return r.rec, ctx.Err()
	}
	return r.rec, nil
}
