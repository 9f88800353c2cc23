package config

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// MaxInstances is the most instances one file may define. Every member
// publishes the state of each instance (name, priority, flags) in its
// memberlist node metadata, which memberlist limits to 512 bytes (it
// panics beyond); 12 instances with names of up to MaxInstanceNameLen
// bytes leave room for the encoding and a format version.
const MaxInstances = 12

// MaxInstanceNameLen is the longest instance name, for the same reason.
const MaxInstanceNameLen = 32

// buildInstances checks every [[instance]] and fills cfg.Instances.
// peerIPs are the peers given as IP addresses, which no VIP may be.
func buildInstances(f *rawFile, cfg *Config, peerIPs map[netip.Addr]string, opts ParseOptions, c *collector) {
	if n := len(f.Instances); n > MaxInstances {
		c.add("instance", "%d instances; at most %d fit in the node metadata every member publishes", n, MaxInstances)
	}
	names := map[string]int{}
	vips := map[netip.Addr]string{}
	own := map[netip.Addr]string{}
	if cfg.Node.Bind.IsValid() && !cfg.Node.Bind.Addr().IsUnspecified() {
		own[cfg.Node.Bind.Addr().Unmap()] = "node.bind"
	}
	if a := cfg.Node.Advertise; a.IsValid() && own[a.Addr().Unmap()] == "" {
		own[a.Addr().Unmap()] = "node.advertise"
	}

	cfg.Instances = make([]Instance, len(f.Instances))
	for i := range f.Instances {
		r := &f.Instances[i]
		out := &cfg.Instances[i]
		var name any
		if r.Name.problem == "" {
			name = r.Name.val
		}
		at := itemKey("instance", i, name)
		key := func(k string) string { return joinKey(at, k) }

		if c.valid(key("name"), r.Name.problem) {
			switch {
			case !r.Name.set:
				c.add(key("name"), "is required")
			default:
				if msg := checkName(r.Name.val, MaxInstanceNameLen); msg != "" {
					c.add(key("name"), "%q %s", r.Name.val, msg)
				} else if j, dup := names[r.Name.val]; dup {
					c.add(key("name"), "%q is already the name of instance[%d]", r.Name.val, j)
				} else {
					names[r.Name.val] = i
				}
			}
			out.Name = r.Name.val
		}

		if c.valid(key("interface"), r.Interface.problem) {
			switch {
			case !r.Interface.set:
				c.add(key("interface"), "is required")
			case !validIfName(r.Interface.val):
				c.add(key("interface"), "%q is not a valid interface name (%s)", r.Interface.val, ifNameRule)
			}
			out.Interface = r.Interface.val
		}

		buildVIPs(r, out, at, vips, own, peerIPs, c)

		if c.valid(key("priority"), r.Priority.problem) {
			if v := r.Priority.val; v < 1 || v > 255 {
				c.add(key("priority"), "must be 1..255, not %d", v)
			}
			out.Priority = r.Priority.val
		}
		if c.valid(key("preempt"), r.Preempt.problem) {
			out.Preempt = r.Preempt.val
		}
		if c.valid(key("preempt_delay"), r.PreemptDelay.problem) {
			if v := r.PreemptDelay.val; v < 0 {
				c.add(key("preempt_delay"), "must not be negative, not %s", v)
			}
			out.PreemptDelay = r.PreemptDelay.val
		}
		buildAnnounce(r, out, key, c)
		buildHealth(r, out, key, opts, c)
	}
}

// buildVIPs checks an instance's vips; at names the instance in messages.
// No two instances may share a VIP, and no member may own one: vips holds
// the VIPs of the instances before this one, own this node's addresses
// and peerIPs the peers' given as IP addresses, each with where it is set.
func buildVIPs(r *rawInstance, out *Instance, at string, vips, own, peerIPs map[netip.Addr]string, c *collector) {
	key := func(k string) string { return joinKey(at, k) }
	if !c.valid(key("vips"), r.VIPs.problem) {
		return
	}
	if len(r.VIPs.val) == 0 {
		c.add(key("vips"), "at least one VIP is required")
	}
	out.VIPs = []netip.Prefix{}
	for j, item := range r.VIPs.val {
		vkey := key(fmt.Sprintf("vips[%d]", j))
		if item.problem != "" {
			c.add(vkey, "%s", item.problem)
			continue
		}
		s := item.Address
		p, msg := parseVIP(s)
		if msg != "" {
			c.add(vkey, "%s", msg)
			continue
		}
		if prev, dup := vips[p.Addr()]; dup {
			c.add(vkey, "%q is already used at %s", s, prev)
			continue
		}
		vips[p.Addr()] = fmt.Sprintf("%s vips[%d]", at, j)
		if k, ok := own[p.Addr()]; ok {
			c.add(vkey, "%q is this node's own address (%s); a VIP must be an address no member owns", s, k)
		} else if k, ok := peerIPs[p.Addr()]; ok {
			c.add(vkey, "%q is the address of a peer (%s); a VIP must be an address no member owns", s, k)
		}
		pl, ok := buildPlace(item, p, out.Interface, vkey, c)
		if !ok {
			continue
		}
		if pl != (VIPPlace{Interface: out.Interface}) {
			if out.Places == nil {
				out.Places = map[netip.Prefix]VIPPlace{}
			}
			out.Places[p] = pl
		}
		out.VIPs = append(out.VIPs, p)
	}
}

// buildPlace checks the interface and label of a VIP written as a
// table; ifname is the instance's interface, vkey names the VIP.
func buildPlace(item rawVIP, p netip.Prefix, ifname, vkey string, c *collector) (VIPPlace, bool) {
	pl := VIPPlace{Interface: ifname, Label: item.Label}
	ok := true
	if item.Interface != "" {
		if !validIfName(item.Interface) {
			c.add(vkey, "interface %q is not a valid interface name (%s)", item.Interface, ifNameRule)
			ok = false
		}
		pl.Interface = item.Interface
	}
	if pl.Label != "" {
		if msg := checkLabel(pl.Label, pl.Interface, p.Addr()); msg != "" {
			c.add(vkey, "label %q %s", pl.Label, msg)
			ok = false
		}
	}
	return pl, ok
}

// maxLabelLen is the longest IPv4 address label the kernel keeps
// (IFNAMSIZ less the terminating NUL).
const maxLabelLen = 15

// checkLabel says why label cannot be the label of address a on
// interface ifname, or "".
func checkLabel(label, ifname string, a netip.Addr) string {
	switch {
	case !labelsSupported:
		return "cannot be set: address labels are not supported on Windows"
	case a.Is6():
		return "cannot be set: only IPv4 addresses have labels"
	case !strings.HasPrefix(label, ifname):
		return fmt.Sprintf("must begin with the interface name, as %q does", ifname+":1")
	case len(label) > maxLabelLen:
		return fmt.Sprintf("is %d bytes long; a label holds at most %d", len(label), maxLabelLen)
	case strings.ContainsFunc(label, func(r rune) bool { return r <= ' ' || r == '/' || r == 0x7f }):
		return "must not contain spaces, '/' or control characters"
	}
	return ""
}

// buildAnnounce checks an instance's announce_count, announce_interval
// and announce_refresh.
func buildAnnounce(r *rawInstance, out *Instance, key func(string) string, c *collector) {
	if c.valid(key("announce_count"), r.AnnounceCount.problem) {
		if v := r.AnnounceCount.val; v < 1 || v > 100 {
			c.add(key("announce_count"), "must be 1..100, not %d", v)
		}
		out.Announce.Count = r.AnnounceCount.val
	}
	if c.valid(key("announce_interval"), r.AnnounceInterval.problem) {
		if v := r.AnnounceInterval.val; v < time.Millisecond || v > 10*time.Second {
			c.add(key("announce_interval"), "must be 1ms..10s, not %s", v)
		}
		out.Announce.Interval = r.AnnounceInterval.val
	}
	if c.valid(key("announce_refresh"), r.AnnounceRefresh.problem) {
		if v := r.AnnounceRefresh.val; v != 0 && v < time.Second {
			c.add(key("announce_refresh"), "must be 0 (off) or at least 1s, not %s", v)
		}
		out.Announce.Refresh = r.AnnounceRefresh.val
	}
}

// parseVIP parses a VIP: an address (a host address, /32 or /128), or
// an address with the prefix length of its subnet.
func parseVIP(s string) (netip.Prefix, string) {
	var p netip.Prefix
	if strings.Contains(s, "/") {
		var err error
		if p, err = netip.ParsePrefix(s); err != nil {
			return netip.Prefix{}, fmt.Sprintf("%q is not an IP address or an address with a prefix length (\"192.0.2.10/24\")", s)
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, fmt.Sprintf("%q is not an IP address", s)
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	a := p.Addr()
	kind := ""
	switch {
	case a.Zone() != "":
		return netip.Prefix{}, fmt.Sprintf("%q cannot be a VIP: remove the zone", s)
	case a.Is4In6():
		return netip.Prefix{}, fmt.Sprintf("%q cannot be a VIP: it is an IPv4-mapped IPv6 address; write %q", s, a.Unmap())
	case a.IsUnspecified():
		kind = "unspecified"
	case a.IsLoopback():
		kind = "a loopback address"
	case a.IsMulticast():
		kind = "multicast"
	case a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		kind = "the broadcast address"
	case a.Is6() && a.IsLinkLocalUnicast():
		kind = "an IPv6 link-local address"
	case p.Bits() == 0:
		return netip.Prefix{}, fmt.Sprintf("%q cannot be a VIP: a prefix length of 0 would put every address on the link", s)
	case subnetEdge(p) != "":
		kind = subnetEdge(p)
	}
	if kind != "" {
		return netip.Prefix{}, fmt.Sprintf("%q cannot be a VIP: it is %s", s, kind)
	}
	return p, ""
}

// subnetEdge says whether the address of p is the network address of
// its subnet (IPv4 up to /30, IPv6 up to /126: the subnet-router
// anycast address) or the broadcast address of its IPv4 subnet, or "".
func subnetEdge(p netip.Prefix) string {
	a, bits := p.Addr(), p.Bits()
	if bits >= a.BitLen()-1 {
		return ""
	}
	subnet := p.Masked()
	if a == subnet.Addr() {
		return "the network address of its subnet " + subnet.String()
	}
	if a.Is4() {
		b := a.As4()
		n := subnet.Addr().As4()
		host := uint32(1)<<(32-bits) - 1
		last := (uint32(n[0])<<24 | uint32(n[1])<<16 | uint32(n[2])<<8 | uint32(n[3])) | host
		if uint32(b[0])<<24|uint32(b[1])<<16|uint32(b[2])<<8|uint32(b[3]) == last {
			return "the broadcast address of its subnet " + subnet.String()
		}
	}
	return ""
}

// ParseVIP reads a VIP as the vips key does: an address (a host
// address, /32 or /128) or an address with the prefix length of its
// subnet. The error says why havip refuses it.
func ParseVIP(s string) (netip.Prefix, error) {
	p, msg := parseVIP(s)
	if msg != "" {
		return netip.Prefix{}, errors.New(msg)
	}
	return p, nil
}

// CheckLabel says why label cannot be the label of the VIP a on
// interface ifname, as the label of a VIP table does; nil when it can.
func CheckLabel(label, ifname string, a netip.Addr) error {
	if msg := checkLabel(label, ifname, a); msg != "" {
		return fmt.Errorf("label %q %s", label, msg)
	}
	return nil
}

// VIPKey names VIP j of instance i in messages, as the configuration's
// own errors do: `instance[0] "web": vips[1]`.
func (c *Config) VIPKey(i, j int) string {
	return joinKey(itemKey("instance", i, c.Instances[i].Name), fmt.Sprintf("vips[%d]", j))
}
