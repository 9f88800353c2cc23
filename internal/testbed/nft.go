package testbed

import (
	"context"
	"fmt"
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

// faults is the fault state Partition, Isolate and Loss build up; every
// change rewrites the whole table in one nft transaction.
type faults struct {
	// group maps a node index to its partition group; nil: no partition.
	group map[int]int
	// isolated nodes exchange no frame with anyone, observer included.
	isolated map[int]bool
	// loss is the percentage of frames dropped at random on every port.
	loss int
}

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
// partition; isolation and loss stay.
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

// Heal removes every partition, isolation and loss.
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
// partition, then loss.
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
	if f.loss > 0 {
		ports := []string{}
		for _, h := range n.Nodes {
			ports = append(ports, h.Port)
		}
		ports = append(ports, n.Observer.Port)
		for _, p := range ports {
			if f.loss == 100 {
				// numgen yields 0..99: "< 100" is out of its range.
				rules = append(rules, fmt.Sprintf("iifname %q drop", p))
			} else {
				rules = append(rules, fmt.Sprintf("iifname %q numgen random mod 100 < %d drop", p, f.loss))
			}
		}
	}
	return rules
}
