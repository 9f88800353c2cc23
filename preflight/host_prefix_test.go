package preflight_test

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/havip/havip/config"
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

// ownHost has, on eth0, its primary address 192.0.2.2/24 (permanent),
// an address of a DHCP lease, a VIP with a prefix as havip adds it (for
// a second) and a permanent host address (/32).
var ownHost = fakeHost{
	links: []preflight.HostLink{{
		Name:  "eth0",
		Addrs: prefixes("192.0.2.2/24", "192.0.2.3/24", "192.0.2.60/24", "192.0.2.22/32"),
		Lifetimes: map[netip.Prefix]time.Duration{
			netip.MustParsePrefix("192.0.2.2/24"):  preflight.Permanent,
			netip.MustParsePrefix("192.0.2.3/24"):  86390 * time.Second,
			netip.MustParsePrefix("192.0.2.60/24"): time.Second,
			netip.MustParsePrefix("192.0.2.22/32"): preflight.Permanent,
		},
	}},
}

// lifetimeConfig is one instance on eth0 with vip, and
// cluster.tuning.address_lifetime set to lifetime unless it is "".
func lifetimeConfig(t *testing.T, vip, lifetime string) *config.Config {
	t.Helper()
	tuning := ""
	if lifetime != "" {
		tuning = "[cluster.tuning]\naddress_lifetime = \"" + lifetime + "\"\n"
	}
	return tunedVIPConfig(t, tuning, `"`+vip+`"`)
}

// TestVIPUsesHostsOwn: a VIP with a prefix that is the host's own
// address on its interface — permanent, or living longer than havip adds
// its VIPs for — is refused: havip would remove it at start-up. One
// that lives as havip adds it is a note, as is a host address (/32).
// With address_lifetime "0s" havip's VIPs are permanent too: a
// permanent match is only a warning, a DHCP lease's address still an
// error.
func TestVIPUsesHostsOwn(t *testing.T) {
	tests := []struct {
		vip, lifetime string
		want          []want
		refused       string
	}{
		{"192.0.2.2/24", "", []want{{preflight.Error, "vip", `instance[0] "web": vips[0]: "192.0.2.2/24" is already an address of this host (192.0.2.2/24 on eth0, permanent), not a VIP havip added (havip adds its VIPs for address_lifetime 1s): havip would remove it at start-up and on release; a VIP must be an address no member owns`, "pick another VIP"}},
			`havip.toml: instance[0] "web": vips[0]: "192.0.2.2/24" is already an address of this host (192.0.2.2/24 on eth0, permanent)`},
		{"192.0.2.3/24", "", []want{{preflight.Error, "vip", `"192.0.2.3/24" is already an address of this host (192.0.2.3/24 on eth0, valid for 23h59m50s more), not a VIP havip added (havip adds its VIPs for address_lifetime 1s)`, ""}},
			`"192.0.2.3/24" is already an address of this host`},
		{"192.0.2.60/24", "", []want{{preflight.Info, "vip", "eth0 holds 192.0.2.60/24 as havip adds a VIP", ""}}, ""},
		{"192.0.2.22", "", []want{{preflight.Info, "vip", "eth0 holds 192.0.2.22/32 as havip adds a VIP", ""}}, ""},
		// A longer lifetime: the VIP left by a run with it is havip's.
		{"192.0.2.60/24", "5s", []want{{preflight.Info, "vip", "eth0 holds 192.0.2.60/24 as havip adds a VIP", ""}}, ""},
		{"192.0.2.2/24", "0s", []want{{preflight.Warning, "vip", `eth0 holds 192.0.2.2/24 permanently: a VIP an earlier run left or the daemon running now holds (with address_lifetime "0s" havip adds its VIPs permanently), or the host's own address`, ""}}, ""},
		{"192.0.2.3/24", "0s", []want{{preflight.Error, "vip", `(192.0.2.3/24 on eth0, valid for 23h59m50s more), not a VIP havip added (with address_lifetime "0s" havip adds its VIPs permanently)`, ""}},
			`"192.0.2.3/24" is already an address of this host`},
		{"192.0.2.60/24", "0s", []want{{preflight.Error, "vip", `(192.0.2.60/24 on eth0, valid for 1s more), not a VIP havip added`, ""}},
			`"192.0.2.60/24" is already an address of this host`},
	}
	for _, tt := range tests {
		t.Run(tt.vip+" "+tt.lifetime, func(t *testing.T) {
			cfg := lifetimeConfig(t, tt.vip, tt.lifetime)
			got := preflight.Run(context.Background(), cfg, preflight.Options{Root: t.TempDir(), Host: ownHost})
			match(t, got, tt.want)
			if len(got) != len(tt.want) {
				t.Errorf("findings %v, want %d", got, len(tt.want))
			}
			err := preflight.Refuse(cfg, preflight.Options{Host: ownHost})
			switch {
			case tt.refused == "" && err != nil:
				t.Errorf("Refuse: %v, want nil", err)
			case tt.refused != "" && (err == nil || !strings.Contains(err.Error(), tt.refused)):
				t.Errorf("Refuse: %v, want %q", err, tt.refused)
			}
		})
	}
}
