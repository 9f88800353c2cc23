//go:build !linux

package preflight

import (
	"net"
	"net/netip"
)

// SystemHost reads the host's addresses from the standard library
// outside Linux; it knows no routes.
type SystemHost struct{}

// Links implements Host.
func (SystemHost) Links() ([]HostLink, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	out := make([]HostLink, len(ifs))
	for i, ifi := range ifs {
		out[i].Name = ifi.Name
		addrs, err := ifi.Addrs()
		if err != nil {
			return nil, err
		}
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				ip, _ := netip.AddrFromSlice(n.IP)
				bits, _ := n.Mask.Size()
				out[i].Addrs = append(out[i].Addrs, netip.PrefixFrom(ip.Unmap(), bits))
			}
		}
	}
	return out, nil
}

// Gateways implements Host: none are known here.
func (SystemHost) Gateways() ([]Gateway, error) { return nil, nil }
