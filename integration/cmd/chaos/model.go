package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/havip/havip/internal/testbed"
)

// samplePeriod is how often the holders are read.
const samplePeriod = 5 * time.Millisecond

// options are the command's flags.
type options struct {
	nodes     int
	witness   bool
	instances int
	profile   string
	duration  time.Duration
	seed      uint64
	gap       time.Duration
	maxActive int
	kinds     string
	havip     string
	out       string
	keep      bool
	verbose   bool
}

// observer stands for the observer host where faults take host indexes.
const observer = -1

// world is what the schedule has done to the cluster at one moment: the
// state of each daemon and of the network between the hosts. The runner
// records a copy after every change; the checker judges the holders it
// sampled against them.
type world struct {
	// Per node.
	Down     []bool // the daemon is not running (killed or stopped)
	Frozen   []bool // SIGSTOP
	Drained  []bool // maintenance on
	LinkDown []bool // eth0 down inside the node
	Starved  []bool // CPU quota of a few percent
	// Cut holds the one-way cuts in force, from → to (host indexes,
	// observer included); a pair cut both ways is a partition.
	Cut map[[2]int]bool
	// Loss is the loss in percent on frames entering the bridge from a
	// host.
	Loss map[int]int
	// Prio is each instance's priority per node (0: not in it; the
	// witness is in none); reloads change it.
	Prio [][]int
}

func newWorld(nodes int, prio [][]int) world {
	w := world{
		Down: make([]bool, nodes), Frozen: make([]bool, nodes), Drained: make([]bool, nodes),
		LinkDown: make([]bool, nodes), Starved: make([]bool, nodes),
		Cut: map[[2]int]bool{}, Loss: map[int]int{},
	}
	for _, p := range prio {
		w.Prio = append(w.Prio, slices.Clone(p))
	}
	return w
}

func (w world) clone() world {
	c := world{
		Down: slices.Clone(w.Down), Frozen: slices.Clone(w.Frozen), Drained: slices.Clone(w.Drained),
		LinkDown: slices.Clone(w.LinkDown), Starved: slices.Clone(w.Starved),
		Cut: maps.Clone(w.Cut), Loss: maps.Clone(w.Loss),
	}
	for _, p := range w.Prio {
		c.Prio = append(c.Prio, slices.Clone(p))
	}
	return c
}

func (w world) nodes() int { return len(w.Down) }

// healthy reports whether node i takes part fully: its daemon runs
// unhindered, its link is up and no frame of its is lost at random.
func (w world) healthy(i int) bool {
	return !w.Down[i] && !w.Frozen[i] && !w.LinkDown[i] && !w.Starved[i] && w.Loss[i] == 0
}

// connected reports whether frames pass both ways between hosts a and b.
func (w world) connected(a, b int) bool {
	return !w.Cut[[2]int{a, b}] && !w.Cut[[2]int{b, a}]
}

// lossy reports whether any host loses frames at random.
func (w world) lossy() bool {
	for _, p := range w.Loss {
		if p > 0 {
			return true
		}
	}
	return false
}

// majorityFor reports whether a majority of the members are healthy and
// connected to each other both ways, with among them a node that may
// hold instance k (in it, priority above 0, not drained). Members are
// every node (a witness counts for the quorum). Up to 10 nodes: every
// subset is tried.
func (w world) majorityFor(k int) bool {
	n := w.nodes()
	need := n/2 + 1
	var ok []int
	for i := range n {
		if w.healthy(i) {
			ok = append(ok, i)
		}
	}
	if len(ok) < need {
		return false
	}
	for mask := 1; mask < 1<<len(ok); mask++ {
		var set []int
		for b, i := range ok {
			if mask&(1<<b) != 0 {
				set = append(set, i)
			}
		}
		if len(set) < need || !w.clique(set) {
			continue
		}
		for _, i := range set {
			if w.Prio[k][i] > 0 && !w.Drained[i] {
				return true
			}
		}
	}
	return false
}

// clique reports whether every pair of set is connected both ways.
func (w world) clique(set []int) bool {
	for x, a := range set {
		for _, b := range set[x+1:] {
			if !w.connected(a, b) {
				return false
			}
		}
	}
	return true
}

// String says briefly what is wrong in w: "node1 frozen; cut 0→2; loss 2:20%".
func (w world) String() string {
	var parts []string
	for i := range w.nodes() {
		var s []string
		for _, f := range []struct {
			on   bool
			what string
		}{{w.Down[i], "down"}, {w.Frozen[i], "frozen"}, {w.Drained[i], "drained"}, {w.LinkDown[i], "link down"}, {w.Starved[i], "starved"}} {
			if f.on {
				s = append(s, f.what)
			}
		}
		if len(s) > 0 {
			parts = append(parts, fmt.Sprintf("node%d %s", i, strings.Join(s, ", ")))
		}
	}
	cuts := slices.SortedFunc(maps.Keys(w.Cut), func(a, b [2]int) int {
		if a[0] != b[0] {
			return a[0] - b[0]
		}
		return a[1] - b[1]
	})
	if len(cuts) > 0 {
		var s []string
		for _, c := range cuts {
			s = append(s, hostName(c[0])+"→"+hostName(c[1]))
		}
		parts = append(parts, "cut "+strings.Join(s, " "))
	}
	for _, h := range slices.Sorted(maps.Keys(w.Loss)) {
		parts = append(parts, fmt.Sprintf("loss %s %d%%", hostName(h), w.Loss[h]))
	}
	if len(parts) == 0 {
		return "no fault"
	}
	return strings.Join(parts, "; ")
}

func hostName(i int) string {
	if i == observer {
		return "obs"
	}
	return fmt.Sprintf("node%d", i)
}

// change is one recorded change of the world: the state after it, when
// and what did it.
type change struct {
	At   time.Time
	What string
	W    world
}

// netState is the fault state of the network faults in force, and the
// cuts and loss it makes between hosts.
func netState(active map[int]fault, nodes int) (testbed.Faults, map[[2]int]bool, map[int]int) {
	fs := testbed.Faults{Loss: map[int]int{}}
	cuts := map[[2]int]bool{}
	loss := map[int]int{}
	hosts := append([]int{observer}, seq(nodes)...)
	add := func(from, to []int, traffic bool) {
		fs.Cuts = append(fs.Cuts, testbed.Cut{From: from, To: to, Traffic: traffic})
		for _, a := range from {
			for _, b := range to {
				if a != b {
					cuts[[2]int{a, b}] = true
				}
			}
		}
	}
	for _, id := range slices.Sorted(maps.Keys(active)) {
		f := active[id]
		switch f.Kind {
		case kPartition:
			side := slices.Clone(f.Nodes)
			if f.Obs {
				side = append(side, observer)
			}
			var rest []int
			for _, h := range hosts {
				if !slices.Contains(side, h) {
					rest = append(rest, h)
				}
			}
			add(side, rest, false)
			add(rest, side, false)
		case kOneWay:
			add(f.Nodes, f.To, f.Traffic)
		case kLoss:
			h := f.Nodes[0]
			loss[h] = max(loss[h], f.Pct)
			fs.Loss[h] = loss[h]
		}
	}
	return fs, cuts, loss
}
