package main

import (
	"context"
	"fmt"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// resources measures every setup's idle daemons, at every cluster size,
// over one window. On a shared virtual machine the cost of a wakeup
// changes several-fold from one minute to the next, so clusters measured
// one after the other are not comparable; side by side, each bears the
// same host.
func (b *bench) resources(ctx context.Context) {
	var up []*cluster
	defer func() {
		for _, c := range up {
			c.close()
		}
	}()
	for _, z := range b.sizes {
		for _, s := range b.setups {
			if ctx.Err() != nil {
				return
			}
			c, err := b.newCluster(ctx, s, z)
			if err != nil {
				b.broken[usageKey{z, s}] = err.Error()
				continue
			}
			up = append(up, c)
			if err := c.startAll(); err != nil {
				b.broken[usageKey{z, s}] = err.Error()
			}
		}
	}
	var steady []*cluster
	for _, c := range up {
		uk := usageKey{c.z, c.s}
		if _, broken := b.broken[uk]; broken {
			continue
		}
		if err := c.steady(ctx); err != nil {
			b.broken[uk] = fmt.Sprintf("no steady holders before the idle measurement: %v", err)
			continue
		}
		steady = append(steady, c)
	}
	b.logf("%d clusters idle side by side for %v", len(steady), b.idle)
	before := make([]*idleSnapshot, len(steady))
	for i, c := range steady {
		var err error
		if before[i], err = c.snapshot(); err != nil {
			b.broken[usageKey{c.z, c.s}] = err.Error()
		}
	}
	select {
	case <-ctx.Done():
		return
	case <-time.After(b.idle):
	}
	for i, c := range steady {
		uk := usageKey{c.z, c.s}
		if before[i] == nil {
			continue
		}
		u, err := c.usageSince(before[i])
		if err != nil {
			b.broken[uk] = err.Error()
			continue
		}
		b.usages[uk] = u
		b.logf("%s, %s: idle CPU %v %%, RSS %v KiB, %v context switches/s, %v bytes/s sent", c.s, c.z,
			fmtFloats(u.cpu), u.rss, fmtFloats(u.switches), fmtFloats(u.txRate))
	}
}

// idleSnapshot is what a cluster's daemons and nodes have used so far.
type idleSnapshot struct {
	at    time.Time
	procs []procUsage // by node
	tx    []uint64    // bytes sent by each node's eth0
}

// snapshot reads every daemon's CPU time, RSS and context switches, and
// the bytes each node has sent.
func (c *cluster) snapshot() (*idleSnapshot, error) {
	s := &idleSnapshot{at: time.Now(), procs: make([]procUsage, c.nodes()), tx: make([]uint64, c.nodes())}
	for i, p := range c.procs {
		var err error
		if s.procs[i], err = treeUsage(p.PID); err != nil {
			return nil, err
		}
		if s.tx[i], err = txBytes(c.net.Nodes[i].NS); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// usageSince is every daemon's CPU (% of one core), context switches and
// bytes sent per second since before, and its RSS now.
func (c *cluster) usageSince(before *idleSnapshot) (usageResult, error) {
	after, err := c.snapshot()
	if err != nil {
		return usageResult{}, err
	}
	return usageBetween(before, after), nil
}

func usageBetween(before, after *idleSnapshot) usageResult {
	wall := after.at.Sub(before.at)
	r := usageResult{d: wall}
	for i := range after.procs {
		cpu := float64(after.procs[i].CPUTicks-before.procs[i].CPUTicks) / clockTicks
		r.cpu = append(r.cpu, 100*cpu/wall.Seconds())
		r.rss = append(r.rss, after.procs[i].RSSKiB)
		r.switches = append(r.switches, float64(after.procs[i].Switches-before.procs[i].Switches)/wall.Seconds())
		r.txRate = append(r.txRate, float64(after.tx[i]-before.tx[i])/wall.Seconds())
	}
	return r
}

// txBytes reads the bytes sent by eth0 in namespace ns, from the link's
// statistics over netlink (what /sys/class/net/eth0/statistics/tx_bytes
// shows inside the namespace).
func txBytes(ns string) (uint64, error) {
	h, err := netns.GetFromName(ns)
	if err != nil {
		return 0, fmt.Errorf("opening namespace %s: %w", ns, err)
	}
	defer h.Close()
	nh, err := netlink.NewHandleAt(h)
	if err != nil {
		return 0, fmt.Errorf("netlink in %s: %w", ns, err)
	}
	defer nh.Close()
	l, err := nh.LinkByName("eth0")
	if err != nil {
		return 0, fmt.Errorf("eth0 of %s: %w", ns, err)
	}
	st := l.Attrs().Statistics
	if st == nil {
		return 0, fmt.Errorf("eth0 of %s: no statistics", ns)
	}
	return st.TxBytes, nil
}
