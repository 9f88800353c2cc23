package daemon

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/havip/havip/vip"
)

// Where the holder puts each VIP: the manager of the interface it is on
// (the instance's, or its own) and the label it is added with.

// setLinks gives the holder the managers of the other interfaces its
// VIPs are on, through links (see holder.links). Before the holder is
// used.
func (h *holder) setLinks(links func(ifname string) addrs) {
	h.links = links
	h.resolve()
}

// resolve (h.mu held, or before the holder is used) finds the manager
// of every interface a VIP is on. Without links, a VIP on another
// interface than ip's gets a manager that fails.
func (h *holder) resolve() {
	h.ips = map[string]addrs{h.ip.Name(): h.ip}
	for _, ifname := range h.inst.Interfaces() {
		switch {
		case h.ips[ifname] != nil:
		case h.links != nil:
			h.ips[ifname] = h.links(ifname)
		default:
			h.ips[ifname] = noLink(ifname)
		}
	}
}

// mgr returns the manager of the interface the VIP p is on.
func (h *holder) mgr(p netip.Prefix) addrs {
	return h.ips[h.inst.Place(p).Interface]
}

// addOpts are the options p is added and renewed with: its label.
func (h *holder) addOpts(p netip.Prefix) []vip.AddrOption {
	if label := h.inst.Place(p).Label; label != "" {
		return []vip.AddrOption{vip.Label(label)}
	}
	return nil
}

// ifnames names the interfaces of the VIPs for the log: "eth0,eth1".
func (h *holder) ifnames() string {
	return strings.Join(h.inst.Interfaces(), ",")
}

// onInterface returns the VIPs among ps that are on ifname.
func (h *holder) onInterface(ifname string, ps []netip.Prefix) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range ps {
		if h.inst.Place(p).Interface == ifname {
			out = append(out, p)
		}
	}
	return out
}

// noLink is the manager of an interface the holder was given none for.
type noLink string

func (n noLink) Name() string { return string(n) }

func (n noLink) AddFor(p netip.Prefix, _ time.Duration, _ ...vip.AddrOption) error {
	return fmt.Errorf("adding %s to %s: %w", p, string(n), vip.ErrNoLink)
}

func (n noLink) Renew(p netip.Prefix, _ time.Duration, _ ...vip.AddrOption) error {
	return fmt.Errorf("renewing %s on %s: %w", p, string(n), vip.ErrNoLink)
}

func (n noLink) Remove(netip.Prefix) error { return nil }

func (n noLink) List() ([]netip.Prefix, error) {
	return nil, fmt.Errorf("listing addresses of %s: %w", string(n), vip.ErrNoLink)
}
