package preflight_test

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/havip/havip/config"
	"github.com/havip/havip/preflight"
)

// fakeHost answers from fixed lists.
type fakeHost struct {
	links []preflight.HostLink
	gws   []preflight.Gateway
	err   error
}

func (f fakeHost) Links() ([]preflight.HostLink, error)   { return f.links, f.err }
func (f fakeHost) Gateways() ([]preflight.Gateway, error) { return f.gws, f.err }

func prefixes(s ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(s))
	for i, p := range s {
		out[i] = netip.MustParsePrefix(p)
	}
	return out
}

// vipConfig is one instance on eth0 with vips, in a file called
// havip.toml.
func vipConfig(t *testing.T, vips ...string) *config.Config {
	t.Helper()
	q := make([]string, len(vips))
	for i, v := range vips {
		q[i] = `"` + v + `"`
	}
	return rawVIPConfig(t, strings.Join(q, ", "))
}

// rawVIPConfig is one instance on eth0 whose vips items are items,
// written as they are (quoted addresses, tables), in a file called
// havip.toml.
func rawVIPConfig(t *testing.T, items string) *config.Config {
	t.Helper()
	return tunedVIPConfig(t, "", items)
}

// tunedVIPConfig is rawVIPConfig with the lines of tuning (a
// [cluster.tuning] table, say) after [cluster].
func tunedVIPConfig(t *testing.T, tuning, items string) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte(`
[node]
name = "a"
bind = "127.0.0.1:7946"
[cluster]
name = "t"
insecure = true
`+tuning+`
[[instance]]
name = "web"
interface = "eth0"
vips = [`+items+`]
`), "havip.toml")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

var lan = fakeHost{
	links: []preflight.HostLink{
		{Name: "lo", Addrs: prefixes("127.0.0.1/8", "::1/128")},
		{Name: "eth0", Addrs: prefixes("192.168.0.11/24", "192.168.0.22/32", "10.1.2.2/31", "2001:db8:10::11/64", "fe80::1/64")},
		{Name: "eth1", Addrs: prefixes("172.16.0.5/16")},
	},
	gws: []preflight.Gateway{
		{Addr: netip.MustParseAddr("192.168.0.1"), Dst: netip.MustParsePrefix("0.0.0.0/0"), Interface: "eth0"},
		{Addr: netip.MustParseAddr("172.16.0.254"), Dst: netip.MustParsePrefix("10.20.0.0/16"), Interface: "eth1"},
	},
}

// Every VIP is checked against the host's view: what would take a
// subnet or an address from someone is an error, a VIP outside the
// interface's subnets a warning, a VIP that havip itself left a note.
func TestVIPUses(t *testing.T) {
	tests := []struct {
		vip  string
		want []want
	}{
		{"192.168.0.50", nil},
		{"10.1.2.3", nil}, // a /31 has no network or broadcast address
		{"2001:db8:10::50", nil},
		{"192.168.0.1", []want{{preflight.Error, "vip", `instance[0] "web": vips[0]: "192.168.0.1" is the default gateway on eth0: announcing it would draw the traffic of every host on that subnet to this one`, "pick another VIP"}}},
		{"172.16.0.254", []want{
			{preflight.Error, "vip", `"172.16.0.254" is the gateway of route 10.20.0.0/16 on eth1`, ""},
			{preflight.Warning, "vip", `"172.16.0.254" is outside every IPv4 subnet of eth0 (192.168.0.0/24, 10.1.2.2/31)`, ""},
		}},
		{"192.168.0.0", []want{{preflight.Error, "vip", `"192.168.0.0" is the network address of eth0's subnet 192.168.0.0/24`, ""}}},
		{"192.168.0.255", []want{{preflight.Error, "vip", `"192.168.0.255" is the broadcast address of eth0's subnet 192.168.0.0/24`, ""}}},
		{"2001:db8:10::", []want{{preflight.Error, "vip", `"2001:db8:10::" is the network address of eth0's subnet 2001:db8:10::/64`, ""}}},
		{"192.168.0.11", []want{{preflight.Error, "vip", `"192.168.0.11" is already an address of this host (192.168.0.11/24 on eth0); a VIP must be an address no member owns`, ""}}},
		{"172.16.0.5", []want{
			{preflight.Error, "vip", `"172.16.0.5" is already an address of this host (172.16.0.5/16 on eth1)`, ""},
			{preflight.Warning, "vip", "outside every IPv4 subnet of eth0", ""},
		}},
		{"192.168.0.22", []want{{preflight.Info, "vip", "eth0 holds 192.168.0.22/32 as havip adds a VIP: left by an earlier run, which havip removes at start-up, or held by the daemon running now", ""}}},
		{"10.9.9.9", []want{{preflight.Warning, "vip", `instance[0] "web": vips[0]: "10.9.9.9" is outside every IPv4 subnet of eth0 (192.168.0.0/24, 10.1.2.2/31): the hosts on that link do not look it up there`, ""}}},
		{"2001:db8:99::1", []want{{preflight.Warning, "vip", "outside every IPv6 subnet of eth0 (2001:db8:10::/64)", ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.vip, func(t *testing.T) {
			got := preflight.Run(context.Background(), vipConfig(t, tt.vip), preflight.Options{Root: t.TempDir(), Host: lan})
			match(t, got, tt.want)
		})
	}
}

// A VIP on an interface the host does not have is left to the
// interface check; one without any address of its family is outside.
func TestVIPUsesInterface(t *testing.T) {
	bare := fakeHost{links: []preflight.HostLink{{Name: "eth0", Addrs: prefixes("2001:db8:10::11/64")}}}
	got := preflight.Run(context.Background(), vipConfig(t, "192.168.0.50"), preflight.Options{Root: t.TempDir(), Host: bare})
	match(t, got, []want{{preflight.Warning, "vip", "outside every IPv4 subnet of eth0 (it has none)", ""}})

	none := fakeHost{links: []preflight.HostLink{{Name: "eth1"}}}
	got = preflight.Run(context.Background(), vipConfig(t, "192.168.0.50"), preflight.Options{Root: t.TempDir(), Host: none})
	match(t, got, nil)

	broken := fakeHost{err: errors.New("netlink: permission denied")}
	got = preflight.Run(context.Background(), vipConfig(t, "192.168.0.50"), preflight.Options{Root: t.TempDir(), Host: broken})
	match(t, got, []want{{preflight.Warning, "vip", "listing this host's addresses: netlink: permission denied", ""}})
}

// Refuse turns the errors into configuration errors naming the file and
// the key, for `havip run` and reloads; warnings and notes pass.
func TestRefuse(t *testing.T) {
	cfg := vipConfig(t, "192.168.0.50", "192.168.0.1", "10.9.9.9", "192.168.0.22", "192.168.0.255")
	err := preflight.Refuse(cfg, preflight.Options{Host: lan})
	var errs config.Errors
	if !errors.As(err, &errs) {
		t.Fatalf("Refuse: %v, want config.Errors", err)
	}
	var got []string
	for _, e := range errs {
		got = append(got, e.Error())
	}
	wantErrs := []string{
		`havip.toml: instance[0] "web": vips[1]: "192.168.0.1" is the default gateway on eth0: announcing it would draw the traffic of every host on that subnet to this one`,
		`havip.toml: instance[0] "web": vips[4]: "192.168.0.255" is the broadcast address of eth0's subnet 192.168.0.0/24`,
	}
	if diff := cmp.Diff(wantErrs, got); diff != "" {
		t.Errorf("Refuse (-want +got):\n%s", diff)
	}

	if err := preflight.Refuse(vipConfig(t, "192.168.0.50", "10.9.9.9", "192.168.0.22"), preflight.Options{Host: lan}); err != nil {
		t.Errorf("Refuse of usable VIPs: %v", err)
	}
	broken := fakeHost{err: errors.New("netlink: permission denied")}
	if err := preflight.Refuse(cfg, preflight.Options{Host: broken}); err == nil || errors.As(err, &errs) {
		t.Errorf("Refuse with the host unreadable: %v, want the lookup error", err)
	}

	// Capabilities that cannot be read skip no VIP check: the VIPs are
	// refused all the same; with nothing to refuse, the read error is
	// returned.
	unreadable := func() ([]preflight.Capability, error) {
		return nil, errors.New("reading /proc/self/status: permission denied")
	}
	err = preflight.Refuse(cfg, preflight.Options{Host: lan, Capabilities: unreadable})
	if !errors.As(err, &errs) || len(errs) != len(wantErrs) || errs[0].Error() != wantErrs[0] {
		t.Errorf("Refuse with the capabilities unreadable: %v, want the VIPs refused", err)
	}
	err = preflight.Refuse(vipConfig(t, "192.168.0.50"), preflight.Options{Host: lan, Capabilities: unreadable})
	if err == nil || errors.As(err, &errs) || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("Refuse of usable VIPs with the capabilities unreadable: %v, want the read error", err)
	}
	// And missing capabilities are refused with the host unreadable.
	lacking := func() ([]preflight.Capability, error) { return preflight.Needed, nil }
	if err := preflight.Refuse(cfg, preflight.Options{Host: broken, Capabilities: lacking}); !errors.As(err, &errs) || !strings.Contains(err.Error(), "lacks CAP_NET_ADMIN") {
		t.Errorf("Refuse with the host unreadable and capabilities missing: %v, want the capabilities refused", err)
	}
}

// A node with instances needs CAP_NET_ADMIN and CAP_NET_RAW; a witness
// needs neither.
func TestCapabilities(t *testing.T) {
	lacking := func() ([]preflight.Capability, error) { return preflight.Needed, nil }
	got := preflight.Run(context.Background(), vipConfig(t, "192.168.0.50"), preflight.Options{Root: t.TempDir(), Capabilities: lacking})
	match(t, got, []want{{preflight.Error, "capabilities",
		"this process lacks CAP_NET_ADMIN (adding and removing the VIPs) and CAP_NET_RAW (gratuitous ARP and neighbour advertisements), which a node with instances needs",
		"run havip as root, or grant them to its service: AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW"}})

	err := preflight.Refuse(vipConfig(t, "192.168.0.50"), preflight.Options{Capabilities: lacking})
	if want := "havip.toml: this process lacks CAP_NET_ADMIN"; err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW") {
		t.Errorf("Refuse: %v, want %q and the fix", err, want)
	}

	witness, err := config.Parse([]byte("[cluster]\nname = \"t\"\ninsecure = true\n"), "havip.toml")
	if err != nil {
		t.Fatal(err)
	}
	if got := preflight.Run(context.Background(), witness, preflight.Options{Root: t.TempDir(), Capabilities: lacking}); len(got) != 0 {
		t.Errorf("witness: %v", got)
	}
	if err := preflight.Refuse(witness, preflight.Options{Capabilities: lacking}); err != nil {
		t.Errorf("Refuse of a witness: %v", err)
	}
}
