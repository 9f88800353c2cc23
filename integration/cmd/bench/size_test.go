package main

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/havip/havip/config"
	"github.com/havip/havip/internal/testbed"
)

func TestParseSizes(t *testing.T) {
	tests := []struct {
		list      string
		instances int
		want      []size
		wantErr   string
	}{
		{"2,3", 1, []size{{2, 1}, {3, 1}}, ""},
		{"3, 10, 10x8", 1, []size{{3, 1}, {10, 1}, {10, 8}}, ""},
		{"3,10X8", 4, []size{{3, 4}, {10, 8}}, ""},
		{"1", 1, nil, "want 2..10 nodes"},
		{"11", 1, nil, "want 2..10 nodes"},
		{"3x9", 1, nil, "want 1..8 instances"},
		{"3x0", 1, nil, "want 1..8 instances"},
		{"3xa", 1, nil, "want N or NxI"},
		{"three", 1, nil, "want N or NxI"},
		{"3,3x1", 1, nil, "3x1 given twice"},
		{"", 1, nil, "no cluster size"},
		{"3", 9, nil, "-instances 9: want 1..8"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q/%d", tt.list, tt.instances), func(t *testing.T) {
			got, err := parseSizes(tt.list, tt.instances)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseSizes = %v, %v; want an error with %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(size{})); diff != "" {
				t.Errorf("parseSizes (-want +got):\n%s", diff)
			}
		})
	}
	if maxNodes > testbed.MaxNodes {
		t.Errorf("maxNodes %d exceeds the test bed's %d", maxNodes, testbed.MaxNodes)
	}
}

func TestPriority(t *testing.T) {
	// Two and three nodes keep the priorities of every earlier run.
	for _, z := range []size{{2, 1}, {3, 1}} {
		var got []int
		for i := range z.nodes {
			got = append(got, z.priority(i, 0))
		}
		if want := []int{150, 100, 50}[:z.nodes]; !slices.Equal(got, want) {
			t.Errorf("%s: priorities %v, want %v", z, got, want)
		}
	}
	z := size{10, 8}
	for k := range z.instances {
		var prios []int
		for i := range z.nodes {
			prios = append(prios, z.priority(i, k))
		}
		// The preferred node ranks first, the next node second: the one a
		// failover of the preferred node moves the instance to.
		if top := slices.Index(prios, slices.Max(prios)); top != k {
			t.Errorf("instance %d: highest priority on node %d, want %d (%v)", k, top, k, prios)
		}
		if next := (k + 1) % z.nodes; prios[next] != 100 {
			t.Errorf("instance %d: node %d has priority %d, want 100 (%v)", k, next, prios[next], prios)
		}
		sorted := slices.Clone(prios)
		slices.Sort(sorted)
		if len(slices.Compact(sorted)) != z.nodes || sorted[0] < 1 || sorted[len(sorted)-1] > 254 {
			t.Errorf("instance %d: priorities %v, want distinct, in 1..254 (VRRP's range)", k, prios)
		}
	}
}

func TestHavipConfigsLoad(t *testing.T) {
	z := size{10, 8}
	dir := t.TempDir()
	for i := range z.nodes {
		text := testbed.NodeConfig(i, havipOpts(z, "fast", dir))
		cfg, err := config.Parse([]byte(text), fmt.Sprintf("node%d.toml", i))
		if err != nil {
			t.Fatalf("node %d: %v\n%s", i, err, text)
		}
		if len(cfg.Instances) != z.instances {
			t.Fatalf("node %d: %d instances, want %d", i, len(cfg.Instances), z.instances)
		}
		for k, in := range cfg.Instances {
			if in.Name != instanceName(k) || int(in.Priority) != z.priority(i, k) {
				t.Errorf("node %d, instance %d: %s at priority %d, want %s at %d", i, k, in.Name, in.Priority, instanceName(k), z.priority(i, k))
			}
			if want := []netip.Prefix{testbed.HostPrefix(testbed.VIP4(k))}; !slices.Equal(in.VIPs, want) {
				t.Errorf("node %d, instance %d: VIPs %v, want %v", i, k, in.VIPs, want)
			}
		}
	}
}

func TestKeepalivedConfig(t *testing.T) {
	one := keepalivedConfig(size{3, 1}, 1, "0.1")
	for _, want := range []string{"vrrp_version 3", "priority 100", "advert_int 0.1", "198.18.0.100/32 dev eth0", "interface eth0", "virtual_router_id 51"} {
		if !strings.Contains(one, want) {
			t.Errorf("keepalived config lacks %q:\n%s", want, one)
		}
	}
	z := size{10, 8}
	got := keepalivedConfig(z, 3, "1")
	re := regexp.MustCompile(`(?s)vrrp_instance (\S+) \{.*?virtual_router_id (\d+).*?priority (\d+).*?advert_int 1\n.*?(\S+) dev eth0`)
	var blocks []string
	for _, m := range re.FindAllStringSubmatch(got, -1) {
		blocks = append(blocks, strings.Join(m[1:], " "))
	}
	var want []string
	for k := range z.instances {
		want = append(want, fmt.Sprintf("vip%d %d %d 198.18.0.%d/32", k, 51+k, z.priority(3, k), 100+k))
	}
	if diff := cmp.Diff(want, blocks); diff != "" {
		t.Errorf("vrrp_instance blocks of node 3 (-want +got):\n%s\n%s", diff, got)
	}
}

func TestPreferredHolders(t *testing.T) {
	z := size{3, 4}
	held := map[netip.Addr][]int{testbed.VIP4(0): {0}, testbed.VIP4(1): {1}, testbed.VIP4(2): {2}, testbed.VIP4(3): {0}}
	if err := preferredHolders(z, held); err != nil {
		t.Errorf("steady cluster: %v", err)
	}
	held[testbed.VIP4(3)] = []int{0, 1}
	if err := preferredHolders(z, held); err == nil || !strings.Contains(err.Error(), "instance vip3 (198.18.0.103): holders [0 1], want [0]") {
		t.Errorf("two holders of vip3: %v", err)
	}
	delete(held, testbed.VIP4(3))
	if err := preferredHolders(z, held); err == nil {
		t.Error("vip3 held by nobody passed")
	}
}

func TestCountChanges(t *testing.T) {
	a, b := testbed.VIP4(0), testbed.VIP4(1)
	first := map[netip.Addr][]int{a: {0}, b: {1}}
	if n := countChanges(nil, first); n != 0 {
		t.Errorf("first sample: %d changes, want 0", n)
	}
	if n := countChanges(first, map[netip.Addr][]int{a: {0}, b: {1}}); n != 0 {
		t.Errorf("same holders: %d changes, want 0", n)
	}
	if n := countChanges(first, map[netip.Addr][]int{a: {0, 2}, b: {}}); n != 2 {
		t.Errorf("both changed: %d changes, want 2", n)
	}
}
