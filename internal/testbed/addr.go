package testbed

import (
	"fmt"
	"net/netip"
)

// The address plan of every topology. Node i is 198.18.0.(10+i) and
// fd00:4856::(10+i) (written with the same digits), the observer is .2 / ::2
// and VIPs start at .100 / ::100.
var (
	// Subnet4 is the IPv4 segment every node and the observer live on.
	Subnet4 = netip.MustParsePrefix("198.18.0.0/24")
	// Subnet6 is the IPv6 segment, used when Options.IPv6 is set.
	Subnet6 = netip.MustParsePrefix("fd00:4856::/64")
)

// MemberlistPort is the port NodeConfig binds every node's memberlist to.
const MemberlistPort = 7946

// MaxNodes is the largest topology: node addresses must stay below the
// first VIP.
const MaxNodes = 90

const (
	firstNodeHost = 10
	observerHost  = 2
	firstVIPHost  = 100
)

// NodeName is the havip node name NodeConfig gives node i.
func NodeName(i int) string { return fmt.Sprintf("node%d", i) }

// NodeAddr is node i's IPv4 address.
func NodeAddr(i int) netip.Addr { return host4(firstNodeHost + i) }

// NodeAddr6 is node i's IPv6 address.
func NodeAddr6(i int) netip.Addr { return host6(firstNodeHost + i) }

// NodeBind is node i's memberlist address.
func NodeBind(i int) netip.AddrPort { return netip.AddrPortFrom(NodeAddr(i), MemberlistPort) }

// ObserverAddr is the observer's IPv4 address.
func ObserverAddr() netip.Addr { return host4(observerHost) }

// ObserverAddr6 is the observer's IPv6 address.
func ObserverAddr6() netip.Addr { return host6(observerHost) }

// VIP4 is the k-th IPv4 VIP (198.18.0.100 for k = 0).
func VIP4(k int) netip.Addr { return host4(firstVIPHost + k) }

// VIP6 is the k-th IPv6 VIP (fd00:4856::100 for k = 0).
func VIP6(k int) netip.Addr { return host6(firstVIPHost + k) }

// HostPrefix is the prefix havip reports for a VIP: /32 or /128.
func HostPrefix(a netip.Addr) netip.Prefix { return netip.PrefixFrom(a, a.BitLen()) }

func host4(h int) netip.Addr {
	if h < 1 || h > 254 {
		panic(fmt.Sprintf("testbed: IPv4 host number %d out of range", h))
	}
	b := Subnet4.Addr().As4()
	b[3] = byte(h)
	return netip.AddrFrom4(b)
}

// host6 writes h with the same decimal digits as the IPv4 host number, so
// node 0 is fd00:4856::10 like 198.18.0.10.
func host6(h int) netip.Addr {
	if h < 1 || h > 9999 {
		panic(fmt.Sprintf("testbed: IPv6 host number %d out of range", h))
	}
	return netip.MustParseAddr(fmt.Sprintf("fd00:4856::%d", h))
}
