package preflight

import (
	"errors"
	"net"
	"net/netip"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// SystemHost reads the host's addresses and routes through netlink.
type SystemHost struct {
	// Handle is the netlink handle to ask (one opened in a network
	// namespace, say); nil asks in the calling thread's namespace.
	Handle *netlink.Handle
}

func (n SystemHost) handle() *netlink.Handle {
	if n.Handle == nil {
		return &netlink.Handle{}
	}
	return n.Handle
}

// Links implements Host.
func (n SystemHost) Links() ([]HostLink, error) {
	h := n.handle()
	links, err := retryDump(h.LinkList)
	if err != nil {
		return nil, err
	}
	addrs, err := retryDump(func() ([]netlink.Addr, error) { return h.AddrList(nil, netlink.FAMILY_ALL) })
	if err != nil {
		return nil, err
	}
	out := make([]HostLink, len(links))
	byIndex := map[int]int{}
	for i, l := range links {
		out[i].Name = l.Attrs().Name
		byIndex[l.Attrs().Index] = i
	}
	for _, a := range addrs {
		i, ok := byIndex[a.LinkIndex]
		if !ok || a.IPNet == nil {
			continue
		}
		if p, ok := prefixOf(a.IPNet); ok {
			out[i].Addrs = append(out[i].Addrs, p)
			if out[i].Lifetimes == nil {
				out[i].Lifetimes = map[netip.Prefix]time.Duration{}
			}
			out[i].Lifetimes[p] = addrLifetime(a)
		}
	}
	return out, nil
}

// addrLifetime is how long an address stays valid: Permanent for one
// the kernel keeps without a lifetime (IFA_F_PERMANENT: the host's own
// or a VIP added with address_lifetime "0s"), else the whole seconds
// left of its valid lifetime.
func addrLifetime(a netlink.Addr) time.Duration {
	const infinite = 0xFFFFFFFF // INFINITY_LIFE_TIME
	if a.Flags&unix.IFA_F_PERMANENT != 0 || a.ValidLft < 0 || a.ValidLft >= infinite {
		return Permanent
	}
	return time.Duration(a.ValidLft) * time.Second
}

// Gateways implements Host: the routes of every table (table 0 with
// RT_FILTER_TABLE), so that a gateway of policy routing counts too.
func (n SystemHost) Gateways() ([]Gateway, error) {
	h := n.handle()
	routes, err := retryDump(func() ([]netlink.Route, error) {
		return h.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	})
	if err != nil {
		return nil, err
	}
	names := map[int]string{}
	if links, err := retryDump(h.LinkList); err == nil {
		for _, l := range links {
			names[l.Attrs().Index] = l.Attrs().Name
		}
	}
	var out []Gateway
	for _, r := range routes {
		dst := netip.PrefixFrom(netip.IPv4Unspecified(), 0)
		if r.Family == unix.AF_INET6 {
			dst = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
		}
		if r.Dst != nil {
			if p, ok := prefixOf(r.Dst); ok {
				dst = p.Masked()
			}
		}
		hops := []*netlink.NexthopInfo{{LinkIndex: r.LinkIndex, Gw: r.Gw}}
		if len(r.MultiPath) > 0 {
			hops = r.MultiPath
		}
		for _, hop := range hops {
			if gw, ok := netip.AddrFromSlice(hop.Gw); ok {
				out = append(out, Gateway{Addr: gw.Unmap(), Dst: dst, Interface: names[hop.LinkIndex], Table: r.Table})
			}
		}
	}
	return out, nil
}

// prefixOf converts an address with its mask.
func prefixOf(n *net.IPNet) (netip.Prefix, bool) {
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	bits, _ := n.Mask.Size()
	if a.Is4In6() {
		a = a.Unmap()
	}
	return netip.PrefixFrom(a, bits), true
}

// retryDump repeats a netlink dump that the kernel interrupted because
// the table changed meanwhile.
func retryDump[T any](f func() ([]T, error)) ([]T, error) {
	for range 3 {
		out, err := f()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return out, err
		}
	}
	return f()
}
