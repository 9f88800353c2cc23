package main

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/havip/havip/internal/testbed"
)

const (
	// maxNodes is the largest cluster havip is made for (README: 2–10
	// servers; Huawei Cloud binds a VIP to at most 10 NICs).
	maxNodes = 10
	// maxInstances is the most instances a cluster runs: the most VIPs
	// Huawei Cloud advises per server.
	maxInstances = 8
)

// size is the shape of one cluster: its nodes and its instances, spread
// active/active: instance k prefers node k mod nodes and has its own VIP,
// VIP4(k).
type size struct {
	nodes, instances int
}

func (z size) String() string {
	inst := "instances"
	if z.instances == 1 {
		inst = "instance"
	}
	return fmt.Sprintf("%d nodes × %d %s", z.nodes, z.instances, inst)
}

// short is the size as the -nodes flag writes it: "10x8".
func (z size) short() string { return fmt.Sprintf("%dx%d", z.nodes, z.instances) }

// parseSizes reads -nodes: a list of N (a cluster of N nodes with the
// default number of instances) or NxI (N nodes, I instances).
func parseSizes(list string, instances int) ([]size, error) {
	if instances < 1 || instances > maxInstances {
		return nil, fmt.Errorf("-instances %d: want 1..%d", instances, maxInstances)
	}
	var out []size
	for _, f := range splitList(list) {
		z := size{instances: instances}
		n, i, hasI := strings.Cut(strings.ToLower(f), "x")
		var err error
		if z.nodes, err = strconv.Atoi(n); err != nil {
			return nil, fmt.Errorf("-nodes: %q: want N or NxI (nodes × instances)", f)
		}
		if hasI {
			if z.instances, err = strconv.Atoi(i); err != nil {
				return nil, fmt.Errorf("-nodes: %q: want N or NxI (nodes × instances)", f)
			}
		}
		if z.nodes < 2 || z.nodes > maxNodes {
			return nil, fmt.Errorf("-nodes: %q: want 2..%d nodes", f, maxNodes)
		}
		if z.instances < 1 || z.instances > maxInstances {
			return nil, fmt.Errorf("-nodes: %q: want 1..%d instances", f, maxInstances)
		}
		for _, seen := range out {
			if seen == z {
				return nil, fmt.Errorf("-nodes: %s given twice", z.short())
			}
		}
		out = append(out, z)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("-nodes: no cluster size")
	}
	return out, nil
}

// instanceName is instance k's name in both daemons' configurations.
func instanceName(k int) string { return fmt.Sprintf("vip%d", k) }

// instanceVIP is instance k's one VIP.
func instanceVIP(k int) netip.Addr { return testbed.VIP4(k) }

// vip is instance 0's VIP, held by node 0 at the start of every round:
// the one every failover scenario measures.
var vip = instanceVIP(0)

// preferred is the node that holds instance k when every node is up.
func (z size) preferred(k int) int { return k % z.nodes }

// priority is node i's priority in instance k, the same in every setup:
// 150 on the node the instance prefers, then 100 and 50 on the next two
// (as in the benchmark's two- and three-node clusters since its start)
// and 5 less on each node after them, down to 15 on the tenth.
func (z size) priority(i, k int) int {
	rank := (i - z.preferred(k) + z.nodes) % z.nodes
	if rank <= 2 {
		return 150 - 50*rank
	}
	return 50 - 5*(rank-2)
}

// vips lists every instance's VIP in instance order.
func (z size) vips() []netip.Addr {
	out := make([]netip.Addr, z.instances)
	for k := range out {
		out[k] = instanceVIP(k)
	}
	return out
}
