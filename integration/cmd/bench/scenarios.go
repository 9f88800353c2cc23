package main

import (
	"context"
	"fmt"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/havip/havip/internal/testbed"
)

const (
	// pingEvery is the client's echo interval; an echo whose reply takes
	// longer than pingLate counts as lost.
	pingEvery = 10 * time.Millisecond
	pingLate  = 50 * time.Millisecond
	// eventWait bounds the wait for a failover (keepalived at advert 1
	// and havip's conservative profile take a few seconds).
	eventWait = 20 * time.Second
	// steadyWait bounds the return to node 0 holding between rounds.
	steadyWait = 60 * time.Second
	// restartDelay is how long a supervisor waits before restarting a
	// crashed daemon: systemd's default RestartSec.
	restartDelay = 100 * time.Millisecond
)

// observer bundles the outside views of one cluster: gratuitous ARPs and
// the client's pings.
type observer struct {
	garp *testbed.ARPWatch
	ping *testbed.Pinger
}

func (c *cluster) observe(maxDur time.Duration) (*observer, error) {
	w, err := c.net.WatchGARP(vip)
	if err != nil {
		return nil, err
	}
	p, err := c.net.StartPinger(vip, pingEvery, maxDur)
	if err != nil {
		w.Close()
		return nil, err
	}
	return &observer{garp: w, ping: p}, nil
}

func (o *observer) close() {
	o.ping.Stop()
	o.garp.Close()
}

// steady waits until every instance's VIP is held by its preferred node
// alone (node 0 holds instance 0's), every daemon runs, and the observer
// reaches instance 0's VIP at node 0: the state every round starts from.
// The observer's neighbour entry is flushed first, as a client that has
// not talked to the VIP for a while would have none.
func (c *cluster) steady(ctx context.Context) error {
	for i, p := range c.procs {
		if p == nil || p.Exited() {
			return fmt.Errorf("node %d: daemon not running", i)
		}
	}
	probe, err := c.net.OpenHolderProbe()
	if err != nil {
		return err
	}
	defer probe.Close()
	check := func() error { return c.preferredHold(probe) }
	if err := testbed.WaitUntil(ctx, steadyWait, check); err != nil {
		return err
	}
	// Give the last announcements and the backups' state time to settle.
	if err := testbed.Consistently(ctx, 500*time.Millisecond, check); err != nil {
		return err
	}
	flushCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := c.net.Exec(flushCtx, c.net.Observer.NS, "ip", "neigh", "flush", "dev", "eth0"); err != nil {
		return err
	}
	return testbed.WaitUntil(ctx, 10*time.Second, func() error { return c.net.ObserverReaches(vip, 0) })
}

// preferredHold checks that every instance's VIP is on its preferred
// node alone.
func (c *cluster) preferredHold(probe *testbed.HolderProbe) error {
	held, err := probe.HoldersAll(c.z.vips())
	if err != nil {
		return err
	}
	return preferredHolders(c.z, held)
}

// preferredHolders checks held (holders by VIP) against the steady state
// of a cluster of size z.
func preferredHolders(z size, held map[netip.Addr][]int) error {
	for k, v := range z.vips() {
		if want := []int{z.preferred(k)}; !slices.Equal(held[v], want) {
			return fmt.Errorf("instance %s (%s): holders %v, want %v", instanceName(k), v, held[v], want)
		}
	}
	return nil
}

// waitRecovered waits until the pinger has answers again after t0 and
// none lost for 300 ms, and returns the ping statistics since t0.
func waitRecovered(o *observer, t0 time.Time) (testbed.PingStats, error) {
	deadline := time.Now().Add(eventWait)
	for {
		time.Sleep(100 * time.Millisecond)
		now := time.Now().Add(-pingLate)
		st := o.ping.Stats(t0, now, pingLate)
		recent := o.ping.Stats(now.Add(-300*time.Millisecond), now, pingLate)
		if recent.Sent > 0 && recent.Lost == 0 {
			return st, nil
		}
		if time.Now().After(deadline) {
			return st, fmt.Errorf("pings not answered again within %v", eventWait)
		}
	}
}

// The metrics of the rounds that the report's pictures show.
const (
	metricCutGARP    = "failover (cut → GARP)"
	metricUntilOne   = "until one holder"
	metricHandover   = "handover (SIGTERM → GARP)"
	metricSwitchover = "switchover (command → GARP)"
	metricDrain      = "drain (command → GARP)"
	metricRejoin     = "restart → GARP"
)

// result of one round; zero durations are not measured.
type result map[string]time.Duration

// hardRound cuts node 0's link at the bridge (nftables, both directions,
// observer included) and measures the time until another node holds the
// VIP (netlink sampler), to the first gratuitous ARP from another node,
// and the client's outage; then heals.
func (c *cluster) hardRound(ctx context.Context, o *observer) (result, error) {
	s, err := c.net.SampleHolders(vip, 2*time.Millisecond)
	if err != nil {
		return nil, err
	}
	defer s.Stop()
	if err := c.net.Isolate(0); err != nil {
		return nil, err
	}
	// The nft transaction is committed just before the command returns.
	t0 := time.Now()
	defer c.net.Heal()
	g, err := o.garp.First(t0, 0, eventWait)
	if err != nil {
		return nil, err
	}
	st, err := waitRecovered(o, t0)
	if err != nil {
		return nil, err
	}
	r := s.Stop()
	if err := c.net.Heal(); err != nil {
		return nil, err
	}
	res := result{metricCutGARP: g.At.Sub(t0), "client outage": st.Outage(pingEvery)}
	for _, ch := range r.Changes {
		if !ch.At.Before(t0) && slices.ContainsFunc(ch.Holders, func(i int) bool { return i != 0 }) {
			res["cut → new master holds"] = ch.At.Sub(t0)
			break
		}
	}
	return res, nil
}

// crashRound kills node 0's daemon with SIGKILL (its VIP stays on eth0)
// and restarts it restartDelay later, as systemd would. It measures how
// long two nodes held the VIP (clients split), how long until exactly one
// holder was left for good, the first GARP from another node (if the VIP
// moved) and the client's outage.
func (c *cluster) crashRound(ctx context.Context, o *observer) (result, error) {
	s, err := c.net.SampleHolders(vip, 5*time.Millisecond)
	if err != nil {
		return nil, err
	}
	defer s.Stop()
	t0 := time.Now()
	if err := c.kill9(0); err != nil {
		return nil, err
	}
	time.Sleep(restartDelay)
	if err := c.start(0); err != nil {
		return nil, err
	}
	// Wait for one holder, stable for 2 s.
	settled := func() bool {
		r := s.Report()
		return len(r.Last.Holders) == 1 && len(r.Changes) > 0 && time.Since(r.Changes[len(r.Changes)-1].At) > 2*time.Second
	}
	deadline := time.Now().Add(steadyWait)
	for !settled() {
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("no single stable holder %v after the crash", steadyWait)
		}
		time.Sleep(100 * time.Millisecond)
	}
	r := s.Stop()
	if r.Err != nil {
		return nil, r.Err
	}
	var split time.Duration
	for _, ov := range r.Overlaps {
		split += ov.Max()
	}
	last := r.Changes[len(r.Changes)-1]
	one := last.At.Sub(t0)
	if len(r.Changes) == 1 {
		one = 0
	}
	res := result{"clients split (two holders)": split, metricUntilOne: one}
	st, err := waitRecovered(o, t0)
	if err != nil {
		return nil, err
	}
	res["client outage"] = st.Outage(pingEvery)
	return res, nil
}

// gracefulRound stops node 0's daemon with SIGTERM and measures the time
// to the first GARP from another node and the client's outage; then
// starts node 0 again.
func (c *cluster) gracefulRound(ctx context.Context, o *observer) (result, error) {
	t0 := time.Now()
	if err := c.terminate(0); err != nil {
		return nil, err
	}
	g, gerr := o.garp.First(t0, 0, eventWait)
	if err := c.waitExit(0, 15*time.Second); err != nil {
		c.kill9(0)
		return nil, err
	}
	if gerr != nil {
		c.start(0)
		return nil, gerr
	}
	st, err := waitRecovered(o, t0)
	if err != nil {
		c.start(0)
		return nil, err
	}
	if err := c.start(0); err != nil {
		return nil, err
	}
	return result{metricHandover: g.At.Sub(t0), "client outage": st.Outage(pingEvery)}, nil
}

// havipCmd runs a havip client command on node i against its daemon.
func (c *cluster) havipCmd(ctx context.Context, i int, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	argv := append([]string{c.b.havip}, args...)
	argv = append(argv, "--config", c.confPath(i))
	if out, err := c.net.Exec(ctx, c.net.Nodes[i].NS, argv...); err != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

// commandRound runs an operator's command on node 0 that moves the VIP
// (switchover, maintenance) and measures from the command's start to the
// first GARP from another node, the client's outage and how long the
// command ran (starting a process inside a namespace takes a while on a
// loaded machine; the daemons' part is the difference when the command
// returns after the GARP); then undo moves the VIP back.
func (c *cluster) commandRound(ctx context.Context, o *observer, metric string, do, undo []string) (result, error) {
	t0 := time.Now()
	if err := c.havipCmd(ctx, 0, do...); err != nil {
		return nil, err
	}
	ran := time.Since(t0)
	g, gerr := o.garp.First(t0, 0, eventWait)
	st, err := waitRecovered(o, t0)
	if uerr := c.havipCmd(ctx, 0, undo...); uerr != nil {
		return nil, uerr
	}
	if gerr != nil {
		return nil, gerr
	}
	if err != nil {
		return nil, err
	}
	return result{metric: g.At.Sub(t0), "client outage": st.Outage(pingEvery), "command run time (ip netns exec + client)": ran}, nil
}

// switchoverRound moves instance 0 from node 0 to node 1 with
// `havip switchover --instance vip0 --to node1`, then back.
func (c *cluster) switchoverRound(ctx context.Context, o *observer) (result, error) {
	return c.commandRound(ctx, o, metricSwitchover,
		[]string{"switchover", "--instance", instanceName(0), "--to", "node1"},
		[]string{"switchover", "--instance", instanceName(0), "--to", "node0"})
}

// maintenanceRound drains node 0 with `havip maintenance on`, then
// undrains it (it preempts back).
func (c *cluster) maintenanceRound(ctx context.Context, o *observer) (result, error) {
	return c.commandRound(ctx, o, metricDrain,
		[]string{"maintenance", "on"}, []string{"maintenance", "off"})
}

// rejoinRound measures a restart that restores the majority while the
// other nodes are unreachable: the nodes beyond a bare majority are cut
// off at the bridge (their packets dropped, so joining them waits out
// tcp_timeout), node 1 is stopped, node 0 loses quorum and releases
// instance 0's VIP; then node 1 starts again. It measures from that start
// to the first gratuitous ARP for the VIP (from any node), then heals.
func (c *cluster) rejoinRound(ctx context.Context, o *observer) (result, error) {
	var cut []int
	for i := c.nodes()/2 + 1; i < c.nodes(); i++ {
		cut = append(cut, i)
	}
	if err := c.net.Isolate(cut...); err != nil {
		return nil, err
	}
	defer c.net.Heal()
	if err := c.terminate(1); err != nil {
		return nil, err
	}
	if err := c.waitExit(1, 15*time.Second); err != nil {
		c.kill9(1)
		c.start(1)
		return nil, err
	}
	if err := c.net.WaitHolders(ctx, vip, eventWait); err != nil {
		c.start(1)
		return nil, fmt.Errorf("node 0 kept the VIP without quorum: %w", err)
	}
	t0 := time.Now()
	if err := c.start(1); err != nil {
		return nil, err
	}
	g, err := o.garp.First(t0, -1, eventWait)
	if err != nil {
		return nil, err
	}
	return result{metricRejoin: g.At.Sub(t0)}, c.net.Heal()
}

// falseFailovers runs the steady cluster for d with loss percent of the
// frames dropped on every port and every CPU saturated by busy loops, and
// counts the changes of every instance's holders.
func (c *cluster) falseFailovers(ctx context.Context, loss int, d time.Duration) (changes int, err error) {
	probe, err := c.net.OpenHolderProbe()
	if err != nil {
		return 0, err
	}
	defer probe.Close()
	if err := c.net.Loss(loss); err != nil {
		return 0, err
	}
	defer c.net.Heal()
	load, err := testbed.StartLoad(runtime.NumCPU(), d+5*time.Second)
	if err != nil {
		return 0, err
	}
	defer load.Stop()
	changes, err = c.holderChanges(ctx, probe, 20*time.Millisecond, d)
	load.Stop()
	if err != nil {
		return changes, err
	}
	return changes, c.net.Heal()
}

// holderChanges reads the holders of every instance's VIP each period
// for d and counts the changes of their holder sets: one netlink address
// dump per node and sample, whatever the number of instances.
func (c *cluster) holderChanges(ctx context.Context, probe *testbed.HolderProbe, period, d time.Duration) (int, error) {
	t := time.NewTicker(period)
	defer t.Stop()
	end := time.After(d)
	var last map[netip.Addr][]int
	changes := 0
	for {
		held, err := probe.HoldersAll(c.z.vips())
		if err != nil {
			return changes, err
		}
		changes += countChanges(last, held)
		last = held
		select {
		case <-ctx.Done():
			return changes, ctx.Err()
		case <-end:
			return changes, nil
		case <-t.C:
		}
	}
}

// countChanges is the number of VIPs whose holders differ between two
// samples; none for the first sample (prev nil).
func countChanges(prev, now map[netip.Addr][]int) int {
	if prev == nil {
		return 0
	}
	n := 0
	for v, h := range now {
		if !slices.Equal(prev[v], h) {
			n++
		}
	}
	return n
}
