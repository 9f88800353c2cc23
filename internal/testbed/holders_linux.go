package testbed

import (
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// HolderProbe reads the nodes' eth0 addresses through netlink sockets
// opened once in each node's namespace: one sample of every node costs a
// few system calls, not a process per node like HoldersOf.
type HolderProbe struct {
	handles []*netlink.Handle
	links   []netlink.Link
}

// OpenHolderProbe opens a netlink socket in every node namespace.
func (n *Net) OpenHolderProbe() (*HolderProbe, error) {
	p := &HolderProbe{}
	for _, h := range n.Nodes {
		nsh, err := netns.GetFromName(h.NS)
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("testbed: opening namespace %s: %w", h.NS, err)
		}
		nh, err := netlink.NewHandleAt(nsh, unix.NETLINK_ROUTE)
		nsh.Close()
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("testbed: netlink in %s: %w", h.NS, err)
		}
		p.handles = append(p.handles, nh)
		l, err := nh.LinkByName("eth0")
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("testbed: eth0 of %s: %w", h.NS, err)
		}
		p.links = append(p.links, l)
	}
	return p, nil
}

// Holders lists, in order, the nodes whose eth0 has vip now.
func (p *HolderProbe) Holders(vip netip.Addr) ([]int, error) {
	family := netlink.FAMILY_V4
	if vip.Is6() {
		family = netlink.FAMILY_V6
	}
	holders := []int{}
	for i, h := range p.handles {
		addrs, err := h.AddrList(p.links[i], family)
		if err != nil {
			return nil, fmt.Errorf("testbed: addresses of node %d: %w", i, err)
		}
		for _, a := range addrs {
			if ip, ok := netip.AddrFromSlice(a.IP); ok && ip.Unmap() == vip {
				holders = append(holders, i)
				break
			}
		}
	}
	return holders, nil
}

// HoldersAll lists, for each of vips, the nodes whose eth0 has it now
// (in node order): one address dump per node, whatever the number of
// VIPs.
func (p *HolderProbe) HoldersAll(vips []netip.Addr) (map[netip.Addr][]int, error) {
	out := make(map[netip.Addr][]int, len(vips))
	for _, v := range vips {
		out[v] = []int{}
	}
	for i, h := range p.handles {
		addrs, err := h.AddrList(p.links[i], netlink.FAMILY_ALL)
		if err != nil {
			return nil, fmt.Errorf("testbed: addresses of node %d: %w", i, err)
		}
		for _, a := range addrs {
			ip, ok := netip.AddrFromSlice(a.IP)
			if !ok {
				continue
			}
			if hs, want := out[ip.Unmap()]; want && (len(hs) == 0 || hs[len(hs)-1] != i) {
				out[ip.Unmap()] = append(hs, i)
			}
		}
	}
	return out, nil
}

// Close closes the sockets.
func (p *HolderProbe) Close() error {
	for _, h := range p.handles {
		h.Close()
	}
	p.handles = nil
	return nil
}
