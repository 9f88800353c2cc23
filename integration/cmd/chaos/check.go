package main

import (
	"fmt"
	"slices"
	"time"
)

// The invariants, judged from outside the daemons: the holders sampled
// from every node's addresses against the world the schedule made.
//
//	S1  never two holders of an instance, except that a holder whose
//	    daemon was frozen, starved or killed keeps its VIPs until their
//	    lifetime runs out (Grace after the SIGSTOP or SIGKILL, during a
//	    starvation and Grace after it: a daemon held to a few per cent of
//	    a CPU stalls again and again, each stall a freeze);
//	S2  no VIP on a node whose daemon is stopped or drained for longer
//	    than Grace (SIGKILL) or Release (SIGTERM, maintenance);
//	L1  once the world has not changed for Stable, no random loss is in
//	    force and a majority of the members is healthy and connected
//	    both ways with an eligible node among them: exactly one holder,
//	    reachable from a majority; a handover may leave no holder for
//	    up to Gap;
//	L2  a new holder reachable by the observer announces the VIP (a
//	    gratuitous ARP the observer sees) within Announce.

// bounds are the invariants' allowances.
type bounds struct {
	Grace    time.Duration
	Release  time.Duration
	Stable   time.Duration
	Gap      time.Duration
	Announce time.Duration
}

// holding is a sampled change of an instance's holders: from At on,
// until the next one, Holders had its VIP.
type holding struct {
	At      time.Time
	Holders []int
}

// garp is a gratuitous ARP the observer saw for an instance's VIP.
type garp struct {
	At   time.Time
	Node int
}

// record is everything a run saw.
type record struct {
	Start, End time.Time
	// Changes of the world, the first at Start.
	Changes []change
	// Hung lists, per node, when its daemon was frozen or killed.
	Hung [][]time.Time
	// Holders and GARPs per instance.
	Holders [][]holding
	GARPs   [][]garp
}

// violation is one breach of an invariant, over a span of time.
type violation struct {
	Rule     string // S1, S2, L1, L2
	Inst     int
	From, To time.Time
	Holders  []int
	Detail   string
}

func (v violation) String() string {
	return fmt.Sprintf("%s i%d %v holders %v: %s", v.Rule, v.Inst, v.To.Sub(v.From).Round(time.Millisecond), v.Holders, v.Detail)
}

// instStats are the figures of one instance over a run.
type instStats struct {
	Failovers     int           // changes from one holder to another
	TwoOrMore     time.Duration // time with two holders or more
	Excused       time.Duration // of which one was a frozen, starved or killed holder within Grace
	None          time.Duration // time with no holder
	LongestNone   time.Duration
	ViolationTime time.Duration
}

// check judges a record against the invariants.
func check(r record, b bounds) ([]violation, []instStats) {
	var out []violation
	var stats []instStats
	for k := range r.Holders {
		v, st := checkInstance(r, b, k)
		out = append(out, v...)
		stats = append(stats, st)
	}
	for k := range r.GARPs {
		out = append(out, checkAnnounce(r, b, k)...)
	}
	slices.SortFunc(out, func(a, b violation) int { return a.From.Compare(b.From) })
	return out, stats
}

// checkInstance sweeps the run in spans over which nothing the
// invariants look at changes, and merges the spans that breach an
// invariant in a row.
func checkInstance(r record, b bounds, k int) ([]violation, instStats) {
	points := breakpoints(r, b, k)
	var (
		out   []violation
		st    instStats
		open  = map[string]*violation{}
		prevH = -1
	)
	flush := func(rule string) {
		if v := open[rule]; v != nil {
			if rule != "L1" || v.To.Sub(v.From) > b.Gap {
				out = append(out, *v)
				st.ViolationTime += v.To.Sub(v.From)
			}
			delete(open, rule)
		}
	}
	for j := 0; j+1 < len(points); j++ {
		from, to := points[j], points[j+1]
		hs := holdersAt(r.Holders[k], from)
		c := changeAt(r.Changes, from)
		d := to.Sub(from)
		switch {
		case len(hs) == 0:
			st.None += d
		case len(hs) >= 2:
			st.TwoOrMore += d
		}
		live := liveHolders(r, b, hs, from)
		unexcused := slices.DeleteFunc(slices.Clone(live), func(h int) bool { return starvedSince(r, b, h, from) })
		if len(hs) >= 2 && len(unexcused) < 2 {
			st.Excused += d
		}
		if len(live) == 1 && live[0] != prevH {
			if prevH >= 0 {
				st.Failovers++
			}
			prevH = live[0]
		}
		breaches := map[string]string{}
		if len(unexcused) >= 2 {
			breaches["S1"] = fmt.Sprintf("%d holders not frozen, starved or killed within %v", len(unexcused), b.Grace)
		}
		if why := stale(r, b, c, hs, from); why != "" {
			breaches["S2"] = why
		}
		if why := unavailable(r, b, c, k, live, from); why != "" {
			breaches["L1"] = why
		}
		for _, rule := range []string{"S1", "S2", "L1"} {
			why, bad := breaches[rule]
			if !bad {
				flush(rule)
				continue
			}
			if v := open[rule]; v != nil {
				v.To = to
				continue
			}
			open[rule] = &violation{Rule: rule, Inst: k, From: from, To: to, Holders: hs, Detail: why + "; " + c.W.String()}
		}
	}
	for _, rule := range []string{"S1", "S2", "L1"} {
		flush(rule)
	}
	st.LongestNone = longestNone(r.Holders[k], r.End)
	return out, st
}

// breakpoints are the times at which something the checks of instance k
// look at may change, sorted, from Start to End.
func breakpoints(r record, b bounds, k int) []time.Time {
	ps := []time.Time{r.Start, r.End}
	for _, h := range r.Holders[k] {
		ps = append(ps, h.At)
	}
	for j, c := range r.Changes {
		ps = append(ps, c.At, c.At.Add(b.Stable))
		if j == 0 {
			continue
		}
		prev := r.Changes[j-1].W
		for i := range c.W.nodes() {
			if c.W.Down[i] && !prev.Down[i] || c.W.Drained[i] && !prev.Drained[i] {
				ps = append(ps, c.At.Add(b.Release), c.At.Add(b.Grace))
			}
			if prev.Starved[i] && !c.W.Starved[i] {
				ps = append(ps, c.At.Add(b.Grace))
			}
		}
	}
	for _, hung := range r.Hung {
		for _, t := range hung {
			ps = append(ps, t.Add(b.Grace))
		}
	}
	ps = slices.DeleteFunc(ps, func(t time.Time) bool { return t.Before(r.Start) || t.After(r.End) })
	slices.SortFunc(ps, func(a, b time.Time) int { return a.Compare(b) })
	return slices.CompactFunc(ps, func(a, b time.Time) bool { return a.Equal(b) })
}

// holdersAt returns the holders sampled last at or before t.
func holdersAt(hs []holding, t time.Time) []int {
	i, found := slices.BinarySearchFunc(hs, t, func(h holding, t time.Time) int { return h.At.Compare(t) })
	if !found {
		i--
	}
	if i < 0 {
		return nil
	}
	return hs[i].Holders
}

// changeAt returns the world change in force at t.
func changeAt(cs []change, t time.Time) change {
	i, found := slices.BinarySearchFunc(cs, t, func(c change, t time.Time) int { return c.At.Compare(t) })
	if !found {
		i--
	}
	return cs[max(i, 0)]
}

// hungSince reports whether node i's daemon was frozen or killed within
// Grace before t: the VIPs it had may still be on its interface.
func hungSince(r record, b bounds, i int, t time.Time) bool {
	for _, h := range r.Hung[i] {
		if !h.After(t) && t.Sub(h) < b.Grace {
			return true
		}
	}
	return false
}

// hungWithin reports whether node i's daemon was frozen or killed
// between from and to.
func hungWithin(r record, i int, from, to time.Time) bool {
	return slices.ContainsFunc(r.Hung[i], func(h time.Time) bool { return !h.Before(from) && !h.After(to) })
}

// starvedSince reports whether node i's daemon was starved at some time
// within Grace before t: it may have stalled, each stall a freeze. A
// starved holder still holds (it renews, slowly), so L1 counts it; only
// S1 excuses it.
func starvedSince(r record, b bounds, i int, t time.Time) bool {
	if changeAt(r.Changes, t.Add(-b.Grace)).W.Starved[i] {
		return true
	}
	for _, c := range r.Changes {
		if c.At.After(t.Add(-b.Grace)) && !c.At.After(t) && c.W.Starved[i] {
			return true
		}
	}
	return false
}

// liveHolders are the holders but those whose daemon hung within Grace.
func liveHolders(r record, b bounds, hs []int, t time.Time) []int {
	var live []int
	for _, h := range hs {
		if !hungSince(r, b, h, t) {
			live = append(live, h)
		}
	}
	return live
}

// stale says why a holder should have let go by t (S2), or "".
func stale(r record, b bounds, c change, hs []int, t time.Time) string {
	for _, h := range hs {
		switch {
		case c.W.Down[h] && !hungSince(r, b, h, t) && t.Sub(sinceOf(r, h, t, func(w world) bool { return w.Down[h] })) >= b.Release:
			return fmt.Sprintf("node%d holds with its daemon stopped", h)
		case c.W.Drained[h] && !c.W.Frozen[h] && !c.W.Down[h] && t.Sub(sinceOf(r, h, t, func(w world) bool { return w.Drained[h] })) >= b.Release:
			return fmt.Sprintf("node%d holds while drained", h)
		}
	}
	return ""
}

// sinceOf returns when cond last became true before t (cond holds at t).
func sinceOf(r record, h int, t time.Time, cond func(world) bool) time.Time {
	since := r.Start
	for _, c := range r.Changes {
		if c.At.After(t) {
			break
		}
		if !cond(c.W) {
			since = time.Time{}
		} else if since.IsZero() {
			since = c.At
		}
	}
	return since
}

// unavailable says why instance k is not held as L1 wants at t, or "".
func unavailable(r record, b bounds, c change, k int, live []int, t time.Time) string {
	if t.Sub(c.At) < b.Stable || c.W.lossy() || !c.W.majorityFor(k) {
		return ""
	}
	switch len(live) {
	case 0:
		return "no holder with a majority up and connected"
	case 1:
		h := live[0]
		if c.W.Down[h] || c.W.Frozen[h] || c.W.LinkDown[h] {
			return fmt.Sprintf("the holder node%d cannot serve", h)
		}
		reach := 1
		for j := range c.W.nodes() {
			if j != h && c.W.connected(h, j) && c.W.healthy(j) {
				reach++
			}
		}
		if reach < c.W.nodes()/2+1 {
			return fmt.Sprintf("the holder node%d is cut off from the majority", h)
		}
	}
	return ""
}

// longestNone is the longest time with no holder.
func longestNone(hs []holding, end time.Time) time.Duration {
	var longest time.Duration
	for j, h := range hs {
		if len(h.Holders) != 0 {
			continue
		}
		next := end
		if j+1 < len(hs) {
			next = hs[j+1].At
		}
		longest = max(longest, next.Sub(h.At))
	}
	return longest
}

// checkAnnounce checks L2 for instance k: each new single holder that
// keeps the VIP for Announce, with the observer reaching it both ways
// and no loss on either side all along, is announced within Announce. A
// holder whose daemon is frozen or killed within that time is not held
// to it: its VIP stays on the interface (until its lifetime runs out),
// but no daemon can promise a gratuitous ARP before a kill -9 that may
// come a moment after it took the VIP.
func checkAnnounce(r record, b bounds, k int) []violation {
	var out []violation
	hs := r.Holders[k]
	prev := -1
	for j, h := range hs {
		if len(h.Holders) != 1 {
			prev = -1
			continue
		}
		node := h.Holders[0]
		if node == prev {
			continue
		}
		prev = node
		if !h.At.After(r.Start) {
			continue // held before the run began
		}
		until := r.End
		if j+1 < len(hs) {
			until = hs[j+1].At
		}
		end := h.At.Add(b.Announce)
		if until.Before(end) || !observerReaches(r, node, h.At, end) || hungWithin(r, node, h.At, end) {
			continue
		}
		if !slices.ContainsFunc(r.GARPs[k], func(g garp) bool {
			return g.Node == node && !g.At.Before(h.At.Add(-b.Announce)) && !g.At.After(end)
		}) {
			out = append(out, violation{Rule: "L2", Inst: k, From: h.At, To: end, Holders: h.Holders,
				Detail: fmt.Sprintf("node%d took the VIP and the observer saw no gratuitous ARP from it within %v", node, b.Announce)})
		}
	}
	return out
}

// observerReaches reports whether the observer and node exchanged frames
// both ways without loss from from to to.
func observerReaches(r record, node int, from, to time.Time) bool {
	ok := func(w world) bool {
		return w.connected(observer, node) && w.Loss[observer] == 0 && w.Loss[node] == 0 && !w.LinkDown[node]
	}
	if !ok(changeAt(r.Changes, from).W) {
		return false
	}
	for _, c := range r.Changes {
		if c.At.After(from) && !c.At.After(to) && !ok(c.W) {
			return false
		}
	}
	return true
}
