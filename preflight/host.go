package preflight

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/havip/havip/config"
)

// HostLink is one interface of the host and its addresses.
type HostLink struct {
	Name  string
	Addrs []netip.Prefix
	// Lifetimes says how long each of Addrs stays valid: Permanent for
	// an address without a lifetime, the time left for one with (havip
	// adds its VIPs with one, a DHCP client its lease's address). An
	// address missing here, every address when it is nil, is of
	// unknown lifetime: outside Linux the host cannot tell.
	Lifetimes map[netip.Prefix]time.Duration
}

// Permanent is the lifetime of an address that has none.
const Permanent = time.Duration(math.MaxInt64)

// Gateway is a next hop of the host's routing table.
type Gateway struct {
	Addr netip.Addr
	// Dst is the route's destination; 0.0.0.0/0 or ::/0 for a default
	// route.
	Dst netip.Prefix
	// Interface is the interface the route leaves by ("" if unknown).
	Interface string
	// Table is the routing table of the route: 0 or 254 for the main
	// one, another number for a table of policy routing.
	Table int
}

// mainTable is the number of the main routing table (RT_TABLE_MAIN).
const mainTable = 254

// Host is the host's own view of its network: what a VIP must not
// collide with.
type Host interface {
	// Links lists every interface with its addresses.
	Links() ([]HostLink, error)
	// Gateways lists the next hops of every routing table: the main
	// one and those of policy routing.
	Gateways() ([]Gateway, error)
}

// vipUse is what one VIP is on this host, as a finding.
type vipUse struct {
	sev Severity
	// key names the VIP in the file: `instance[0] "web": vips[1]`.
	key string
	msg string
}

// vipUses checks every VIP of cfg against the host's addresses and
// routes. A VIP that is a gateway, the network or broadcast address of
// one of its interface's subnets, or an address the host already has
// (other than as havip adds it: with its prefix, on its interface) is
// an error: announcing it takes the address, or the whole subnet, from
// everyone else. So is a VIP with a prefix whose subnet overlaps one of
// another interface: the route it brings would take that traffic away
// from it. A host-address VIP outside every subnet of its interface is
// a warning; one with a prefix brings its subnet along.
func vipUses(cfg *config.Config, h Host) ([]vipUse, error) {
	links, err := h.Links()
	if err != nil {
		return nil, fmt.Errorf("listing this host's addresses: %w", err)
	}
	gws, err := h.Gateways()
	if err != nil {
		return nil, fmt.Errorf("listing this host's routes: %w", err)
	}
	byName := map[string]HostLink{}
	for _, l := range links {
		byName[l.Name] = l
	}
	var out []vipUse
	for i, in := range cfg.Instances {
		for j, p := range in.VIPs {
			ifname := in.Place(p).Interface
			uses := gatewayUses(p.Addr(), gws)
			uses = append(uses, addressUses(p, ifname, links, cfg.Cluster.Timing.AddressLifetime)...)
			if link, exists := byName[ifname]; exists {
				uses = append(uses, subnetUses(p, link)...)
			}
			uses = append(uses, overlapUses(p, ifname, links)...)
			for _, u := range uses {
				u.key = cfg.VIPKey(i, j)
				out = append(out, u)
			}
		}
	}
	return out, nil
}

// gatewayUses finds a VIP among the gateways.
func gatewayUses(a netip.Addr, gws []Gateway) []vipUse {
	for _, g := range gws {
		if g.Addr != a {
			continue
		}
		what := "the default gateway"
		if g.Dst.Bits() != 0 {
			what = "the gateway of route " + g.Dst.String()
		}
		if g.Table != 0 && g.Table != mainTable {
			what += fmt.Sprintf(" in routing table %d", g.Table)
		}
		if g.Interface != "" {
			what += " on " + g.Interface
		}
		return []vipUse{{sev: Error, msg: fmt.Sprintf("%q is %s: announcing it would draw the traffic of every host on that subnet to this one", a, what)}}
	}
	return nil
}

// addressUses finds a VIP among the host's own addresses. On the VIP's
// own interface with its own prefix it may be what havip adds: left by
// an earlier run (removed at start-up) or held by this one. A VIP with
// a prefix can be the host's own address too (its primary one, say),
// which havip would then remove at start-up and on release; havip adds
// its VIPs for lifetime (cluster.tuning.address_lifetime; 0:
// permanently), so one that lives otherwise is the host's (see
// hostsOwn). A host address (/32, /128) is taken for havip's.
func addressUses(p netip.Prefix, ifname string, links []HostLink, lifetime time.Duration) []vipUse {
	a := p.Addr()
	var out []vipUse
	for _, l := range links {
		for _, q := range l.Addrs {
			if q.Addr() != a {
				continue
			}
			if l.Name != ifname || q != p {
				out = append(out, vipUse{sev: Error, msg: fmt.Sprintf("%q is already an address of this host (%s on %s); a VIP must be an address no member owns", a, q, l.Name)})
				continue
			}
			left, known := l.Lifetimes[q]
			switch own, sure := hostsOwn(p, left, known, lifetime); {
			case own:
				out = append(out, vipUse{sev: Error, msg: fmt.Sprintf("%q is already an address of this host (%s on %s, %s), not a VIP havip added (%s): havip would remove it at start-up and on release; a VIP must be an address no member owns",
					p, q, l.Name, lifetimeText(left), addedText(lifetime))})
			case !sure:
				out = append(out, vipUse{sev: Warning, msg: fmt.Sprintf("%s holds %s permanently: a VIP an earlier run left or the daemon running now holds (%s), or the host's own address, which havip would remove at start-up and on release; make sure it is not the host's, or set cluster.tuning.address_lifetime so that havip can tell them apart",
					l.Name, q, addedText(lifetime))})
			default:
				out = append(out, vipUse{sev: Info, msg: fmt.Sprintf("%s holds %s as havip adds a VIP: left by an earlier run, which havip removes at start-up, or held by the daemon running now", l.Name, q)})
			}
		}
	}
	return out
}

// hostsOwn tells whether the VIP p, found with its prefix on its
// interface and valid for left more (known: the host could tell), is
// the host's own address rather than one havip added for lifetime: a
// VIP with a prefix that lives longer than havip would have added it
// for (permanent, or a DHCP lease), or with address_lifetime "0s" one
// that does not live forever. sure is false when it cannot tell: a
// permanent address with address_lifetime "0s". A host address (/32,
// /128) and an address of unknown lifetime count as havip's, as before
// havip read lifetimes.
func hostsOwn(p netip.Prefix, left time.Duration, known bool, lifetime time.Duration) (own, sure bool) {
	if !known || p.Bits() == p.Addr().BitLen() {
		return false, true
	}
	if lifetime <= 0 {
		return left != Permanent, left != Permanent
	}
	// The kernel keeps lifetimes in whole seconds, rounded up.
	return left > (lifetime + time.Second - 1).Truncate(time.Second), true
}

// lifetimeText says how long an address stays: "permanent", or "valid
// for 23h59m50s more".
func lifetimeText(left time.Duration) string {
	if left == Permanent {
		return "permanent"
	}
	return "valid for " + left.String() + " more"
}

// addedText says how havip adds its VIPs, given address_lifetime.
func addedText(lifetime time.Duration) string {
	if lifetime <= 0 {
		return `with address_lifetime "0s" havip adds its VIPs permanently`
	}
	return "havip adds its VIPs for address_lifetime " + lifetime.String()
}

// subnetUses checks a VIP against the subnets of its interface: not
// their network or broadcast address, and inside one of them unless it
// brings its own (a VIP with a prefix).
func subnetUses(vip netip.Prefix, l HostLink) []vipUse {
	a := vip.Addr()
	var subnets []string
	inside := vip.Bits() != a.BitLen()
	for _, p := range l.Addrs {
		if p.Addr().Is4() != a.Is4() || p.Bits() == a.BitLen() || p.Addr().IsLinkLocalUnicast() || p == vip {
			continue
		}
		subnet := p.Masked()
		if !slices.Contains(subnets, subnet.String()) {
			subnets = append(subnets, subnet.String())
		}
		if !subnet.Contains(a) {
			continue
		}
		inside = true
		switch {
		case a == subnet.Addr() && (a.Is6() || p.Bits() < 31):
			return []vipUse{{sev: Error, msg: fmt.Sprintf("%q is the network address of %s's subnet %s", a, l.Name, subnet)}}
		case a.Is4() && p.Bits() < 31 && a == broadcast(subnet):
			return []vipUse{{sev: Error, msg: fmt.Sprintf("%q is the broadcast address of %s's subnet %s", a, l.Name, subnet)}}
		}
	}
	if inside {
		return nil
	}
	family := "IPv4"
	if a.Is6() {
		family = "IPv6"
	}
	have := "it has none"
	if len(subnets) > 0 {
		have = strings.Join(subnets, ", ")
	}
	return []vipUse{{sev: Warning, msg: fmt.Sprintf("%q is outside every %s subnet of %s (%s): the hosts on that link do not look it up there", a, family, l.Name, have)}}
}

// overlapUses refuses a VIP with a prefix whose subnet overlaps a subnet
// of another interface than its own, ifname: the route the VIP brings
// would send (part of) that subnet's traffic out of ifname.
func overlapUses(vip netip.Prefix, ifname string, links []HostLink) []vipUse {
	if vip.Bits() == vip.Addr().BitLen() {
		return nil
	}
	subnet := vip.Masked()
	for _, l := range links {
		if l.Name == ifname {
			continue
		}
		for _, p := range l.Addrs {
			if p.Bits() == p.Addr().BitLen() || p.Addr().IsLinkLocalUnicast() || !p.Masked().Overlaps(subnet) {
				continue
			}
			return []vipUse{{sev: Error, msg: fmt.Sprintf("%q brings a route to %s, which overlaps %s of %s (%s): that traffic would leave by %s instead; give the VIP the interface of its subnet, or a host address (/%d)",
				vip, subnet, p.Masked(), l.Name, p, ifname, vip.Addr().BitLen())}}
		}
	}
	return nil
}

// broadcast is the last address of an IPv4 subnet.
func broadcast(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// vipUses adds the findings of the VIP checks, under check "vip".
func (c *checker) vipUses() {
	if c.o.Host == nil || len(c.cfg.Instances) == 0 {
		return
	}
	uses, err := vipUses(c.cfg, c.o.Host)
	if err != nil {
		c.add(Warning, "vip", "", "%v", err)
		return
	}
	for _, u := range uses {
		fix := ""
		if u.sev == Error {
			fix = "pick another VIP: an unused address of the interface's subnet"
		}
		c.add(u.sev, "vip", fix, "%s: %s", u.key, u.msg)
	}
}

// Refuse returns why the daemon must not run cfg on this host: the
// errors `havip check` reports about the VIPs (see vipUses) and missing
// capabilities, each naming cfg's file and the key, or nil. It is what
// `havip run` checks before it changes anything, and a reload before it
// applies a file. Every check runs even when another cannot read the
// host's state; an error reading it is returned as it is, not as a
// refusal, only when nothing is refused.
func Refuse(cfg *config.Config, o Options) error {
	var (
		errs    config.Errors
		readErr error
	)
	if o.Capabilities != nil && len(cfg.Instances) > 0 {
		missing, err := o.Capabilities()
		if err != nil {
			readErr = err
		}
		if len(missing) > 0 {
			errs = append(errs, &config.Error{File: cfg.Path, Msg: capabilityMsg(missing) + "; " + capabilityFix})
		}
	}
	if o.Host != nil {
		uses, err := vipUses(cfg, o.Host)
		if err != nil && readErr == nil {
			readErr = err
		}
		for _, u := range uses {
			if u.sev == Error {
				errs = append(errs, &config.Error{File: cfg.Path, Key: u.key, Msg: u.msg})
			}
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return readErr
}
