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
//
// A sweep reads the nodes one after another, so a handover that happens
// during it can show both sides: the old holder read before it let go,
// the new one after it took over. When a sweep finds two or more
// holders, every one but the last read is read again: a node that still
// holds then held throughout, so at the moment the last one was read;
// one that no longer does is dropped, as its overlap with the others is
// not shown. What is returned held all at once.
func (p *HolderProbe) Holders(vip netip.Addr) ([]int, error) {
	all, err := p.HoldersAll([]netip.Addr{vip})
	if err != nil {
		return nil, err
	}
	return all[vip], nil
}

// HoldersAll lists, for each of vips, the nodes whose eth0 has it now
// (in node order): one address dump per node, whatever the number of
// VIPs, and for a VIP with two or more holders one more per holder but
// the last, as Holders says.
func (p *HolderProbe) HoldersAll(vips []netip.Addr) (map[netip.Addr][]int, error) {
	out := make(map[netip.Addr][]int, len(vips))
	for _, v := range vips {
		out[v] = []int{}
	}
	for i := range p.handles {
		has, err := p.read(i)
		if err != nil {
			return nil, err
		}
		for _, v := range vips {
			if has[v] {
				out[v] = append(out[v], i)
			}
		}
	}
	// Confirm the overlaps: read again each holder but the last read.
	again := map[int]map[netip.Addr]bool{}
	for _, v := range vips {
		hs, err := confirmHolders(out[v], func(i int) (bool, error) {
			if again[i] == nil {
				has, err := p.read(i)
				if err != nil {
					return false, err
				}
				again[i] = has
			}
			return again[i][v], nil
		})
		if err != nil {
			return nil, err
		}
		out[v] = hs
	}
	return out, nil
}

// read returns the addresses on node i's eth0.
func (p *HolderProbe) read(i int) (map[netip.Addr]bool, error) {
	addrs, err := p.handles[i].AddrList(p.links[i], netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("testbed: addresses of node %d: %w", i, err)
	}
	has := make(map[netip.Addr]bool, len(addrs))
	for _, a := range addrs {
		if ip, ok := netip.AddrFromSlice(a.IP); ok {
			has[ip.Unmap()] = true
		}
	}
	return has, nil
}

// Close closes the sockets.
func (p *HolderProbe) Close() error {
	for _, h := range p.handles {
		h.Close()
	}
	p.handles = nil
	return nil
}
