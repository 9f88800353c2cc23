package main

import (
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

const s = time.Second

var testBounds = bounds{Grace: 1500 * time.Millisecond, Release: s, Stable: 2 * s, Gap: 250 * time.Millisecond, Announce: 500 * time.Millisecond}

// rec3 is a record of 3 nodes and one instance (priorities 150, 100, 50)
// over 20 s with the world changed by the mutations at their times.
func rec3(holders []holding, changes ...change) record {
	w := newWorld(3, [][]int{{150, 100, 50}})
	r := record{Start: t0, End: at(20 * s), Hung: make([][]time.Time, 3), Holders: [][]holding{holders}, GARPs: [][]garp{nil}}
	r.Changes = append([]change{{At: t0, What: "start", W: w}}, changes...)
	// Every new holder announces at once (TestCheckAnnounce says
	// otherwise).
	for _, h := range holders {
		if len(h.Holders) == 1 {
			r.GARPs[0] = append(r.GARPs[0], garp{At: h.At.Add(time.Millisecond), Node: h.Holders[0]})
		}
	}
	return r
}

// then returns the world of the last change with mutate applied.
func then(prev change, d time.Duration, what string, mutate func(*world)) change {
	w := prev.W.clone()
	mutate(&w)
	return change{At: at(d), What: what, W: w}
}

func rules(vs []violation) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Rule)
	}
	return out
}

func TestCheckQuietRun(t *testing.T) {
	r := rec3([]holding{{At: t0, Holders: []int{0}}})
	vs, st := check(r, testBounds)
	if len(vs) != 0 {
		t.Fatalf("violations in a quiet run: %v", vs)
	}
	if st[0].Failovers != 0 || st[0].None != 0 || st[0].TwoOrMore != 0 {
		t.Errorf("stats %+v", st[0])
	}
}

func TestCheckTwoHolders(t *testing.T) {
	r := rec3([]holding{{At: t0, Holders: []int{0}}, {At: at(5 * s), Holders: []int{0, 1}}, {At: at(5*s + 30*time.Millisecond), Holders: []int{1}}})
	vs, st := check(r, testBounds)
	if !slices.Equal(rules(vs), []string{"S1"}) {
		t.Fatalf("violations %v, want one S1", vs)
	}
	if d := vs[0].To.Sub(vs[0].From); d != 30*time.Millisecond {
		t.Errorf("S1 lasted %v, want 30ms", d)
	}
	if st[0].TwoOrMore != 30*time.Millisecond || st[0].Failovers != 1 {
		t.Errorf("stats %+v", st[0])
	}
}

// A frozen holder keeps its VIP until its lifetime runs out: excused for
// Grace after the SIGSTOP, not after.
func TestCheckFrozenHolderGrace(t *testing.T) {
	for _, tc := range []struct {
		name    string
		goneAt  time.Duration
		wantS1  bool
		wantDur time.Duration
	}{
		{"gone within the grace", 6*s + 400*time.Millisecond, false, 0},
		{"kept past the grace", 8 * s, true, 1500 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := rec3(nil).Changes[0]
			frozen := then(start, 5*s, "freeze node0", func(w *world) { w.Frozen[0] = true })
			r := rec3([]holding{
				{At: t0, Holders: []int{0}},
				{At: at(6 * s), Holders: []int{0, 1}},
				{At: at(tc.goneAt), Holders: []int{1}},
			}, frozen)
			r.Hung[0] = []time.Time{at(5 * s)}
			vs, _ := check(r, testBounds)
			if got := slices.Contains(rules(vs), "S1"); got != tc.wantS1 {
				t.Fatalf("violations %v, want S1 %t", vs, tc.wantS1)
			}
			if tc.wantS1 && vs[0].To.Sub(vs[0].From) != tc.wantDur {
				t.Errorf("S1 for %v, want %v", vs[0].To.Sub(vs[0].From), tc.wantDur)
			}
		})
	}
}

// A stopped daemon's node must not keep the VIP past Release; a killed
// one's past Grace.
func TestCheckStale(t *testing.T) {
	start := rec3(nil).Changes[0]
	stopped := then(start, 5*s, "term node0", func(w *world) { w.Down[0] = true })
	r := rec3([]holding{{At: t0, Holders: []int{0}}, {At: at(7 * s), Holders: []int{1}}}, stopped)
	vs, _ := check(r, testBounds)
	if !slices.Equal(rules(vs), []string{"S2"}) {
		t.Fatalf("violations %v, want S2", vs)
	}
	if vs[0].From != at(6*s) || vs[0].To != at(7*s) {
		t.Errorf("S2 from %v to %v, want +6s to +7s", vs[0].From.Sub(t0), vs[0].To.Sub(t0))
	}

	// Killed: the VIP may stay for Grace.
	r.Hung[0] = []time.Time{at(5 * s)}
	r.Holders[0][1].At = at(6*s + 400*time.Millisecond)
	r.GARPs[0][1].At = at(6*s + 401*time.Millisecond)
	if vs, _ := check(r, testBounds); len(vs) != 0 {
		t.Errorf("killed holder's VIP gone within the grace: %v", vs)
	}

	drained := then(start, 5*s, "maintenance on node0", func(w *world) { w.Drained[0] = true })
	r = rec3([]holding{{At: t0, Holders: []int{0}}, {At: at(5*s + 2*time.Millisecond), Holders: []int{1}}}, drained)
	if vs, _ := check(r, testBounds); len(vs) != 0 {
		t.Errorf("drained holder let go at once: %v", vs)
	}
}

// L1: no holder while a majority is up and connected, beyond the
// stable time and the handover gap.
func TestCheckLiveness(t *testing.T) {
	start := rec3(nil).Changes[0]
	cut := then(start, 5*s, "partition node0", func(w *world) {
		for _, j := range []int{observer, 1, 2} {
			w.Cut[[2]int{0, j}], w.Cut[[2]int{j, 0}] = true, true
		}
	})
	for _, tc := range []struct {
		name   string
		tookAt time.Duration
		want   []string
	}{
		{"taken over within the stable time", 6 * s, nil},
		{"never taken over", 30 * s, []string{"L1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rec3([]holding{{At: t0, Holders: []int{0}}, {At: at(5*s + 100*time.Millisecond), Holders: nil}, {At: at(tc.tookAt), Holders: []int{1}}}, cut)
			vs, _ := check(r, testBounds)
			if !slices.Equal(rules(vs), tc.want) {
				t.Fatalf("violations %v, want %v", vs, tc.want)
			}
			if tc.want != nil && vs[0].From != at(7*s) {
				t.Errorf("L1 from %v, want +7s (the cut and the stable time)", vs[0].From.Sub(t0))
			}
		})
	}

	// A minority holder is cut off: L1 wants the majority to hold.
	r := rec3([]holding{{At: t0, Holders: []int{0}}}, cut)
	vs, _ := check(r, testBounds)
	if !slices.Equal(rules(vs), []string{"L1"}) || !strings.Contains(vs[0].Detail, "cut off") {
		t.Errorf("holder cut off from the majority: %v", vs)
	}

	// A handover gap shorter than Gap is no violation; loss suspends L1.
	r = rec3([]holding{{At: t0, Holders: []int{0}}, {At: at(10 * s), Holders: nil}, {At: at(10*s + 100*time.Millisecond), Holders: []int{1}}})
	if vs, _ := check(r, testBounds); len(vs) != 0 {
		t.Errorf("handover gap of 100ms: %v", vs)
	}
	lossy := then(start, 5*s, "loss", func(w *world) { w.Loss[1] = 20 })
	r = rec3([]holding{{At: t0, Holders: []int{0}}, {At: at(10 * s), Holders: nil}}, lossy)
	if vs, _ := check(r, testBounds); len(vs) != 0 {
		t.Errorf("no holder under loss: %v", vs)
	}
}

// L2: a new holder the observer reaches must be announced.
func TestCheckAnnounce(t *testing.T) {
	r := rec3([]holding{{At: t0, Holders: []int{0}}, {At: at(5 * s), Holders: []int{1}}})
	r.GARPs[0] = nil
	vs, _ := check(r, testBounds)
	if !slices.Equal(rules(vs), []string{"L2"}) || vs[0].From != at(5*s) {
		t.Fatalf("violations %v, want L2 at +5s", vs)
	}
	r.GARPs[0] = append(r.GARPs[0], garp{At: at(5*s + 3*time.Millisecond), Node: 1})
	if vs, _ := check(r, testBounds); len(vs) != 0 {
		t.Errorf("announced: %v", vs)
	}
	// The observer cut from node 1: nothing to expect.
	start := r.Changes[0]
	r.GARPs[0] = r.GARPs[0][:1]
	r.Changes = append(r.Changes, then(start, 4*s, "cut", func(w *world) { w.Cut[[2]int{1, observer}] = true }))
	if vs, _ := check(r, testBounds); slices.Contains(rules(vs), "L2") {
		t.Errorf("L2 with the observer cut off: %v", vs)
	}
	// Node 1 killed 144 ms after it took the VIP (which stays on its
	// interface): no announcement to expect.
	r.Changes = r.Changes[:1]
	r.GARPs[0] = nil
	r.Hung[1] = []time.Time{at(5*s + 144*time.Millisecond)}
	if vs, _ := check(r, testBounds); slices.Contains(rules(vs), "L2") {
		t.Errorf("L2 for a holder killed 144ms after it took the VIP: %v", vs)
	}
	r.Hung[1] = []time.Time{at(7 * s)}
	if vs, _ := check(r, testBounds); !slices.Contains(rules(vs), "L2") {
		t.Errorf("no L2 for a holder killed long after the announcement was due: %v", vs)
	}
}

func TestMajorityFor(t *testing.T) {
	w := newWorld(3, [][]int{{150, 100, 0}})
	if !w.majorityFor(0) {
		t.Error("healthy cluster: no majority")
	}
	w.Cut[[2]int{0, 1}] = true // one way is enough to split the pair
	if !w.majorityFor(0) {
		t.Error("{0,2} or {1,2} is a majority with an eligible node")
	}
	w.Down[2] = true
	if w.majorityFor(0) {
		t.Error("node2 down and 0↛1: no connected majority")
	}
	w = newWorld(3, [][]int{{150, 0, 0}})
	w.Drained[0] = true
	if w.majorityFor(0) {
		t.Error("the only eligible node drained: nobody may hold")
	}
}

// A starved holder stalls again and again, each stall a freeze: two
// holders are excused while it is starved and for Grace after, not
// later.
func TestCheckStarvedHolderGrace(t *testing.T) {
	for _, tc := range []struct {
		name    string
		goneAt  time.Duration
		wantS1  bool
		wantDur time.Duration
	}{
		{"during the starvation", 7 * s, false, 0},
		{"within the grace after it", 9*s + 400*time.Millisecond, false, 0},
		{"kept past the grace", 11 * s, true, 1500 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := rec3(nil).Changes[0]
			starved := then(start, 5*s, "starve node0", func(w *world) { w.Starved[0] = true })
			fed := then(starved, 8*s, "end of starve node0", func(w *world) { w.Starved[0] = false })
			r := rec3([]holding{
				{At: t0, Holders: []int{0}},
				{At: at(6 * s), Holders: []int{0, 1}},
				{At: at(tc.goneAt), Holders: []int{1}},
			}, starved, fed)
			vs, st := check(r, testBounds)
			if got := slices.Contains(rules(vs), "S1"); got != tc.wantS1 {
				t.Fatalf("violations %v, want S1 %t", vs, tc.wantS1)
			}
			if tc.wantS1 && vs[0].To.Sub(vs[0].From) != tc.wantDur {
				t.Errorf("S1 for %v, want %v", vs[0].To.Sub(vs[0].From), tc.wantDur)
			}
			if want := at(tc.goneAt).Sub(at(6*s)) - tc.wantDur; st[0].Excused != want {
				t.Errorf("excused %v, want %v", st[0].Excused, want)
			}
		})
	}
}

// A starved holder still holds (it renews its VIPs, slowly): alone, it is
// the one holder L1 wants, not a missing one.
func TestCheckStarvedHolderHolds(t *testing.T) {
	start := rec3(nil).Changes[0]
	starved := then(start, 5*s, "starve node0", func(w *world) { w.Starved[0] = true })
	r := rec3([]holding{{At: t0, Holders: []int{0}}}, starved)
	if vs, _ := check(r, testBounds); len(vs) != 0 {
		t.Errorf("violations with a starved holder alone: %v", vs)
	}
}
