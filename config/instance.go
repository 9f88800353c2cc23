package config

import (
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
func buildInstances(f *rawFile, cfg *Config, peerIPs map[netip.Addr]string, c *collector) {
	if n := len(f.Instances); n > MaxInstances {
		c.add("instance", "%d instances; at most %d fit in the node metadata every member publishes", n, MaxInstances)
	}
	names := map[string]int{}
	vips := map[netip.Prefix]string{}
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
		buildHealth(r, out, key, c)
	}
}

// buildVIPs checks an instance's vips; at names the instance in messages.
// No two instances may share a VIP, and no member may own one: vips holds
// the VIPs of the instances before this one, own this node's addresses
// and peerIPs the peers' given as IP addresses, each with where it is set.
func buildVIPs(r *rawInstance, out *Instance, at string, vips map[netip.Prefix]string, own, peerIPs map[netip.Addr]string, c *collector) {
	key := func(k string) string { return joinKey(at, k) }
	if c.valid(key("vips"), r.VIPs.problem) {
		if len(r.VIPs.val) == 0 {
			c.add(key("vips"), "at least one VIP is required")
		}
		out.VIPs = []netip.Prefix{}
		for j, s := range r.VIPs.val {
			vkey := key(fmt.Sprintf("vips[%d]", j))
			p, msg := parseVIP(s)
			if msg != "" {
				c.add(vkey, "%s", msg)
				continue
			}
			if prev, dup := vips[p]; dup {
				c.add(vkey, "%q is already used at %s", s, prev)
				continue
			}
			vips[p] = fmt.Sprintf("%s vips[%d]", at, j)
			if k, ok := own[p.Addr()]; ok {
				c.add(vkey, "%q is this node's own address (%s); a VIP must be an address no member owns", s, k)
			} else if k, ok := peerIPs[p.Addr()]; ok {
				c.add(vkey, "%q is the address of a peer (%s); a VIP must be an address no member owns", s, k)
			}
			out.VIPs = append(out.VIPs, p)
		}
	}
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

// parseVIP parses a VIP: an address, or an address with /32 or /128.
func parseVIP(s string) (netip.Prefix, string) {
	var a netip.Addr
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Sprintf("%q is not an IP address", s)
		}
		if p.Bits() != p.Addr().BitLen() {
			return netip.Prefix{}, fmt.Sprintf("%q must be a host address (/32 or /128)", s)
		}
		a = p.Addr()
	} else {
		var err error
		if a, err = netip.ParseAddr(s); err != nil {
			return netip.Prefix{}, fmt.Sprintf("%q is not an IP address", s)
		}
	}
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
	}
	if kind != "" {
		return netip.Prefix{}, fmt.Sprintf("%q cannot be a VIP: it is %s", s, kind)
	}
	return netip.PrefixFrom(a, a.BitLen()), ""
}

// VIPKey names VIP j of instance i in messages, as the configuration's
// own errors do: `instance[0] "web": vips[1]`.
func (c *Config) VIPKey(i, j int) string {
	return joinKey(itemKey("instance", i, c.Instances[i].Name), fmt.Sprintf("vips[%d]", j))
}
