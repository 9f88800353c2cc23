package testbed

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/havip/havip/internal/nsrun"
)

// hears reports whether UDP datagrams sent from host from reach host to:
// a one-way test, unlike a ping, which needs both directions. A listener
// is opened in to's namespace and from sends a few datagrams from its
// own, so nothing leaves the topology.
func hears(t *testing.T, n *Net, from, to Host) bool {
	t.Helper()
	const port = 7999
	var l *net.UDPConn
	err := nsrun.InNamed(to.NS, func() error {
		var err error
		l, err = net.ListenUDP("udp4", &net.UDPAddr{IP: to.Addr.AsSlice(), Port: port})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := DialIn(ctx, from.NS, "udp4", netip.AddrPortFrom(to.Addr, port).String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got := make(chan bool, 1)
	go func() {
		buf := make([]byte, 64)
		_ = l.SetReadDeadline(time.Now().Add(time.Second))
		_, err := l.Read(buf)
		got <- err == nil
	}()
	// Several, spaced: the first ones may wait for address resolution.
	for range 5 {
		// A send error (the neighbour did not resolve) is a datagram
		// that did not arrive.
		_, _ = c.Write([]byte("one-way"))
		time.Sleep(50 * time.Millisecond)
	}
	return <-got
}

// flushNeigh empties every host's neighbour table, so that the next
// datagram needs address resolution across the cuts in force.
func flushNeigh(t *testing.T, n *Net) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, h := range append(append([]Host{}, n.Nodes...), n.Observer) {
		if _, err := n.Exec(ctx, h.NS, "ip", "neigh", "flush", "dev", "eth0"); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCutOneWay(t *testing.T) {
	requireNamespaces(t)
	requireNft(t)
	n := newNet(t, Options{Nodes: 3})
	node := func(i int) Host { return n.Nodes[i] }
	obs := n.Observer
	type path struct {
		from, to Host
		want     bool
	}
	check := func(step string, paths []path) {
		t.Helper()
		flushNeigh(t, n)
		for _, p := range paths {
			if got := hears(t, n, p.from, p.to); got != p.want {
				rules, _ := n.FaultRules()
				t.Errorf("%s: %s → %s heard %t, want %t\n%s", step, p.from.Name, p.to.Name, got, p.want, rules)
			}
		}
	}

	// Traffic only: the nodes in to still resolve node 0 and reach it.
	if err := n.CutOneWayTraffic([]int{0}, []int{1, 2}); err != nil {
		t.Fatal(err)
	}
	check("traffic 0 → {1,2}", []path{
		{node(0), node(1), false},
		{node(0), node(2), false},
		{node(1), node(0), true},
		{node(2), node(0), true},
		{node(1), node(2), true},
		{obs, node(0), true},
		{node(0), obs, true},
	})

	// Every frame: node 1 cannot resolve node 0 any more, so with an
	// empty neighbour table it does not reach it either. Cuts add up.
	if err := n.CutOneWay([]int{0}, []int{1}); err != nil {
		t.Fatal(err)
	}
	if err := n.CutOneWayTraffic([]int{ObserverIndex}, []int{2}); err != nil {
		t.Fatal(err)
	}
	check("every frame 0 → 1, traffic 0 → 2, traffic observer → 2", []path{
		{node(0), node(1), false},
		{node(1), node(0), false},
		{node(0), node(2), false},
		{node(2), node(0), true},
		{obs, node(2), false},
		{node(2), obs, true},
		{obs, node(1), true},
	})

	// Another fault on top, then Heal removes them all.
	if err := n.Partition([]int{0, 1}, []int{2}); err != nil {
		t.Fatal(err)
	}
	check("and partition {0,1} {2}", []path{
		{node(1), node(2), false},
		{node(2), node(0), false},
	})
	if err := n.Heal(); err != nil {
		t.Fatal(err)
	}
	check("healed", []path{
		{node(0), node(1), true},
		{node(1), node(0), true},
		{node(0), node(2), true},
		{obs, node(2), true},
	})
	rules, err := n.FaultRules()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(rules, "drop") {
		t.Errorf("rules left after Heal:\n%s", rules)
	}
	if err := n.CutOneWay([]int{0}, []int{3}); err == nil {
		t.Error("CutOneWay to node 3 of 3 succeeded")
	}
	if err := errors.Join(n.CutOneWay(nil, []int{1}), n.CutOneWayTraffic([]int{1}, nil)); err != nil {
		t.Errorf("empty cuts: %v", err)
	}
}
