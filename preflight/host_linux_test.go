package preflight_test

import (
	"context"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/havip/havip/internal/nstest"
	"github.com/havip/havip/preflight"
)

// SystemHost reads addresses and gateways through netlink: here in a
// namespace of the test's own, with a default route, a route through a
// second gateway, both again in a table of policy routing, and a VIP an
// earlier run left.
func TestSystemHostInNamespace(t *testing.T) {
	ns := nstest.New(t)
	h := ns.Handle()
	a, b := ns.Veth(t, "eth0", "peer0")
	addr := func(l netlink.Link, cidr string) {
		t.Helper()
		ad, err := netlink.ParseAddr(cidr)
		if err != nil {
			t.Fatal(err)
		}
		if ad.IP.To4() == nil {
			ad.Flags = unix.IFA_F_NODAD
		}
		if err := h.AddrAdd(l, ad); err != nil {
			t.Fatalf("adding %s: %v", cidr, err)
		}
	}
	addr(a, "192.168.50.11/24")
	addr(a, "192.168.50.22/32")
	addr(a, "2001:db8:50::11/64")
	addr(b, "192.168.70.5/24")
	// An address with a lifetime, as a DHCP client adds its lease's.
	leased, err := netlink.ParseAddr("192.168.50.70/24")
	if err != nil {
		t.Fatal(err)
	}
	leased.ValidLft, leased.PreferedLft = 100, 100
	if err := h.AddrReplace(a, leased); err != nil {
		t.Fatalf("adding %s for 100s: %v", leased, err)
	}
	route := func(dst string, gw string, table int) {
		t.Helper()
		r := &netlink.Route{LinkIndex: a.Attrs().Index, Gw: net.ParseIP(gw), Table: table}
		if dst != "" {
			_, r.Dst, _ = net.ParseCIDR(dst)
		}
		if err := h.RouteAdd(r); err != nil {
			t.Fatalf("adding route %s via %s: %v", dst, gw, err)
		}
	}
	route("", "192.168.50.1", 0)
	route("192.168.60.0/24", "192.168.50.254", 0)
	// Policy routing: gateways of a table of their own count too.
	route("", "192.168.50.2", 100)
	route("192.168.80.0/24", "192.168.50.3", 100)

	cfg := vipConfig(t, "192.168.50.40", "192.168.50.1", "192.168.50.254", "192.168.50.0",
		"192.168.50.255", "192.168.50.11", "192.168.70.5", "192.168.50.22", "10.9.9.9", "2001:db8:50::40")
	got := preflight.Run(context.Background(), cfg, preflight.Options{Root: t.TempDir(), Host: preflight.SystemHost{Handle: h}})
	match(t, got, []want{
		{preflight.Error, "vip", `vips[1]: "192.168.50.1" is the default gateway on eth0`, ""},
		{preflight.Error, "vip", `vips[2]: "192.168.50.254" is the gateway of route 192.168.60.0/24 on eth0`, ""},
		{preflight.Error, "vip", `vips[3]: "192.168.50.0" is the network address of eth0's subnet 192.168.50.0/24`, ""},
		{preflight.Error, "vip", `vips[4]: "192.168.50.255" is the broadcast address of eth0's subnet 192.168.50.0/24`, ""},
		{preflight.Error, "vip", `vips[5]: "192.168.50.11" is already an address of this host (192.168.50.11/24 on eth0)`, ""},
		{preflight.Error, "vip", `vips[6]: "192.168.70.5" is already an address of this host (192.168.70.5/24 on peer0)`, ""},
		{preflight.Warning, "vip", `vips[6]: "192.168.70.5" is outside every IPv4 subnet of eth0 (192.168.50.0/24)`, ""},
		{preflight.Info, "vip", `vips[7]: eth0 holds 192.168.50.22/32 as havip adds a VIP`, ""},
		{preflight.Warning, "vip", `vips[8]: "10.9.9.9" is outside every IPv4 subnet of eth0 (192.168.50.0/24)`, ""},
	})
	got = preflight.Run(context.Background(), vipConfig(t, "192.168.50.2", "192.168.50.3"), preflight.Options{Root: t.TempDir(), Host: preflight.SystemHost{Handle: h}})
	match(t, got, []want{
		{preflight.Error, "vip", `vips[0]: "192.168.50.2" is the default gateway in routing table 100 on eth0`, ""},
		{preflight.Error, "vip", `vips[1]: "192.168.50.3" is the gateway of route 192.168.80.0/24 in routing table 100 on eth0`, ""},
	})
	if err := preflight.Refuse(vipConfig(t, "192.168.50.2"), preflight.Options{Host: preflight.SystemHost{Handle: h}}); err == nil {
		t.Error("Refuse of a gateway of routing table 100: nil")
	}
	// The host's own addresses as VIPs with their prefix: the kernel
	// tells they are not havip's by their lifetimes.
	got = preflight.Run(context.Background(), vipConfig(t, "192.168.50.11/24", "192.168.50.70/24"), preflight.Options{Root: t.TempDir(), Host: preflight.SystemHost{Handle: h}})
	match(t, got, []want{
		{preflight.Error, "vip", `vips[0]: "192.168.50.11/24" is already an address of this host (192.168.50.11/24 on eth0, permanent), not a VIP havip added`, ""},
		{preflight.Error, "vip", `vips[1]: "192.168.50.70/24" is already an address of this host (192.168.50.70/24 on eth0, valid for 1m`, ""},
	})
	if err := preflight.Refuse(vipConfig(t, "192.168.50.40", "192.168.50.22"), preflight.Options{Host: preflight.SystemHost{Handle: h}}); err != nil {
		t.Errorf("Refuse of usable VIPs: %v", err)
	}

	// Without a handle it asks the namespace of the calling thread.
	err = ns.Do(func() error {
		if err := preflight.Refuse(vipConfig(t, "192.168.50.1"), preflight.Options{Host: preflight.SystemHost{}}); err == nil {
			t.Error("Refuse of the gateway in the namespace: nil")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The capabilities are read from the kernel: they agree with CapEff in
// /proc/self/status.
func TestSystemCapabilities(t *testing.T) {
	missing, err := preflight.SystemCapabilities()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	var eff uint64
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			if eff, err = strconv.ParseUint(strings.TrimSpace(v), 16, 64); err != nil {
				t.Fatal(err)
			}
		}
	}
	var want []string
	for _, c := range preflight.Needed {
		if eff&(1<<c.Bit) == 0 {
			want = append(want, c.Name)
		}
	}
	var got []string
	for _, c := range missing {
		got = append(got, c.Name)
	}
	if !slices.Equal(got, want) {
		t.Errorf("missing %v, want %v (CapEff %x)", got, want, eff)
	}
}
