// Command bench measures havip's failover against keepalived's on the
// namespace test bed: a bridge in a switch namespace, one namespace per
// node and an observer that plays the client. Every daemon, packet and
// fault stays inside namespaces the benchmark creates and removes.
//
//	sudo go run ./integration/cmd/bench -rounds 10
//
// It needs root, iproute2, nftables and ping; keepalived is installed from
// the distribution's package when missing (apt-get). See docs/benchmark.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/havip/havip/config"
	"github.com/havip/havip/internal/testbed"
)

type bench struct {
	rounds     int
	sizes      []size
	setups     []setup
	scenarios  map[string]bool
	losses     []int
	soak       time.Duration
	idle       time.Duration
	havip      string
	keepalived string
	work       string
	verbose    bool

	failover map[fkey][]time.Duration
	failed   map[fkey][]string
	metrics  map[string][]string // scenario → metric names in order
	falses   map[falseKey]falseResult
	usages   map[usageKey]usageResult
	broken   map[usageKey]string
}

type fkey struct {
	scenario string
	size     size
	setup    setup
	metric   string
}

type falseKey struct {
	size  size
	setup setup
	loss  int
}

type falseResult struct {
	changes int
	d       time.Duration
	err     string
}

type usageKey struct {
	size  size
	setup setup
}

type usageResult struct {
	cpu      []float64
	rss      []uint64
	switches []float64 // context switches per second
	txRate   []float64 // bytes sent per second, by node
	d        time.Duration
}

var scenarioOrder = []string{"hard", "crash", "graceful", "switchover", "maintenance", "rejoin", "false", "resources"}

// havipOnly are the scenarios keepalived has no command or no quorum for.
var havipOnly = []string{"switchover", "maintenance", "rejoin"}

func main() {
	os.Exit(run())
}

func run() int {
	var (
		rounds    = flag.Int("rounds", 10, "rounds per failover scenario, setup and cluster size")
		nodes     = flag.String("nodes", "2,3", fmt.Sprintf("cluster sizes: N nodes (2..%d) with -instances instances, or NxI (N nodes, I instances)", maxNodes))
		instances = flag.Int("instances", 1, fmt.Sprintf("instances (one VIP each, spread active/active) of every size given as N in -nodes, 1..%d", maxInstances))
		profiles  = flag.String("profiles", strings.Join(config.ProfileNames(), ","), "havip timing profiles (empty: no havip)")
		adverts   = flag.String("adverts", "1,0.1,0.03,0.01", "keepalived VRRPv3 advert_int values in seconds (empty: no keepalived)")
		scenarios = flag.String("scenarios", strings.Join(scenarioOrder, ","), "scenarios to run: "+strings.Join(scenarioOrder, ","))
		losses    = flag.String("loss", "5,20", "random loss percentages for the false-failover scenario")
		soak      = flag.Duration("soak", 30*time.Second, "duration of each false-failover run (10m for the real soak)")
		idle      = flag.Duration("idle", 60*time.Second, "idle time over which CPU and RSS are measured")
		havipBin  = flag.String("havip", "", "havip binary (default: build ./cmd/havip)")
		out       = flag.String("out", "", "also write the report to this file")
		timeout   = flag.Duration("timeout", 3*time.Hour, "stop everything after this long")
		verbose   = flag.Bool("v", false, "log every round")
		keep      = flag.Bool("keep", false, "keep the configurations and daemon logs (the directory is printed)")
	)
	flag.Parse()
	b := &bench{
		rounds: *rounds, soak: *soak, idle: *idle, verbose: *verbose,
		scenarios: map[string]bool{},
		failover:  map[fkey][]time.Duration{}, failed: map[fkey][]string{}, metrics: map[string][]string{},
		falses: map[falseKey]falseResult{}, usages: map[usageKey]usageResult{}, broken: map[usageKey]string{},
	}
	var err error
	if b.sizes, err = parseSizes(*nodes, *instances); err != nil {
		return usage(err)
	}
	if b.losses, err = intList(*losses); err != nil {
		return usage(err)
	}
	for _, s := range splitList(*scenarios) {
		if !slices.Contains(scenarioOrder, s) {
			return usage(fmt.Errorf("-scenarios: unknown %q", s))
		}
		b.scenarios[s] = true
	}
	for _, p := range splitList(*profiles) {
		if _, ok := config.Profile(p); !ok {
			return usage(fmt.Errorf("-profiles: unknown profile %q", p))
		}
		b.setups = append(b.setups, setup{"havip", p})
	}
	for _, a := range splitList(*adverts) {
		if v, err := strconv.ParseFloat(a, 64); err != nil || v < 0.01 || v > 255 {
			return usage(fmt.Errorf("-adverts: %q: want seconds between 0.01 and 255", a))
		}
		b.setups = append(b.setups, setup{"keepalived", a})
	}
	if *out != "" {
		if st, err := os.Stat(filepath.Dir(*out)); err != nil || !st.IsDir() {
			return usage(fmt.Errorf("-out %s: no such directory", *out))
		}
	}
	if b.rounds < 1 || b.rounds > 1000 {
		return usage(fmt.Errorf("-rounds %d: want 1..1000", b.rounds))
	}
	if b.soak <= 0 || b.soak > time.Hour || b.idle < 0 || b.idle > time.Hour {
		return usage(errors.New("-soak and -idle: at most 1h each"))
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "bench: needs root: it builds network namespaces, veth pairs and a bridge")
		return 1
	}
	if err := testbed.NftAvailable(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, *timeout)
	defer cancelT()

	if err := testbed.SweepStale(); err != nil {
		b.logf("removing stale namespaces: %v", err)
	}
	b.work, err = os.MkdirTemp("", "havip-bench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	if *keep {
		defer b.logf("configurations and logs kept in %s", b.work)
	} else {
		defer os.RemoveAll(b.work)
	}
	b.havip = *havipBin
	if b.havip == "" {
		bctx, bcancel := context.WithTimeout(ctx, 5*time.Minute)
		b.havip, err = testbed.BuildHavip(bctx, b.work)
		bcancel()
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
	}
	if hasKind(b.setups, "keepalived") {
		if b.keepalived, err = findKeepalived(ctx, b.logf); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
	}

	started, load0 := time.Now(), loadAvg()
	perSetup := slices.ContainsFunc(scenarioOrder, func(sc string) bool { return sc != "resources" && b.scenarios[sc] })
	for _, z := range b.sizes {
		for _, s := range b.setups {
			if ctx.Err() != nil || !perSetup {
				break
			}
			b.runSetup(ctx, s, z)
		}
	}
	if b.scenarios["resources"] && b.idle > 0 && ctx.Err() == nil {
		b.resources(ctx)
	}
	if err := testbed.SweepRun(); err != nil {
		b.logf("removing namespaces: %v", err)
	}

	load := fmt.Sprintf("load average %s at the start, %s at the end", load0, loadAvg())
	if err := b.writeReport(*out, shellJoin(os.Args[1:]), time.Since(started), load); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	if ctx.Err() != nil {
		fmt.Fprintln(os.Stderr, "bench: stopped early:", context.Cause(ctx))
		return 1
	}
	return 0
}

// writeReport prints the report and, with out set, writes it there with
// its pictures beside it.
func (b *bench) writeReport(out, args string, took time.Duration, load string) error {
	if out == "" {
		b.report(os.Stdout, args, took, load, nil)
		return nil
	}
	plots, err := b.writePlots(out)
	if err != nil {
		b.logf("pictures: %v", err)
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	b.report(io.MultiWriter(os.Stdout, f), args, took, load, plots)
	return f.Close()
}

func usage(err error) int {
	fmt.Fprintln(os.Stderr, "bench:", err)
	flag.Usage()
	return 2
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

// runSetup builds one cluster of setup s and runs every chosen scenario
// on it (resources excepted: see resources).
func (b *bench) runSetup(ctx context.Context, s setup, z size) {
	uk := usageKey{z, s}
	b.logf("%s, %s: starting", s, z)
	c, err := b.newCluster(ctx, s, z)
	if err != nil {
		b.broken[uk] = err.Error()
		b.logf("%s, %s: %v", s, z, err)
		return
	}
	defer c.close()
	if err := c.startAll(); err != nil {
		b.broken[uk] = err.Error()
		return
	}
	if err := c.steady(ctx); err != nil {
		b.broken[uk] = fmt.Sprintf("no steady holders at start: %v\n%s", err, c.tail(0, 10))
		b.logf("%s, %s: %s", s, z, b.broken[uk])
		return
	}
	rounds := map[string]func(context.Context, *observer) (result, error){
		"hard": c.hardRound, "crash": c.crashRound, "graceful": c.gracefulRound,
		"switchover": c.switchoverRound, "maintenance": c.maintenanceRound,
		"rejoin": c.rejoinRound,
	}
	for _, sc := range scenarioOrder {
		if !b.scenarios[sc] || ctx.Err() != nil {
			continue
		}
		if s.kind != "havip" && slices.Contains(havipOnly, sc) {
			continue
		}
		if sc == "rejoin" && z.nodes < 3 {
			continue // two nodes keep no quorum
		}
		switch sc {
		case "false":
			for _, loss := range b.losses {
				if err := c.steady(ctx); err != nil {
					b.falses[falseKey{z, s, loss}] = falseResult{err: err.Error()}
					continue
				}
				ch, err := c.falseFailovers(ctx, loss, b.soak)
				fr := falseResult{changes: ch, d: b.soak}
				if err != nil {
					fr.err = err.Error()
				}
				b.falses[falseKey{z, s, loss}] = fr
				b.logf("%s, %s, %d%% loss, busy CPUs: %d holder changes in %v", s, z, loss, ch, b.soak)
			}
		case "resources":
			continue // measured for every setup at once: see resources
		default:
			for r := range b.rounds {
				if ctx.Err() != nil {
					break
				}
				res, err := b.round(ctx, c, rounds[sc])
				if err != nil {
					k := fkey{sc, z, s, ""}
					b.failed[k] = append(b.failed[k], err.Error())
					b.logf("%s, %s, %s round %d: %v", s, z, sc, r+1, err)
					continue
				}
				for _, m := range sortedKeys(res) {
					k := fkey{sc, z, s, m}
					b.failover[k] = append(b.failover[k], res[m])
					if !slices.Contains(b.metrics[sc], m) {
						b.metrics[sc] = append(b.metrics[sc], m)
					}
				}
				if b.verbose {
					b.logf("%s, %s, %s round %d: %v", s, z, sc, r+1, res)
				}
			}
			b.logf("%s, %s, %s: done", s, z, sc)
		}
	}
}

// round brings the cluster to its steady state, starts the observer and
// runs one round.
func (b *bench) round(ctx context.Context, c *cluster, f func(context.Context, *observer) (result, error)) (result, error) {
	if err := c.steady(ctx); err != nil {
		return nil, fmt.Errorf("before the round: %w", err)
	}
	o, err := c.observe(2 * time.Minute)
	if err != nil {
		return nil, err
	}
	defer o.close()
	// Let the pinger establish its baseline, then check that the round
	// starts from the steady state: a false failover in between would
	// spoil it.
	time.Sleep(150 * time.Millisecond)
	probe, err := c.net.OpenHolderProbe()
	if err != nil {
		return nil, err
	}
	err = c.preferredHold(probe)
	probe.Close()
	if err != nil {
		return nil, fmt.Errorf("at the start of the round: %w", err)
	}
	if st := o.ping.Stats(time.Now().Add(-150*time.Millisecond), time.Now().Add(-pingLate), pingLate); st.Sent == 0 || st.Lost > 0 {
		return nil, fmt.Errorf("pings not all answered at the start of the round: %d of %d lost", st.Lost, st.Sent)
	}
	return f(ctx, o)
}

func sortedKeys(r result) []string {
	var ks []string
	for k := range r {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func hasKind(ss []setup, kind string) bool {
	for _, s := range ss {
		if s.kind == kind {
			return true
		}
	}
	return false
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func intList(s string) ([]int, error) {
	var out []int
	for _, f := range splitList(s) {
		v, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", f)
		}
		out = append(out, v)
	}
	return out, nil
}

func fmtFloats(fs []float64) string {
	parts := make([]string, len(fs))
	for i, f := range fs {
		parts[i] = strconv.FormatFloat(f, 'f', 2, 64)
	}
	return "[" + strings.Join(parts, " ") + "]"
}
