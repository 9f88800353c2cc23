package vip_test

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/havip/havip/internal/nstest"
	"github.com/havip/havip/vip"
)

// VIPs with the prefix length of their subnet, as keepalived adds
// 192.168.1.10/24: the subnet's route comes and goes with them.

// subnetRoute reports whether the main table of the namespace has the
// kernel's route to subnet on link name.
func subnetRoute(t *testing.T, ns *nstest.NS, name string, subnet netip.Prefix) bool {
	t.Helper()
	l, err := ns.Handle().LinkByName(name)
	if err != nil {
		t.Fatalf("looking up %s: %v", name, err)
	}
	family := netlink.FAMILY_V4
	if subnet.Addr().Is6() {
		family = netlink.FAMILY_V6
	}
	routes, err := ns.Handle().RouteList(l, family)
	if err != nil {
		t.Fatalf("listing routes of %s: %v", name, err)
	}
	for _, r := range routes {
		if r.Dst == nil {
			continue
		}
		ones, _ := r.Dst.Mask.Size()
		if r.Dst.IP.Equal(subnet.Addr().AsSlice()) && ones == subnet.Bits() {
			return true
		}
	}
	return false
}

// TestPrefixVIP adds an IPv4 and an IPv6 VIP with the prefix of their
// subnet: each is listed and found by its exact prefix (not as a host
// address), brings its subnet route, and takes it away when removed.
func TestPrefixVIP(t *testing.T) {
	ns, m := setup(t)
	for _, p := range []netip.Prefix{netip.MustParsePrefix("10.1.0.5/24"), netip.MustParsePrefix("fd01::5/64")} {
		t.Run(p.String(), func(t *testing.T) {
			subnet := p.Masked()
			if subnetRoute(t, ns, "a", subnet) {
				t.Fatalf("route to %s before the VIP", subnet)
			}
			if err := m.AddFor(p, 10*time.Second); err != nil {
				t.Fatal(err)
			}
			if ok, err := m.Has(p); err != nil || !ok {
				t.Errorf("Has(%s) = %t, %v; want true", p, ok, err)
			}
			host := netip.PrefixFrom(p.Addr(), p.Addr().BitLen())
			if ok, err := m.Has(host); err != nil || ok {
				t.Errorf("Has(%s) = %t, %v; want false: the VIP is there as %s", host, ok, err, p)
			}
			eventually(t, "subnet route with the VIP", func() (bool, error) { return subnetRoute(t, ns, "a", subnet), nil })
			if p.Addr().Is4() {
				if found := findAddrs(t, ns, "a", p); len(found) != 1 || !found[0].Broadcast.Equal(net.IPv4(10, 1, 0, 255)) {
					t.Errorf("%s: %v, want once with broadcast 10.1.0.255", p, found)
				}
			}
			// Removing the host address leaves the VIP alone.
			if err := m.Remove(host); err != nil {
				t.Fatal(err)
			}
			if ok, _ := m.Has(p); !ok {
				t.Fatalf("removing %s removed %s", host, p)
			}
			if err := m.Remove(p); err != nil {
				t.Fatal(err)
			}
			if ok, err := m.Has(p); err != nil || ok {
				t.Errorf("Has(%s) = %t, %v after Remove; want false", p, ok, err)
			}
			eventually(t, "no subnet route without the VIP", func() (bool, error) { return !subnetRoute(t, ns, "a", subnet), nil })
		})
	}
}

// TestPrefixVIPSecondary adds a VIP in a subnet the interface already
// has (an IPv4 secondary address): its removal leaves the interface's
// own address and the route alone.
func TestPrefixVIPSecondary(t *testing.T) {
	ns, m := setup(t)
	for _, tt := range []struct{ own, vip netip.Prefix }{
		{netip.MustParsePrefix("10.2.0.1/24"), netip.MustParsePrefix("10.2.0.5/24")},
		{netip.MustParsePrefix("fd02::1/64"), netip.MustParsePrefix("fd02::5/64")},
	} {
		if err := m.Add(tt.own); err != nil {
			t.Fatal(err)
		}
		if err := m.AddFor(tt.vip, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		if found := findAddrs(t, ns, "a", tt.vip); len(found) != 1 || tt.vip.Addr().Is4() && found[0].Flags&unix.IFA_F_SECONDARY == 0 {
			t.Errorf("%s: %v, want once (as a secondary address for IPv4)", tt.vip, found)
		}
		if err := m.Remove(tt.vip); err != nil {
			t.Fatal(err)
		}
		if ok, _ := m.Has(tt.own); !ok {
			t.Errorf("removing %s removed %s", tt.vip, tt.own)
		}
		if !subnetRoute(t, ns, "a", tt.own.Masked()) {
			t.Errorf("removing %s removed the route to %s", tt.vip, tt.own.Masked())
		}
	}
}

// TestPrefixVIPExpires: with nobody renewing it, the kernel removes a
// prefix VIP by itself, its subnet route with it, as it does a host
// address.
func TestPrefixVIPExpires(t *testing.T) {
	ns, m := setup(t)
	p := netip.MustParsePrefix("10.3.0.5/24")
	if err := m.AddFor(p, time.Second); err != nil {
		t.Fatal(err)
	}
	if found := findAddrs(t, ns, "a", p); len(found) != 1 || found[0].ValidLft > 1 {
		t.Fatalf("%s: %v, want once with a lifetime of at most 1s", p, found)
	}
	eventually(t, "subnet route with the VIP", func() (bool, error) { return subnetRoute(t, ns, "a", p.Masked()), nil })
	eventually(t, "the kernel removes the VIP", func() (bool, error) {
		ok, err := m.Has(p)
		return !ok, err
	})
	eventually(t, "the kernel removes its route", func() (bool, error) { return !subnetRoute(t, ns, "a", p.Masked()), nil })
}

// TestLabel adds a VIP with a label, keeps it through a renewal, and
// puts it back with its label when the renewal finds it gone.
func TestLabel(t *testing.T) {
	ns, m := setup(t)
	p := netip.MustParsePrefix("10.4.0.5/24")
	label := func() string {
		t.Helper()
		found := findAddrs(t, ns, "a", p)
		if len(found) != 1 {
			t.Fatalf("%s is on a %d times, want once", p, len(found))
		}
		return found[0].Label
	}
	if err := m.AddFor(p, 10*time.Second, vip.Label("a:vip")); err != nil {
		t.Fatal(err)
	}
	if got := label(); got != "a:vip" {
		t.Errorf("label %q, want a:vip", got)
	}
	if err := m.Renew(p, 10*time.Second, vip.Label("a:vip")); err != nil {
		t.Fatal(err)
	}
	if got := label(); got != "a:vip" {
		t.Errorf("label %q after a renewal, want a:vip", got)
	}
	if err := m.Remove(p); err != nil {
		t.Fatal(err)
	}
	if err := m.Renew(p, 10*time.Second, vip.Label("a:vip")); err != nil {
		t.Fatal(err)
	}
	if got := label(); got != "a:vip" {
		t.Errorf("label %q when put back, want a:vip", got)
	}
	if err := m.AddFor(netip.MustParsePrefix("10.4.0.6/32"), 0, vip.Label("b:1")); err == nil || !strings.Contains(err.Error(), `label "b:1" must begin with the interface name a`) {
		t.Errorf("a label of another interface: %v, want an error", err)
	}
	if err := m.AddFor(v6, 0, vip.Label("a:1")); err == nil || !strings.Contains(err.Error(), "only IPv4 addresses have labels") {
		t.Errorf("a label on an IPv6 VIP: %v, want an error", err)
	}
}
