package main

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// kind is a kind of fault.
type kind string

const (
	kPartition kind = "partition"   // Nodes (and the observer with Obs) cut both ways from the rest
	kOneWay    kind = "one-way"     // frames from Nodes to To dropped (Traffic: all but ARP/ND)
	kLoss      kind = "loss"        // Pct % of the frames from Nodes[0] (or the observer) lost
	kLinkDown  kind = "link-down"   // eth0 down inside the node
	kDeleteVIP kind = "delete-vip"  // the VIP of instance Inst deleted behind its holder's back
	kKill      kind = "kill"        // SIGKILL, started again after Dur
	kTerm      kind = "term"        // SIGTERM, started again after Dur
	kFreeze    kind = "freeze"      // SIGSTOP for Dur, then SIGCONT
	kStarve    kind = "starve"      // CPU quota of 2 % for Dur
	kReload    kind = "reload"      // node's priority for Inst set to Prio, then havip reload
	kMaint     kind = "maintenance" // maintenance on for Dur, then off
	kSwitch    kind = "switchover"  // havip switchover of Inst, asked on Nodes[0]
)

// process faults act on one node's daemon; a node has at most one at a
// time.
var processKinds = []kind{kKill, kTerm, kFreeze, kStarve, kMaint}

// fault is one entry of the schedule. Nodes and To are host indexes; a
// negative node in Nodes of a kill, term, freeze, delete-vip or
// link-down means "the holder of instance Inst when the fault starts"
// (resolved then, and the resolution logged).
type fault struct {
	ID      int
	Kind    kind
	At      time.Duration // from the start of the schedule
	Dur     time.Duration // 0: instantaneous
	Nodes   []int
	To      []int
	Obs     bool // partition: the observer is on the Nodes side
	Traffic bool
	Pct     int
	Inst    int
	Prio    int
}

// holderOf is the Nodes entry meaning "the holder of the instance".
const holderOf = -2

func (f fault) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "#%d %s", f.ID, f.Kind)
	nodes := func(ns []int) string {
		var s []string
		for _, n := range ns {
			if n == holderOf {
				s = append(s, fmt.Sprintf("holder(i%d)", f.Inst))
			} else {
				s = append(s, hostName(n))
			}
		}
		return strings.Join(s, ",")
	}
	switch f.Kind {
	case kPartition:
		side := nodes(f.Nodes)
		if f.Obs {
			side += ",obs"
		}
		fmt.Fprintf(&b, " {%s} | rest", side)
	case kOneWay:
		fmt.Fprintf(&b, " %s → %s", nodes(f.Nodes), nodes(f.To))
		if f.Traffic {
			b.WriteString(" (ARP passes)")
		}
	case kLoss:
		fmt.Fprintf(&b, " %d%% from %s", f.Pct, nodes(f.Nodes))
	case kReload:
		fmt.Fprintf(&b, " %s i%d priority %d", nodes(f.Nodes), f.Inst, f.Prio)
	case kDeleteVIP:
		fmt.Fprintf(&b, " i%d on %s", f.Inst, nodes(f.Nodes))
	case kSwitch:
		fmt.Fprintf(&b, " i%d asked on %s", f.Inst, nodes(f.Nodes))
	default:
		fmt.Fprintf(&b, " %s", nodes(f.Nodes))
	}
	if f.Dur > 0 {
		fmt.Fprintf(&b, " for %v", f.Dur.Round(time.Millisecond))
	}
	return b.String()
}

// plan is what a schedule is drawn for.
type plan struct {
	Nodes     int
	Witness   bool // the last node is a witness: a member with no instance
	Instances int
	Duration  time.Duration
	// Gap is the mean time between two fault starts; Quiet the time with
	// no fault at all that follows every fault now and then, so that the
	// cluster settles and the liveness invariants are checked.
	Gap, Quiet time.Duration
	// MaxActive bounds the faults with a duration in force at once.
	MaxActive int
	// Kinds are the kinds drawn from (all when empty).
	Kinds []kind
}

var allKinds = []kind{kPartition, kOneWay, kLoss, kLinkDown, kDeleteVIP, kKill, kTerm, kFreeze, kStarve, kReload, kMaint, kSwitch}

// draw makes the schedule for seed: the same plan and seed give the same
// schedule. Faults start at random (exponential gaps of mean Gap), last
// 0.1–8 s by kind, overlap up to MaxActive, never put two process faults
// on one node at once, and every fourth fault or so is followed by
// Quiet with nothing in force. Nothing starts within the last Quiet of
// the duration.
func draw(p plan, seed uint64) []fault {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	kinds := p.Kinds
	if len(kinds) == 0 {
		kinds = allKinds
	}
	var out []fault
	busy := make([]time.Duration, p.Nodes) // process fault ends per node
	var ends []time.Duration               // ends of faults with a duration
	at := p.Quiet / 2
	for {
		at += time.Duration(rng.ExpFloat64() * float64(p.Gap))
		ends = slices.DeleteFunc(ends, func(e time.Duration) bool { return e <= at })
		if len(ends) >= p.MaxActive {
			at = slices.Min(ends)
			continue
		}
		if at >= p.Duration-p.Quiet {
			return out
		}
		f, ok := drawFault(rng, p, kinds[rng.IntN(len(kinds))], at, busy)
		if !ok {
			continue
		}
		f.ID = len(out) + 1
		out = append(out, f)
		if f.Dur > 0 {
			ends = append(ends, at+f.Dur)
		}
		if rng.IntN(4) == 0 {
			// Let everything end, then a quiet time.
			at = slices.Max(append(ends, at+f.Dur)) + p.Quiet
			ends = nil
		}
	}
}

// drawFault draws one fault of kind k starting at at; false when none
// fits (a process fault with every node busy).
func drawFault(rng *rand.Rand, p plan, k kind, at time.Duration, busy []time.Duration) (fault, bool) {
	f := fault{Kind: k, At: at, Inst: rng.IntN(p.Instances)}
	servers := p.Nodes
	if p.Witness {
		servers--
	}
	dur := func(lo, hi time.Duration) time.Duration {
		return lo + time.Duration(rng.Int64N(int64(hi-lo)))
	}
	switch k {
	case kPartition:
		f.Nodes = subset(rng, p.Nodes, 1, p.Nodes-1)
		f.Obs = rng.IntN(2) == 0
		f.Dur = dur(500*time.Millisecond, 8*time.Second)
	case kOneWay:
		hosts := append([]int{observer}, seq(p.Nodes)...)
		f.Nodes = pick(subset(rng, len(hosts), 1, len(hosts)-1), hosts)
		var rest []int
		for _, h := range hosts {
			if !slices.Contains(f.Nodes, h) {
				rest = append(rest, h)
			}
		}
		f.To = pick(subset(rng, len(rest), 1, len(rest)), rest)
		f.Traffic = rng.IntN(2) == 0
		f.Dur = dur(500*time.Millisecond, 8*time.Second)
	case kLoss:
		f.Nodes = []int{rng.IntN(p.Nodes+1) - 1}
		f.Pct = 1 + rng.IntN(30)
		f.Dur = dur(time.Second, 8*time.Second)
	case kLinkDown:
		f.Nodes = []int{target(rng, p.Nodes)}
		f.Dur = dur(200*time.Millisecond, 5*time.Second)
	case kDeleteVIP:
		f.Nodes = []int{holderOf}
	case kReload:
		f.Nodes = []int{rng.IntN(servers)}
		f.Prio = 10 * (5 + rng.IntN(16))
	case kSwitch:
		f.Nodes = []int{rng.IntN(p.Nodes)}
	default: // process faults
		n := target(rng, p.Nodes)
		if k == kMaint || k == kStarve {
			n = rng.IntN(p.Nodes)
		}
		if n >= 0 && busy[n] > at {
			return fault{}, false
		}
		f.Nodes = []int{n}
		switch k {
		case kFreeze:
			f.Dur = dur(100*time.Millisecond, 5*time.Second)
		default:
			f.Dur = dur(500*time.Millisecond, 6*time.Second)
		}
		// A holder is resolved at run time; the runner skips the fault
		// when that node has a process fault already.
		if n >= 0 {
			busy[n] = at + f.Dur
		}
	}
	return f, true
}

// target is a node, or half the time the holder of the instance.
func target(rng *rand.Rand, nodes int) int {
	if rng.IntN(2) == 0 {
		return holderOf
	}
	return rng.IntN(nodes)
}

// subset draws between lo and hi distinct indexes of 0..n-1, sorted.
func subset(rng *rand.Rand, n, lo, hi int) []int {
	k := lo + rng.IntN(hi-lo+1)
	s := rng.Perm(n)[:k]
	slices.Sort(s)
	return s
}

// pick maps indexes into items.
func pick(idx, items []int) []int {
	out := make([]int, len(idx))
	for i, x := range idx {
		out[i] = items[x]
	}
	return out
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}
