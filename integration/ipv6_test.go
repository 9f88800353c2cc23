package integration

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/havip/havip/internal/testbed"
)

func TestIPv6AndSeveralVIPs(t *testing.T) {
	c := newCluster(t, 3, true)
	vips := []netip.Addr{testbed.VIP4(0), testbed.VIP4(1), testbed.VIP6(0)}
	c.configure(c.opts(testbed.InstanceOpts{
		Name:     "web",
		VIPs:     vips,
		Priority: []int{150, 100, 50},
		Preempt:  true,
	}))
	c.startAll()

	for _, vip := range vips {
		c.waitHolders(vip, 0)
	}
	// Usable at once: added without duplicate address detection.
	v6 := testbed.VIP6(0)
	l, err := c.net.NodeEth0(0)
	if err != nil {
		t.Fatal(err)
	}
	if a, ok := l.Has(v6); !ok || a.Tentative || a.DADFailed {
		t.Fatalf("node 0: %s missing, tentative or failed DAD: %+v", v6, a)
	}
	c.waitStatus(allNodes(3), func(i int, s *status) error {
		if err := expectRole("web", 0)(i, s); err != nil {
			return err
		}
		in, _ := s.instance("web")
		if want := vipStrings(vips...); !sameSet(in.VIPs, want) {
			return fmt.Errorf("instance web: vips %q, want %q", in.VIPs, want)
		}
		return nil
	})
	for _, vip := range vips {
		c.waitObserverReaches(vip, 0)
	}

	// Cut node 0 off: every VIP of the instance moves to node 1 together,
	// and the observer follows for IPv4 (ARP) and IPv6 (NA) alike.
	if err := c.net.Cut(0); err != nil {
		t.Fatal(err)
	}
	for _, vip := range vips {
		c.waitHolders(vip, 1)
	}
	for _, vip := range vips {
		c.waitObserverReaches(vip, 1)
	}
}
