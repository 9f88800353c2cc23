package testbed

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"os/exec"
	"slices"
	"strings"
)

// The faults live in one nftables table of the bridge family in the switch
// namespace: its forward chain sees every frame the bridge forwards from
// one port to another (a flooded frame once per egress port), so drops
// there act on the wire between hosts and never inside a host. Nothing is
// ever added to the caller's own namespace.
const (
	nftTable = "havip_faults"
	nftChain = "forward"
)

// faults is the fault state Partition, Isolate, CutOneWay and Loss build
// up; every change rewrites the whole table in one nft transaction.
type faults struct {
	// group maps a node index to its partition group; nil: no partition.
	group map[int]int
	// isolated nodes exchange no frame with anyone, observer included.
	isolated map[int]bool
	// oneway maps a (from, to) pair of host indexes (-1: the observer) to
	// what is dropped on the way from the first to the second.
	oneway map[[2]int]oneWayCut
	// loss is the percentage of frames dropped at random on every port.
	loss int
	// portLoss maps a host index (ObserverIndex: the observer) to the
	// percentage of frames entering the bridge from it dropped at random.
	portLoss map[int]int
}

// oneWayCut is what a one-way cut drops; a pair cut both ways keeps the
// larger.
type oneWayCut int

const (
	// cutTraffic drops every frame but address resolution.
	cutTraffic oneWayCut = iota + 1
	// cutAll drops every frame.
	cutAll
)

// ObserverIndex stands for the observer where the one-way cuts take host
// indexes; it is the observer's Host.Index.
const ObserverIndex = -1

// NftAvailable reports whether the nft command is there, and why not.
func NftAvailable() error {
	if _, err := exec.LookPath("nft"); err != nil {
		return fmt.Errorf("testbed: the nft command (nftables) is needed for faults: %w", err)
	}
	return nil
}

// Partition splits the nodes into groups: frames between nodes of
// different groups are dropped at the bridge, in both directions. A node
// in no group is a group of its own. The observer keeps seeing every node,
// so it sees both sides of the partition. It replaces any earlier
// partition; isolation, one-way cuts and loss stay.
func (n *Net) Partition(groups ...[]int) error {
	g := map[int]int{}
	for k, grp := range groups {
		for _, i := range grp {
			if i < 0 || i >= len(n.Nodes) {
				return fmt.Errorf("testbed: partition: no node %d", i)
			}
			if _, dup := g[i]; dup {
				return fmt.Errorf("testbed: partition: node %d is in two groups", i)
			}
			g[i] = k
		}
	}
	next := len(groups)
	for i := range n.Nodes {
		if _, ok := g[i]; !ok {
			g[i] = next
			next++
		}
	}
	return n.changeFaults(func(f *faults) { f.group = g })
}

// Isolate drops every frame to or from the given nodes at the bridge,
// the observer's included: the node's link is cut the way a pulled cable
// cuts it, but its carrier stays up. Isolation adds to earlier ones.
func (n *Net) Isolate(nodes ...int) error {
	for _, i := range nodes {
		if i < 0 || i >= len(n.Nodes) {
			return fmt.Errorf("testbed: isolate: no node %d", i)
		}
	}
	return n.changeFaults(func(f *faults) {
		if f.isolated == nil {
			f.isolated = map[int]bool{}
		}
		for _, i := range nodes {
			f.isolated[i] = true
		}
	})
}

// CutOneWay drops at the bridge every frame that enters from the port of
// a node in from and leaves on the port of a node in to: the nodes in to
// no longer hear the nodes in from, while everything the other way (and
// to or from anyone else, the observer included) passes. ObserverIndex
// may stand in either list for the observer. A node in both lists is not
// cut from itself (its frames never come back out of its own port). Cuts
// add to earlier ones, partitions, isolation and loss; Heal removes them.
//
// Address resolution is cut too: a node in to cannot resolve a node in
// from, and once its neighbour entry expires (a few seconds to a minute
// after the cut) it cannot send it anything either, so a long cut ends
// up cutting both directions of unicast. CutOneWayTraffic keeps the
// reverse direction working.
func (n *Net) CutOneWay(from, to []int) error {
	return n.cutOneWay("cut one way", cutAll, from, to)
}

// CutOneWayTraffic is CutOneWay that lets address resolution through
// (ARP, and IPv6 neighbour solicitations and advertisements): every
// other frame from a node in from to a node in to is dropped, and the
// nodes in to keep reaching the nodes in from for as long as the cut
// lasts, the way a firewall rule or a broken path in one direction
// behaves.
func (n *Net) CutOneWayTraffic(from, to []int) error {
	return n.cutOneWay("cut traffic one way", cutTraffic, from, to)
}

func (n *Net) cutOneWay(what string, cut oneWayCut, from, to []int) error {
	for _, i := range append(slices.Clone(from), to...) {
		if i != ObserverIndex && (i < 0 || i >= len(n.Nodes)) {
			return fmt.Errorf("testbed: %s: no node %d", what, i)
		}
	}
	return n.changeFaults(func(f *faults) { f.addOneWay(cut, from, to) })
}

// addOneWay adds the cut of every pair (from, to) but a node's own, each
// pair keeping the larger of its cuts.
func (f *faults) addOneWay(cut oneWayCut, from, to []int) {
	// The map is shared with the state in force: a copy leaves that
	// state as it was when the transaction fails.
	m := maps.Clone(f.oneway)
	if m == nil {
		m = map[[2]int]oneWayCut{}
	}
	for _, i := range from {
		for _, j := range to {
			if i != j {
				m[[2]int{i, j}] = max(m[[2]int{i, j}], cut)
			}
		}
	}
	f.oneway = m
}

// Loss drops percent (0..100) of the frames entering the bridge on every
// port, nodes' and observer's, at random (nftables numgen): each direction
// of each link loses that share. Loss(0) removes it; partitions and
// isolation stay.
func (n *Net) Loss(percent int) error {
	if percent < 0 || percent > 100 {
		return fmt.Errorf("testbed: loss of %d%%: want 0..100", percent)
	}
	return n.changeFaults(func(f *faults) { f.loss = percent })
}

// Faults is a whole fault state, for callers that overlap faults and end
// them one by one (a chaos schedule): SetFaults puts it in place of the
// state in force in one transaction, so frames never see a moment
// between the old rules and the new ones.
type Faults struct {
	// Cuts drop frames one way; a partition is two cuts.
	Cuts []Cut
	// Loss maps a host index (ObserverIndex: the observer) to the
	// percentage (0..100) of the frames entering the bridge from it that
	// are dropped at random.
	Loss map[int]int
}

// Cut drops every frame from a host in From to a host in To (host
// indexes; ObserverIndex for the observer), or with Traffic every frame
// but address resolution (see CutOneWayTraffic).
type Cut struct {
	From, To []int
	Traffic  bool
}

// SetFaults replaces every partition, isolation, cut and loss in force
// with f.
func (n *Net) SetFaults(f Faults) error {
	next := faults{}
	for _, c := range f.Cuts {
		for _, i := range append(slices.Clone(c.From), c.To...) {
			if i != ObserverIndex && (i < 0 || i >= len(n.Nodes)) {
				return fmt.Errorf("testbed: set faults: no node %d", i)
			}
		}
		kind := cutAll
		if c.Traffic {
			kind = cutTraffic
		}
		next.addOneWay(kind, c.From, c.To)
	}
	for i, pct := range f.Loss {
		if i != ObserverIndex && (i < 0 || i >= len(n.Nodes)) {
			return fmt.Errorf("testbed: set faults: no node %d", i)
		}
		if pct < 0 || pct > 100 {
			return fmt.Errorf("testbed: set faults: loss of %d%% on host %d: want 0..100", pct, i)
		}
		if pct > 0 {
			if next.portLoss == nil {
				next.portLoss = map[int]int{}
			}
			next.portLoss[i] = pct
		}
	}
	return n.changeFaults(func(cur *faults) { *cur = next })
}

// Heal removes every partition, isolation, one-way cut and loss.
func (n *Net) Heal() error {
	return n.changeFaults(func(f *faults) { *f = faults{} })
}

// FaultRules returns the rules of the fault chain as nft lists them, for
// logs and tests.
func (n *Net) FaultRules() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	out, err := run(ctx, "ip", "netns", "exec", n.Switch, "nft", "list", "table", "bridge", nftTable)
	return string(out), err
}

// hostPort is the bridge port of node i, or of the observer for
// ObserverIndex.
func (n *Net) hostPort(i int) string {
	if i == ObserverIndex {
		return n.Observer.Port
	}
	return n.Nodes[i].Port
}

func (n *Net) changeFaults(change func(*faults)) error {
	if err := NftAvailable(); err != nil {
		return err
	}
	n.faultMu.Lock()
	defer n.faultMu.Unlock()
	f := n.faults
	change(&f)
	script := n.nftScript(f)
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	n.logf("ip netns exec %s nft -f - <<\n%s", n.Switch, script)
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", n.Switch, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("testbed: nft in %s: %w: %s\n%s", n.Switch, err, strings.TrimSpace(string(out)), script)
	}
	n.faults = f
	return nil
}

// nftScript renders f as one nft transaction: create the table if need
// be, empty it, and declare the forward chain with f's rules.
func (n *Net) nftScript(f faults) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("add table bridge %s", nftTable)
	w("flush table bridge %s", nftTable)
	w("table bridge %s {", nftTable)
	w("\tchain %s {", nftChain)
	w("\t\ttype filter hook forward priority 0; policy accept;")
	for _, r := range n.faultRules(f) {
		w("\t\t%s", r)
	}
	w("\t}")
	w("}")
	return b.String()
}

// faultRules lists the chain's rules for f: isolation first, then the
// partition, the one-way cuts (by from, then to) and loss.
func (n *Net) faultRules(f faults) []string {
	var rules []string
	var iso []int
	for i := range f.isolated {
		iso = append(iso, i)
	}
	slices.Sort(iso)
	for _, i := range iso {
		p := n.Nodes[i].Port
		rules = append(rules, fmt.Sprintf("iifname %q drop", p), fmt.Sprintf("oifname %q drop", p))
	}
	if f.group != nil {
		for i := range n.Nodes {
			for j := range n.Nodes {
				if i != j && f.group[i] != f.group[j] {
					rules = append(rules, fmt.Sprintf("iifname %q oifname %q drop", n.Nodes[i].Port, n.Nodes[j].Port))
				}
			}
		}
	}
	var pairs [][2]int
	for p := range f.oneway {
		pairs = append(pairs, p)
	}
	slices.SortFunc(pairs, func(a, b [2]int) int {
		if c := cmp.Compare(a[0], b[0]); c != 0 {
			return c
		}
		return cmp.Compare(a[1], b[1])
	})
	for _, p := range pairs {
		on := fmt.Sprintf("iifname %q oifname %q", n.hostPort(p[0]), n.hostPort(p[1]))
		switch f.oneway[p] {
		case cutAll:
			rules = append(rules, on+" drop")
		case cutTraffic:
			// Three rules, each a negation: an accept for the
			// resolution frames would end the chain for them and
			// spare them the loss rules that follow.
			rules = append(rules,
				on+" ether type != { arp, ip6 } drop",
				on+" ether type ip6 ip6 nexthdr != ipv6-icmp drop",
				on+" ether type ip6 icmpv6 type != { nd-neighbor-solicit, nd-neighbor-advert } drop")
		}
	}
	if f.loss > 0 {
		ports := []string{}
		for _, h := range n.Nodes {
			ports = append(ports, h.Port)
		}
		ports = append(ports, n.Observer.Port)
		for _, p := range ports {
			rules = append(rules, lossRule(p, f.loss))
		}
	}
	hosts := slices.Sorted(maps.Keys(f.portLoss))
	for _, i := range hosts {
		rules = append(rules, lossRule(n.hostPort(i), f.portLoss[i]))
	}
	return rules
}

// lossRule drops pct percent of the frames entering from port.
func lossRule(port string, pct int) string {
	if pct == 100 {
		// numgen yields 0..99: "< 100" is out of its range.
		return fmt.Sprintf("iifname %q drop", port)
	}
	return fmt.Sprintf("iifname %q numgen random mod 100 < %d drop", port, pct)
}
