package testbed

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/netip"
	"slices"
	"time"
)

// Eth0 reads eth0 of namespace ns: flags, hardware address and addresses.
func (n *Net) Eth0(ns string) (Link, error) {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	out, err := run(ctx, "ip", "-j", "-n", ns, "addr", "show", "dev", "eth0")
	if err != nil {
		return Link{}, err
	}
	links, err := parseLinks(out)
	if err != nil {
		return Link{}, fmt.Errorf("eth0 of %s: %w", ns, err)
	}
	if len(links) != 1 {
		return Link{}, fmt.Errorf("eth0 of %s: ip reported %d links", ns, len(links))
	}
	return links[0], nil
}

// NodeEth0 reads eth0 of node i.
func (n *Net) NodeEth0(i int) (Link, error) {
	if i < 0 || i >= len(n.Nodes) {
		return Link{}, fmt.Errorf("testbed: no node %d", i)
	}
	return n.Eth0(n.Nodes[i].NS)
}

// Has reports whether node i's eth0 has address a (any prefix length).
func (n *Net) Has(i int, a netip.Addr) (bool, error) {
	l, err := n.NodeEth0(i)
	if err != nil {
		return false, err
	}
	_, ok := l.Has(a)
	return ok, nil
}

// Carrier reports whether node i's eth0 is up with a carrier.
func (n *Net) Carrier(i int) (bool, error) {
	l, err := n.NodeEth0(i)
	if err != nil {
		return false, err
	}
	return l.Carrier(), nil
}

// HoldersOf lists, in order, the nodes whose eth0 has vip.
func (n *Net) HoldersOf(vip netip.Addr) ([]int, error) {
	holders := []int{}
	for i := range n.Nodes {
		ok, err := n.Has(i, vip)
		if err != nil {
			return nil, err
		}
		if ok {
			holders = append(holders, i)
		}
	}
	return holders, nil
}

// WaitHolders polls HoldersOf until it is exactly want (in node order).
func (n *Net) WaitHolders(ctx context.Context, vip netip.Addr, timeout time.Duration, want ...int) error {
	want = slices.Clone(want)
	slices.Sort(want)
	return WaitUntil(ctx, timeout, func() error {
		got, err := n.HoldersOf(vip)
		if err != nil {
			return err
		}
		if !slices.Equal(got, want) {
			return fmt.Errorf("holders of %s are %v, want %v", vip, got, want)
		}
		return nil
	})
}

// ObserverNeigh reads the observer's neighbour entry for addr; ok is false
// when there is none.
func (n *Net) ObserverNeigh(addr netip.Addr) (entry Neigh, ok bool, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	out, err := run(ctx, "ip", "-j", "-n", n.Observer.NS, "neigh", "show", "to", addr.String(), "dev", "eth0")
	if err != nil {
		return Neigh{}, false, err
	}
	entries, err := parseNeighs(out)
	if err != nil {
		return Neigh{}, false, err
	}
	for _, e := range entries {
		if e.Dst == addr {
			return e, true, nil
		}
	}
	return Neigh{}, false, nil
}

// ObserverNeighMAC returns the hardware address the observer's neighbour
// table has for addr; nil (and no error) when there is no entry or it is
// incomplete or failed.
func (n *Net) ObserverNeighMAC(addr netip.Addr) (net.HardwareAddr, error) {
	e, ok, err := n.ObserverNeigh(addr)
	if err != nil || !ok {
		return nil, err
	}
	if slices.Contains(e.State, "FAILED") || slices.Contains(e.State, "INCOMPLETE") {
		return nil, nil
	}
	return e.LLAddr, nil
}

// ObserverPing pings addr from the observer (ICMP echo, every 200 ms) until
// one reply comes back or timeout (rounded up to whole seconds) passes.
func (n *Net) ObserverPing(addr netip.Addr, timeout time.Duration) error {
	secs := int(math.Ceil(timeout.Seconds()))
	if secs < 1 {
		secs = 1
	}
	family := "-4"
	if addr.Is6() {
		family = "-6"
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(secs)*time.Second+5*time.Second)
	defer cancel()
	_, err := n.Exec(ctx, n.Observer.NS, "ping", family, "-n", "-q", "-c", "1", "-i", "0.2", "-w", fmt.Sprint(secs), addr.String())
	if err != nil {
		return fmt.Errorf("observer: no reply from %s within %ds: %w", addr, secs, err)
	}
	return nil
}

// ObserverReaches pings addr from the observer and then checks that its
// neighbour entry for addr is node want's MAC: the check a client on the
// segment would make after a failover.
func (n *Net) ObserverReaches(addr netip.Addr, want int) error {
	if err := n.ObserverPing(addr, time.Second); err != nil {
		return err
	}
	mac, err := n.ObserverNeighMAC(addr)
	if err != nil {
		return err
	}
	if got := n.NodeOfMAC(mac); got != want {
		return fmt.Errorf("observer: %s is at %v (node %d), want node %d (%s)", addr, mac, got, want, n.Nodes[want].MAC)
	}
	return nil
}
