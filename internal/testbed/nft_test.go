package testbed

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

// reaches pings to from host ns until a reply comes back or wait passes.
// A neighbour entry left FAILED by an earlier cut makes a single ping end
// at once with "host unreachable", so it pings again.
func reaches(t *testing.T, n *Net, ns string, to netip.Addr, wait time.Duration) bool {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := n.Exec(ctx, ns, "ping", "-4", "-n", "-q", "-c", "1", "-i", "0.05", "-w", "1", to.String())
		cancel()
		if err == nil {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func requireNft(t *testing.T) {
	t.Helper()
	if err := NftAvailable(); err != nil {
		t.Skip(err)
	}
}

func TestPartitionIsolateHeal(t *testing.T) {
	requireNamespaces(t)
	requireNft(t)
	n := newNet(t, Options{Nodes: 3})
	obs := n.Observer.NS
	addr := func(i int) netip.Addr { return n.Nodes[i].Addr }
	type path struct {
		from string
		to   netip.Addr
		want bool
	}
	check := func(step string, paths []path) {
		t.Helper()
		for _, p := range paths {
			wait := time.Duration(0)
			if p.want {
				wait = 4 * time.Second
			}
			if got := reaches(t, n, p.from, p.to, wait); got != p.want {
				rules, _ := n.FaultRules()
				t.Errorf("%s: %s → %s reachable %t, want %t\n%s", step, p.from, p.to, got, p.want, rules)
			}
		}
	}

	if err := n.Partition([]int{0}, []int{1, 2}); err != nil {
		t.Fatal(err)
	}
	check("partition {0} {1,2}", []path{
		{n.Nodes[0].NS, addr(1), false},
		{n.Nodes[2].NS, addr(0), false},
		{n.Nodes[1].NS, addr(2), true},
		{obs, addr(0), true},
		{obs, addr(1), true},
	})

	// A new partition replaces the old one; a node in no group is alone.
	if err := n.Partition([]int{0, 1}); err != nil {
		t.Fatal(err)
	}
	check("partition {0,1} {2}", []path{
		{n.Nodes[0].NS, addr(1), true},
		{n.Nodes[1].NS, addr(2), false},
		{obs, addr(2), true},
	})

	if err := n.Heal(); err != nil {
		t.Fatal(err)
	}
	if err := n.Isolate(1); err != nil {
		t.Fatal(err)
	}
	check("isolate 1", []path{
		{n.Nodes[0].NS, addr(1), false},
		{obs, addr(1), false},
		{n.Nodes[0].NS, addr(2), true},
		{obs, addr(0), true},
	})

	if err := n.Heal(); err != nil {
		t.Fatal(err)
	}
	check("healed", []path{
		{n.Nodes[0].NS, addr(1), true},
		{n.Nodes[1].NS, addr(2), true},
		{obs, addr(1), true},
	})
	rules, err := n.FaultRules()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(rules, "drop") {
		t.Errorf("rules left after Heal:\n%s", rules)
	}

	for _, bad := range [][][]int{{{0}, {0, 1}}, {{3}}} {
		if err := n.Partition(bad...); err == nil {
			t.Errorf("Partition(%v) succeeded", bad)
		}
	}
	if err := n.Loss(101); err == nil {
		t.Error("Loss(101) succeeded")
	}
}

func TestLoss(t *testing.T) {
	requireNamespaces(t)
	requireNft(t)
	n := newNet(t, Options{Nodes: 1})
	ping := func(count int) (lost int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, _ := n.Exec(ctx, n.Observer.NS, "ping", "-4", "-n", "-q", "-c", fmt.Sprint(count), "-i", "0.005", "-W", "1", n.Nodes[0].Addr.String())
		var sent, recv int
		for _, line := range strings.Split(string(out), "\n") {
			if _, err := fmt.Sscanf(line, "%d packets transmitted, %d received", &sent, &recv); err == nil {
				return sent - recv
			}
		}
		t.Fatalf("no ping summary in %q", out)
		return 0
	}
	if err := n.Loss(100); err != nil {
		t.Fatal(err)
	}
	if lost := ping(5); lost != 5 {
		t.Errorf("100%% loss: %d of 5 echoes lost", lost)
	}
	// Request and reply each cross the bridge once: 1-(0.8)² = 36% of the
	// echoes are lost on average; 400 echoes keep the count well inside
	// 15%..60%.
	if err := n.Loss(20); err != nil {
		t.Fatal(err)
	}
	if lost := ping(400); lost < 60 || lost > 240 {
		t.Errorf("20%% loss: %d of 400 echoes lost, want about 144", lost)
	}
	if err := n.Loss(0); err != nil {
		t.Fatal(err)
	}
	if lost := ping(20); lost != 0 {
		t.Errorf("no loss: %d of 20 echoes lost", lost)
	}
}

func TestSampler(t *testing.T) {
	requireNamespaces(t)
	n := newNet(t, Options{Nodes: 3})
	vip := VIP4(0)
	s, err := n.SampleHolders(vip, 5*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	add := func(i int) {
		t.Helper()
		if _, err := n.Exec(ctx, n.Nodes[i].NS, "ip", "addr", "add", HostPrefix(vip).String(), "dev", "eth0"); err != nil {
			t.Fatal(err)
		}
	}
	del := func(i int) {
		t.Helper()
		if _, err := n.Exec(ctx, n.Nodes[i].NS, "ip", "addr", "del", HostPrefix(vip).String(), "dev", "eth0"); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(50 * time.Millisecond)
	add(1)
	time.Sleep(100 * time.Millisecond)
	add(2)
	time.Sleep(100 * time.Millisecond)
	del(1)
	time.Sleep(100 * time.Millisecond)
	r := s.Stop()
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	t.Logf("%d samples, period %v, max gap %v", r.Samples, r.Period, r.MaxGap)
	if r.Period <= 0 || r.Period > 20*time.Millisecond {
		t.Errorf("mean sampling period %v, want at most 20ms", r.Period)
	}
	var seq [][]int
	for _, c := range r.Changes {
		seq = append(seq, c.Holders)
	}
	if got, want := fmt.Sprint(seq), "[[] [1] [1 2] [2]]"; got != want {
		t.Errorf("changes %s, want %s", got, want)
	}
	if len(r.Overlaps) != 1 || fmt.Sprint(r.Overlaps[0].Holders) != "[1 2]" {
		t.Fatalf("overlaps %v, want one of [1 2]", r.Overlaps)
	}
	if d := r.Overlaps[0].Min(); d < 50*time.Millisecond || r.Overlaps[0].Max() < d {
		t.Errorf("overlap %v: want about 100ms", r.Overlaps[0])
	}
}

func TestLoad(t *testing.T) {
	l, err := StartLoad(2, 300*time.Millisecond)
	if err != nil {
		t.Skip(err)
	}
	pids := l.PIDs()
	if len(pids) != 2 {
		t.Fatalf("pids %v", pids)
	}
	select {
	case <-l.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("load still running 5s after its 300ms deadline")
	}
	for _, pid := range pids {
		if processAlive(pid) {
			t.Errorf("busy loop %d still alive", pid)
		}
	}
	l.Stop()
	if _, err := StartLoad(0, time.Second); err == nil {
		t.Error("StartLoad(0) succeeded")
	}
}

// TestFaultRules checks the rules the fault state renders to, without
// nftables: each fault's rules, in their order, and how the one-way cuts
// add up.
func TestFaultRules(t *testing.T) {
	n := &Net{
		Nodes:    []Host{{Index: 0, Port: "p0"}, {Index: 1, Port: "p1"}, {Index: 2, Port: "p2"}},
		Observer: Host{Index: ObserverIndex, Port: "pobs"},
	}
	traffic := func(from, to string) []string {
		on := fmt.Sprintf("iifname %q oifname %q", from, to)
		return []string{
			on + " ether type != { arp, ip6 } drop",
			on + " ether type ip6 ip6 nexthdr != ipv6-icmp drop",
			on + " ether type ip6 icmpv6 type != { nd-neighbor-solicit, nd-neighbor-advert } drop",
		}
	}
	cat := func(parts ...[]string) []string {
		var out []string
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		f    faults
		want []string
	}{
		{"none", faults{}, nil},
		{
			"one way, every frame",
			faults{oneway: map[[2]int]oneWayCut{{0, 2}: cutAll, {0, 1}: cutAll}},
			[]string{`iifname "p0" oifname "p1" drop`, `iifname "p0" oifname "p2" drop`},
		},
		{
			"one way, traffic",
			faults{oneway: map[[2]int]oneWayCut{{1, 0}: cutTraffic, {2, 0}: cutTraffic}},
			cat(traffic("p1", "p0"), traffic("p2", "p0")),
		},
		{
			"observer",
			faults{oneway: map[[2]int]oneWayCut{{0, ObserverIndex}: cutAll, {ObserverIndex, 0}: cutTraffic}},
			cat(traffic("pobs", "p0"), []string{`iifname "p0" oifname "pobs" drop`}),
		},
		{
			"loss on some ports",
			faults{portLoss: map[int]int{ObserverIndex: 100, 1: 30}},
			[]string{`iifname "pobs" drop`, `iifname "p1" numgen random mod 100 < 30 drop`},
		},
		{
			"every fault at once",
			faults{
				isolated: map[int]bool{2: true},
				group:    map[int]int{0: 0, 1: 0, 2: 1},
				oneway:   map[[2]int]oneWayCut{{1, 0}: cutAll},
				loss:     5,
			},
			[]string{
				`iifname "p2" drop`, `oifname "p2" drop`,
				`iifname "p0" oifname "p2" drop`, `iifname "p1" oifname "p2" drop`,
				`iifname "p2" oifname "p0" drop`, `iifname "p2" oifname "p1" drop`,
				`iifname "p1" oifname "p0" drop`,
				`iifname "p0" numgen random mod 100 < 5 drop`, `iifname "p1" numgen random mod 100 < 5 drop`,
				`iifname "p2" numgen random mod 100 < 5 drop`, `iifname "pobs" numgen random mod 100 < 5 drop`,
			},
		},
	} {
		if got := n.faultRules(tc.f); !slices.Equal(got, tc.want) {
			t.Errorf("%s: rules\n%s\nwant\n%s", tc.name, strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
		}
	}

	// The cuts add up, skip a node's own port and keep the larger cut
	// of a pair, and adding one leaves an earlier state as it was.
	var f faults
	f.addOneWay(cutTraffic, []int{0, 1}, []int{1, 2})
	before := f
	f.addOneWay(cutAll, []int{0}, []int{2})
	f.addOneWay(cutTraffic, []int{0}, []int{2})
	if len(before.oneway) != 3 || before.oneway[[2]int{0, 2}] != cutTraffic {
		t.Errorf("adding cuts changed the earlier state: %v", before.oneway)
	}
	want := cat([]string{}, traffic("p0", "p1"), []string{`iifname "p0" oifname "p2" drop`}, traffic("p1", "p2"))
	if got := n.faultRules(f); !slices.Equal(got, want) {
		t.Errorf("added cuts: rules\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, bad := range [][2][]int{{{3}, {0}}, {{0}, {-2}}} {
		if err := n.CutOneWay(bad[0], bad[1]); err == nil || !strings.Contains(err.Error(), "no node") {
			t.Errorf("CutOneWay(%v, %v) = %v, want a no-node error", bad[0], bad[1], err)
		}
	}
}

// TestSetFaultsState checks the state SetFaults builds (the rules follow
// from it as above) and that a bad fault leaves the state in force.
func TestSetFaultsState(t *testing.T) {
	n := &Net{Nodes: []Host{{Index: 0, Port: "p0"}, {Index: 1, Port: "p1"}}, Observer: Host{Index: ObserverIndex, Port: "pobs"}}
	for _, f := range []Faults{
		{Cuts: []Cut{{From: []int{0}, To: []int{2}}}},
		{Loss: map[int]int{5: 10}},
		{Loss: map[int]int{0: 101}},
	} {
		if err := n.SetFaults(f); err == nil || !strings.Contains(err.Error(), "set faults") {
			t.Errorf("SetFaults(%+v) = %v, want an error", f, err)
		}
	}
	if len(n.faults.oneway) != 0 || len(n.faults.portLoss) != 0 {
		t.Errorf("state after failed SetFaults: %+v", n.faults)
	}
}
