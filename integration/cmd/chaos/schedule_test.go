package main

import (
	"reflect"
	"slices"
	"testing"
	"time"
)

func testPlan() plan {
	return plan{Nodes: 5, Witness: true, Instances: 3, Duration: 30 * time.Minute, Gap: 2 * time.Second, Quiet: 5 * time.Second, MaxActive: 3}
}

func TestDrawReproducible(t *testing.T) {
	a, b := draw(testPlan(), 42), draw(testPlan(), 42)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("the same seed drew two schedules")
	}
	if reflect.DeepEqual(a, draw(testPlan(), 43)) {
		t.Fatal("two seeds drew the same schedule")
	}
}

func TestDrawBounds(t *testing.T) {
	p := testPlan()
	sched := draw(p, 7)
	seen := map[kind]int{}
	for j, f := range sched {
		seen[f.Kind]++
		if f.ID != j+1 {
			t.Errorf("fault %d has ID %d", j, f.ID)
		}
		if f.At >= p.Duration-p.Quiet {
			t.Errorf("%s starts in the final quiet time", f)
		}
		active := 0
		for _, g := range sched[:j] {
			if g.Dur > 0 && g.At+g.Dur > f.At {
				active++
				if slices.Contains(processKinds, f.Kind) && slices.Contains(processKinds, g.Kind) &&
					f.Nodes[0] >= 0 && f.Nodes[0] == g.Nodes[0] {
					t.Errorf("%s overlaps %s on the same node", f, g)
				}
			}
		}
		if active >= p.MaxActive {
			t.Errorf("%s starts with %d faults in force", f, active)
		}
		if f.Kind == kReload && f.Nodes[0] == p.Nodes-1 {
			t.Errorf("%s: the witness has no instance", f)
		}
		if f.Inst < 0 || f.Inst >= p.Instances {
			t.Errorf("%s: no instance %d", f, f.Inst)
		}
	}
	for _, k := range allKinds {
		if seen[k] == 0 {
			t.Errorf("no %s fault in 30 minutes", k)
		}
	}
	if !slices.IsSortedFunc(sched, func(a, b fault) int { return int(a.At - b.At) }) {
		t.Error("schedule not in time order")
	}
}

func TestDrawKinds(t *testing.T) {
	p := testPlan()
	p.Kinds = []kind{kFreeze, kOneWay}
	for _, f := range draw(p, 1) {
		if f.Kind != kFreeze && f.Kind != kOneWay {
			t.Fatalf("%s drawn from freeze and one-way", f)
		}
	}
}

func TestNetState(t *testing.T) {
	active := map[int]fault{
		1: {ID: 1, Kind: kPartition, Nodes: []int{0}, Obs: true},
		2: {ID: 2, Kind: kOneWay, Nodes: []int{1}, To: []int{2}, Traffic: true},
		3: {ID: 3, Kind: kLoss, Nodes: []int{observer}, Pct: 20},
	}
	fs, cuts, loss := netState(active, 3)
	if len(fs.Cuts) != 3 || !fs.Cuts[2].Traffic {
		t.Errorf("cuts %+v", fs.Cuts)
	}
	for _, pair := range [][2]int{{0, 1}, {1, 0}, {observer, 2}, {2, observer}, {1, 2}} {
		if !cuts[pair] {
			t.Errorf("%v not cut", pair)
		}
	}
	for _, pair := range [][2]int{{0, observer}, {2, 1}} {
		if cuts[pair] {
			t.Errorf("%v cut", pair)
		}
	}
	if loss[observer] != 20 || fs.Loss[observer] != 20 {
		t.Errorf("loss %v, %v", loss, fs.Loss)
	}
}
