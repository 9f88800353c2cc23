package testbed

import (
	"net"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func mustMAC(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

// Captured from iproute2 6.1 (ip -j addr show dev eth0) in a node namespace
// holding a VIP, with the IPv6 VIP still tentative.
const addrJSON = `[{"ifindex":2,"link_index":3,"ifname":"eth0","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"noqueue","operstate":"UP","group":"default","txqlen":1000,"link_type":"ether","address":"02:af:40:52:22:73","broadcast":"ff:ff:ff:ff:ff:ff","link_netnsid":0,"addr_info":[{"family":"inet","local":"198.18.0.10","prefixlen":24,"scope":"global","label":"eth0","valid_life_time":4294967295,"preferred_life_time":4294967295},{"family":"inet","local":"198.18.0.100","prefixlen":32,"scope":"global","label":"eth0","valid_life_time":4294967295,"preferred_life_time":4294967295},{"family":"inet6","local":"fd00:4856::10","prefixlen":64,"scope":"global","nodad":true,"valid_life_time":4294967295,"preferred_life_time":4294967295},{"family":"inet6","local":"fd00:4856::100","prefixlen":128,"scope":"global","tentative":true,"valid_life_time":4294967295,"preferred_life_time":4294967295},{"family":"inet6","local":"fe80::af:40ff:fe52:2273","prefixlen":64,"scope":"link","valid_life_time":4294967295,"preferred_life_time":4294967295}]}]`

// A link with its port down at the switch (ip -j link show dev eth0).
const linkJSON = `[{"ifindex":2,"link_index":3,"ifname":"eth0","flags":["NO-CARRIER","BROADCAST","MULTICAST","UP"],"mtu":1500,"qdisc":"noqueue","operstate":"DOWN","linkmode":"DEFAULT","group":"default","txqlen":1000,"link_type":"ether","address":"02:af:40:52:22:73","broadcast":"ff:ff:ff:ff:ff:ff","link_netnsid":0}]`

func TestParseLinks(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []Link
		carrier bool
	}{
		{
			name: "addr show",
			in:   addrJSON,
			want: []Link{{
				Name:      "eth0",
				MAC:       mustMAC("02:af:40:52:22:73"),
				Flags:     []string{"BROADCAST", "MULTICAST", "UP", "LOWER_UP"},
				OperState: "UP",
				Addrs: []IfAddr{
					{Prefix: netip.MustParsePrefix("198.18.0.10/24"), Scope: "global"},
					{Prefix: netip.MustParsePrefix("198.18.0.100/32"), Scope: "global"},
					{Prefix: netip.MustParsePrefix("fd00:4856::10/64"), Scope: "global", NoDAD: true},
					{Prefix: netip.MustParsePrefix("fd00:4856::100/128"), Scope: "global", Tentative: true},
					{Prefix: netip.MustParsePrefix("fe80::af:40ff:fe52:2273/64"), Scope: "link"},
				},
			}},
			carrier: true,
		},
		{
			name: "no carrier",
			in:   linkJSON,
			want: []Link{{
				Name:      "eth0",
				MAC:       mustMAC("02:af:40:52:22:73"),
				Flags:     []string{"NO-CARRIER", "BROADCAST", "MULTICAST", "UP"},
				OperState: "DOWN",
			}},
		},
		{
			name: "empty objects skipped",
			in:   `[{},{"ifname":"eth0","addr_info":[{}]}]`,
			want: []Link{{Name: "eth0"}},
		},
		{name: "none", in: `[]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseLinks([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
				t.Errorf("parseLinks (-want +got):\n%s", diff)
			}
			if len(got) == 1 && got[0].Carrier() != tt.carrier {
				t.Errorf("Carrier() = %t, want %t", got[0].Carrier(), tt.carrier)
			}
		})
	}
}

func TestLinkHas(t *testing.T) {
	links, err := parseLinks([]byte(addrJSON))
	if err != nil {
		t.Fatal(err)
	}
	a, ok := links[0].Has(netip.MustParseAddr("fd00:4856::100"))
	if !ok || !a.Tentative {
		t.Errorf("Has(fd00:4856::100) = %+v, %t; want a tentative address", a, ok)
	}
	if _, ok := links[0].Has(netip.MustParseAddr("198.18.0.101")); ok {
		t.Error("Has(198.18.0.101) = true")
	}
}

func TestParseLinksErrors(t *testing.T) {
	for _, in := range []string{
		`not json`,
		`[{"ifname":"eth0","address":"zz"}]`,
		`[{"ifname":"eth0","addr_info":[{"local":"1.2.3","prefixlen":24}]}]`,
		`[{"ifname":"eth0","addr_info":[{"local":"1.2.3.4","prefixlen":33}]}]`,
	} {
		if _, err := parseLinks([]byte(in)); err == nil {
			t.Errorf("parseLinks(%s) succeeded", in)
		}
	}
}

func TestParseNeighs(t *testing.T) {
	in := `[{"dst":"198.18.0.100","lladdr":"02:af:40:52:22:73","state":["REACHABLE"]},` +
		`{"dst":"198.18.0.10","state":["INCOMPLETE"]},` +
		`{"dst":"fd00:4856::100","lladdr":"02:00:00:00:00:01","router":true,"state":["STALE"]}]`
	got, err := parseNeighs([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Neigh{
		{Dst: netip.MustParseAddr("198.18.0.100"), LLAddr: mustMAC("02:af:40:52:22:73"), State: []string{"REACHABLE"}},
		{Dst: netip.MustParseAddr("198.18.0.10"), State: []string{"INCOMPLETE"}},
		{Dst: netip.MustParseAddr("fd00:4856::100"), LLAddr: mustMAC("02:00:00:00:00:01"), State: []string{"STALE"}},
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("parseNeighs (-want +got):\n%s", diff)
	}
	if _, err := parseNeighs([]byte(`[{"dst":"x"}]`)); err == nil {
		t.Error("parseNeighs accepted a bad dst")
	}
}

func TestParseNetnsList(t *testing.T) {
	got := parseNetnsList("hvt-1-1-obs (id: 2)\nhvt-1-1-n0 (id: 1)\nplain\n\n")
	if diff := cmp.Diff([]string{"hvt-1-1-obs", "hvt-1-1-n0", "plain"}, got); diff != "" {
		t.Errorf("parseNetnsList (-want +got):\n%s", diff)
	}
}

func TestRunPID(t *testing.T) {
	tests := []struct {
		name string
		pid  int
		ok   bool
	}{
		{"hvt-1234-1-n0", 1234, true},
		{"hvt-1234-12-sw", 1234, true},
		{"hvt-x-1-n0", 0, false},
		{"hvt-1234", 0, false},
		{"demo-1234-1-n0", 0, false},
		{"hvt--1-n0", 0, false},
	}
	for _, tt := range tests {
		pid, ok := runPID(tt.name)
		if pid != tt.pid || ok != tt.ok {
			t.Errorf("runPID(%q) = %d, %t; want %d, %t", tt.name, pid, ok, tt.pid, tt.ok)
		}
	}
}

func TestCheckPrefix(t *testing.T) {
	for _, p := range []string{"hvt-1-1", "demo", "a.b_c-1"} {
		if err := checkPrefix(p); err != nil {
			t.Errorf("checkPrefix(%q): %v", p, err)
		}
	}
	for _, p := range []string{"", "ab", "has space", "a/b", "0123456789012345678901234567890123456789x"} {
		if err := checkPrefix(p); err == nil {
			t.Errorf("checkPrefix(%q) accepted", p)
		}
	}
}
