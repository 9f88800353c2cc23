package preflight

import (
	"os"
	"path"
	"strconv"
	"strings"
)

// sysctlKey is the dotted name of /proc/sys/<parts...>. A dot inside a
// part (an interface such as eth0.100) is written as a slash, as
// sysctl(8) does.
func sysctlKey(parts ...string) string {
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = strings.ReplaceAll(p, ".", "/")
	}
	return strings.Join(out, ".")
}

// readSysctl reads an integer from /proc/sys/<parts...>. ok is false when
// the file is missing or does not hold an integer.
func (c *checker) readSysctl(parts ...string) (int, bool) {
	data, err := os.ReadFile(c.path(path.Join(append([]string{"/proc/sys"}, parts...)...)))
	if err != nil {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return 0, false
	}
	return n, true
}

// confValue is the value the kernel applies for an interface setting
// that takes the highest of conf/all and conf/<ifname> (arp_ignore and
// arp_announce), with the key that sets it.
func (c *checker) confMax(family, ifname, name string) (val int, key string, ok bool) {
	all, okAll := c.readSysctl("net", family, "conf", "all", name)
	dev, okDev := c.readSysctl("net", family, "conf", ifname, name)
	switch {
	case okAll && okDev && dev > all:
		return dev, sysctlKey("net", family, "conf", ifname, name), true
	case okAll:
		return all, sysctlKey("net", family, "conf", "all", name), true
	case okDev:
		return dev, sysctlKey("net", family, "conf", ifname, name), true
	}
	return 0, "", false
}

func (c *checker) sysctls() {
	var v4, v6 bool
	for _, in := range c.cfg.Instances {
		for _, p := range in.VIPs {
			if p.Addr().Is4() {
				v4 = true
			} else {
				v6 = true
			}
		}
	}
	for _, in := range c.interfaceNames() {
		hasV4, hasV6 := false, false
		for _, inst := range c.cfg.Instances {
			if inst.Interface != in {
				continue
			}
			for _, p := range inst.VIPs {
				hasV4 = hasV4 || p.Addr().Is4()
				hasV6 = hasV6 || p.Addr().Is6()
			}
		}
		if hasV4 {
			c.arpSysctls(in)
		}
		if hasV6 {
			if v, ok := c.readSysctl("net", "ipv6", "conf", in, "disable_ipv6"); ok && v != 0 {
				key := sysctlKey("net", "ipv6", "conf", in, "disable_ipv6")
				c.add(Error, "sysctl", sysctlFix(key, "0"),
					"%s = %d: IPv6 is off on %s, its IPv6 VIPs cannot be added", key, v, in)
			}
		}
	}
	for _, f := range []struct {
		family string
		on     bool
	}{{"ipv4", v4}, {"ipv6", v6}} {
		if !f.on {
			continue
		}
		if v, ok := c.readSysctl("net", f.family, "ip_nonlocal_bind"); ok && v == 0 {
			key := sysctlKey("net", f.family, "ip_nonlocal_bind")
			c.add(Info, "sysctl", "only if a service binds a VIP: "+sysctlFix(key, "1"),
				"%s = 0: a service that binds a VIP itself (not the wildcard address) fails to start while this node is backup", key)
		}
	}
}

func (c *checker) arpSysctls(ifname string) {
	if v, key, ok := c.confMax("ipv4", ifname, "arp_ignore"); ok {
		allKey := sysctlKey("net", "ipv4", "conf", "all", "arp_ignore")
		switch {
		case v == 0:
			c.add(Info, "sysctl", "if several interfaces share a segment: "+sysctlFix(allKey, "1"),
				"%s = 0: this host answers ARP for a VIP on every interface, not only on %s", key, ifname)
		case v >= 4:
			// 8 answers nothing; 4 to 7 are reserved and answer nothing either.
			c.add(Error, "sysctl", sysctlFix(key, "1"),
				"%s = %d: %s answers no ARP request, so nobody reaches the VIPs on it", key, v, ifname)
		}
	}
	if v, key, ok := c.confMax("ipv4", ifname, "arp_announce"); ok && v == 0 {
		allKey := sysctlKey("net", "ipv4", "conf", "all", "arp_announce")
		c.add(Info, "sysctl", sysctlFix(allKey, "2"),
			"%s = 0: ARP requests from %s may carry a VIP as their source, so neighbours keep VIP entries this host refreshes; 2 uses the interface's own address",
			key, ifname)
	}
	// promote_secondaries: the kernel uses conf/<ifname> (all only sets the
	// default for new interfaces).
	if v, ok := c.readSysctl("net", "ipv4", "conf", ifname, "promote_secondaries"); ok && v == 0 {
		key := sysctlKey("net", "ipv4", "conf", ifname, "promote_secondaries")
		c.add(Info, "sysctl", sysctlFix(key, "1"),
			"%s = 0: deleting the first address of a subnet on %s deletes the other addresses of that subnet too", key, ifname)
	}
}
