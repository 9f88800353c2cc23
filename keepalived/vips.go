package keepalived

import "net/netip"

// VIP is an address a vrrp_instance manages.
type VIP struct {
	Addr netip.Addr
	// Instance is the vrrp_instance's name.
	Instance string
	Pos      Pos
}

// VIPs lists the addresses of every vrrp_instance's virtual_ipaddress
// and virtual_ipaddress_excluded blocks, with where each is written.
func (c *Config) VIPs() []VIP {
	var out []VIP
	for _, n := range c.Nodes {
		if n.Keyword() != "vrrp_instance" {
			continue
		}
		for _, b := range n.Children {
			if b.Keyword() != "virtual_ipaddress" && b.Keyword() != "virtual_ipaddress_excluded" {
				continue
			}
			for _, l := range b.Children {
				if a, _, err := parseAddrPrefix(l.Keyword()); err == nil {
					out = append(out, VIP{Addr: a, Instance: n.Arg(1), Pos: l.Pos})
				}
			}
		}
	}
	return out
}
