package preflight_test

import (
	"context"
	"testing"

	"github.com/havip/havip/preflight"
)

// prefixHost has a prefix VIP held on eth0 (192.168.0.60/24, as havip
// adds it) and three subnets on three interfaces.
var prefixHost = fakeHost{
	links: []preflight.HostLink{
		{Name: "eth0", Addrs: prefixes("192.168.0.11/24", "192.168.0.60/24", "2001:db8:10::11/64")},
		{Name: "eth1", Addrs: prefixes("172.16.0.5/16")},
		{Name: "eth2", Addrs: prefixes("10.8.0.2/24")},
	},
}

// TestVIPUsesPrefix checks VIPs with a prefix, and VIPs on their own
// interface, against the host: each against its own interface, its
// prefix part of what it is, and its subnet route against the others'.
func TestVIPUsesPrefix(t *testing.T) {
	tests := []struct {
		item string
		want []want
	}{
		// A secondary address of eth0's subnet.
		{`"192.168.0.50/24"`, nil},
		// A subnet of its own: its route comes with it, no warning.
		{`"10.50.0.5/24"`, nil},
		{`"2001:db8:99::5/64"`, nil},
		// What havip added: the VIP with its prefix, on its interface.
		{`"192.168.0.60/24"`, []want{{preflight.Info, "vip", "eth0 holds 192.168.0.60/24 as havip adds a VIP", ""}}},
		// The same address with another prefix is not havip's.
		{`"192.168.0.60"`, []want{{preflight.Error, "vip", `"192.168.0.60" is already an address of this host (192.168.0.60/24 on eth0)`, ""}}},
		{`{ address = "192.168.0.60/24", interface = "eth2" }`, []want{
			{preflight.Error, "vip", `"192.168.0.60" is already an address of this host (192.168.0.60/24 on eth0)`, ""},
			{preflight.Error, "vip", `"192.168.0.60/24" brings a route to 192.168.0.0/24, which overlaps 192.168.0.0/24 of eth0 (192.168.0.11/24): that traffic would leave by eth2 instead`, ""},
		}},
		// The subnet of another interface.
		{`"10.8.0.9/24"`, []want{{preflight.Error, "vip", `instance[0] "web": vips[0]: "10.8.0.9/24" brings a route to 10.8.0.0/24, which overlaps 10.8.0.0/24 of eth2 (10.8.0.2/24): that traffic would leave by eth0 instead; give the VIP the interface of its subnet, or a host address (/32)`, "pick another VIP"}}},
		{`"172.16.1.5/24"`, []want{{preflight.Error, "vip", `which overlaps 172.16.0.0/16 of eth1`, ""}}},
		// On its own interface, it is checked there.
		{`{ address = "10.8.0.9/24", interface = "eth2" }`, nil},
		{`{ address = "172.16.0.9", interface = "eth1", label = "eth1:web" }`, nil},
		{`{ address = "172.16.0.0", interface = "eth1" }`, []want{{preflight.Error, "vip", `"172.16.0.0" is the network address of eth1's subnet 172.16.0.0/16`, ""}}},
		{`{ address = "10.9.9.9", interface = "eth2" }`, []want{{preflight.Warning, "vip", `"10.9.9.9" is outside every IPv4 subnet of eth2 (10.8.0.0/24)`, ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.item, func(t *testing.T) {
			got := preflight.Run(context.Background(), rawVIPConfig(t, tt.item), preflight.Options{Root: t.TempDir(), Host: prefixHost})
			match(t, got, tt.want)
		})
	}
}
