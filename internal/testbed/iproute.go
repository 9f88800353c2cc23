package testbed

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"slices"
)

// IfAddr is one address of an interface as ip -j addr show reports it.
type IfAddr struct {
	Prefix    netip.Prefix
	Scope     string
	Tentative bool
	DADFailed bool
	NoDAD     bool
}

// Link is one interface as ip -j link/addr show reports it.
type Link struct {
	Name      string
	MAC       net.HardwareAddr
	Flags     []string
	OperState string
	Addrs     []IfAddr
}

// Carrier reports whether the link is up with a carrier.
func (l Link) Carrier() bool {
	return slices.Contains(l.Flags, "UP") && slices.Contains(l.Flags, "LOWER_UP") && !slices.Contains(l.Flags, "NO-CARRIER")
}

// Has reports whether the link has address a, whatever its prefix length.
func (l Link) Has(a netip.Addr) (IfAddr, bool) {
	for _, x := range l.Addrs {
		if x.Prefix.Addr() == a {
			return x, true
		}
	}
	return IfAddr{}, false
}

type jsonLink struct {
	IfName    string     `json:"ifname"`
	Address   string     `json:"address"`
	Flags     []string   `json:"flags"`
	OperState string     `json:"operstate"`
	AddrInfo  []jsonAddr `json:"addr_info"`
}

type jsonAddr struct {
	Family    string `json:"family"`
	Local     string `json:"local"`
	PrefixLen int    `json:"prefixlen"`
	Scope     string `json:"scope"`
	Tentative bool   `json:"tentative"`
	DADFailed bool   `json:"dadfailed"`
	NoDAD     bool   `json:"nodad"`
}

// parseLinks reads the output of ip -j link show or ip -j addr show. Empty
// objects, which some iproute2 versions print for filtered-out links, are
// skipped.
func parseLinks(data []byte) ([]Link, error) {
	var raw []jsonLink
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("parsing ip -j output: %w", err)
	}
	var links []Link
	for _, r := range raw {
		if r.IfName == "" {
			continue
		}
		l := Link{Name: r.IfName, Flags: r.Flags, OperState: r.OperState}
		if r.Address != "" {
			mac, err := net.ParseMAC(r.Address)
			if err != nil {
				return nil, fmt.Errorf("parsing ip -j output: %s: address: %w", r.IfName, err)
			}
			l.MAC = mac
		}
		for _, a := range r.AddrInfo {
			if a.Local == "" {
				continue
			}
			addr, err := netip.ParseAddr(a.Local)
			if err != nil {
				return nil, fmt.Errorf("parsing ip -j output: %s: local: %w", r.IfName, err)
			}
			p, err := addr.Prefix(a.PrefixLen)
			if err != nil {
				return nil, fmt.Errorf("parsing ip -j output: %s: %s/%d: %w", r.IfName, a.Local, a.PrefixLen, err)
			}
			// Prefix masks the host bits; keep the address itself.
			l.Addrs = append(l.Addrs, IfAddr{
				Prefix:    netip.PrefixFrom(addr, p.Bits()),
				Scope:     a.Scope,
				Tentative: a.Tentative,
				DADFailed: a.DADFailed,
				NoDAD:     a.NoDAD,
			})
		}
		links = append(links, l)
	}
	return links, nil
}

// Neigh is one neighbour entry as ip -j neigh show reports it.
type Neigh struct {
	Dst    netip.Addr
	LLAddr net.HardwareAddr // nil while incomplete or failed
	State  []string
}

type jsonNeigh struct {
	Dst    string   `json:"dst"`
	LLAddr string   `json:"lladdr"`
	State  []string `json:"state"`
}

// parseNeighs reads the output of ip -j neigh show.
func parseNeighs(data []byte) ([]Neigh, error) {
	var raw []jsonNeigh
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("parsing ip -j neigh output: %w", err)
	}
	var out []Neigh
	for _, r := range raw {
		if r.Dst == "" {
			continue
		}
		dst, err := netip.ParseAddr(r.Dst)
		if err != nil {
			return nil, fmt.Errorf("parsing ip -j neigh output: dst: %w", err)
		}
		n := Neigh{Dst: dst, State: r.State}
		if r.LLAddr != "" {
			mac, err := net.ParseMAC(r.LLAddr)
			if err != nil {
				return nil, fmt.Errorf("parsing ip -j neigh output: %s: lladdr: %w", r.Dst, err)
			}
			n.LLAddr = mac
		}
		out = append(out, n)
	}
	return out, nil
}
