package preflight

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Directories where the operating system keeps addresses it configures
// at boot.
const (
	nmDir      = "/etc/NetworkManager/system-connections"
	ifcfgDir   = "/etc/sysconfig/network-scripts"
	netplanDir = "/etc/netplan"
)

// persistentVIPs looks for VIPs that the operating system adds by itself:
// every member would then hold them and answer ARP for them.
func (c *checker) persistentVIPs() {
	vips := c.vips()
	if len(vips) == 0 {
		return
	}
	c.nmKeyfiles(vips)
	c.ifcfgFiles(vips)
	c.netplanFiles(vips)
}

// glob lists the files matching pattern in the system directory dir,
// sorted, as (path on the host, path to read).
func (c *checker) glob(dir, pattern string) [][2]string {
	matches, _ := filepath.Glob(filepath.Join(c.path(dir), pattern))
	sort.Strings(matches)
	out := make([][2]string, 0, len(matches))
	for _, m := range matches {
		out = append(out, [2]string{path.Join(dir, filepath.Base(m)), m})
	}
	return out
}

// persistentWhy says why a VIP in the OS configuration is wrong.
func persistentWhy(a netip.Addr) string {
	if a.Is4() {
		return "every server that boots with it answers ARP for it, whichever is master"
	}
	return "every server that boots with it answers neighbour solicitations for it, whichever is master"
}

// parseAddrField parses "192.168.0.22/32", "192.168.0.22" or
// "192.168.0.22/32,192.168.0.1" (a keyfile address with its gateway).
func parseAddrField(s string) (netip.Prefix, bool) {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, ','); i >= 0 {
		s = s[:i]
	}
	s = strings.Trim(s, `"'`)
	if p, err := netip.ParsePrefix(s); err == nil {
		return p, true
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	return netip.Prefix{}, false
}

// nmKeyfiles reads NetworkManager keyfiles, where
// `nmcli connection modify … +ipv4.addresses` stores addresses as
// address1=, address2=… (addresses1= in old files) in [ipv4] and [ipv6].
func (c *checker) nmKeyfiles(vips map[netip.Addr]string) {
	for _, f := range c.glob(nmDir, "*.nmconnection") {
		data, err := os.ReadFile(f[1])
		if err != nil {
			c.add(Warning, "persistent-vip", "", "cannot read %s: %v", f[0], err)
			continue
		}
		id := strings.TrimSuffix(path.Base(f[0]), ".nmconnection")
		type hit struct {
			family string
			p      netip.Prefix
			line   int
		}
		var hits []hit
		section := ""
		for i, line := range strings.Split(string(data), "\n") {
			line = strings.TrimSpace(line)
			if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
				section = line[1 : len(line)-1]
				continue
			}
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				continue
			}
			k = strings.TrimSpace(k)
			if section == "connection" && k == "id" {
				id = strings.TrimSpace(v)
				continue
			}
			if section != "ipv4" && section != "ipv6" {
				continue
			}
			if !isNumbered(k, "address") && !isNumbered(k, "addresses") {
				continue
			}
			// addresses1=a/32;b/32; in old files lists several.
			for _, field := range strings.Split(v, ";") {
				if p, ok := parseAddrField(field); ok {
					if _, isVIP := vips[p.Addr()]; isVIP {
						hits = append(hits, hit{section, p, i + 1})
					}
				}
			}
		}
		for _, h := range hits {
			c.add(Error, "persistent-vip",
				fmt.Sprintf("nmcli connection modify %q -%s.addresses %s && nmcli connection up %q", id, h.family, h.p, id),
				"VIP %s is a permanent address of NetworkManager profile %q (%s line %d): %s",
				h.p.Addr(), id, f[0], h.line, persistentWhy(h.p.Addr()))
		}
	}
}

// isNumbered reports whether k is prefix followed by an optional number.
func isNumbered(k, prefix string) bool {
	rest, ok := strings.CutPrefix(k, prefix)
	if !ok {
		return false
	}
	if rest == "" {
		return true
	}
	_, err := strconv.Atoi(rest)
	return err == nil
}

// ifcfgFiles reads the legacy network-scripts files of CentOS/RHEL:
// IPADDR, IPADDRn with PREFIXn, IPV6ADDR and IPV6ADDR_SECONDARIES, and
// alias files such as ifcfg-eth0:1.
func (c *checker) ifcfgFiles(vips map[netip.Addr]string) {
	for _, f := range c.glob(ifcfgDir, "ifcfg-*") {
		data, err := os.ReadFile(f[1])
		if err != nil {
			c.add(Warning, "persistent-vip", "", "cannot read %s: %v", f[0], err)
			continue
		}
		base := strings.TrimPrefix(path.Base(f[0]), "ifcfg-")
		if base == "lo" {
			continue
		}
		vars := map[string]string{}
		lines := map[string]int{}
		sc := bufio.NewScanner(strings.NewReader(string(data)))
		for n := 1; sc.Scan(); n++ {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				continue
			}
			k = strings.TrimSpace(k)
			vars[k] = strings.Trim(strings.TrimSpace(v), `"'`)
			lines[k] = n
		}
		name := vars["NAME"]
		if name == "" {
			name = "System " + base // NetworkManager's name for ifcfg files without NAME=
		}
		alias := strings.Contains(base, ":")
		report := func(key string, p netip.Prefix) {
			family := "ipv4"
			if p.Addr().Is6() {
				family = "ipv6"
			}
			fix := fmt.Sprintf("nmcli connection modify %q -%s.addresses %s && nmcli connection up %q\n(or delete %s from %s and restart the network)",
				name, family, p, name, key, f[0])
			if alias {
				dev := vars["DEVICE"]
				if dev == "" {
					dev = base
				}
				dev, _, _ = strings.Cut(dev, ":")
				fix = fmt.Sprintf("rm %s && ip address del %s dev %s", f[0], p, dev)
			}
			c.add(Error, "persistent-vip", fix, "VIP %s is a permanent address in %s (%s, line %d): %s",
				p.Addr(), f[0], key, lines[key], persistentWhy(p.Addr()))
		}
		keys := make([]string, 0, len(vars))
		for k := range vars {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			v := vars[k]
			switch {
			case isNumbered(k, "IPADDR"):
				a, err := netip.ParseAddr(v)
				if err != nil {
					continue
				}
				if _, isVIP := vips[a]; !isVIP {
					continue
				}
				n := strings.TrimPrefix(k, "IPADDR")
				bits := 32
				if pfx, err := strconv.Atoi(vars["PREFIX"+n]); err == nil {
					bits = pfx
				} else if mask, err := netip.ParseAddr(vars["NETMASK"+n]); err == nil && mask.Is4() {
					bits = maskBits(mask)
				}
				report(k, netip.PrefixFrom(a, bits))
			case k == "IPV6ADDR" || k == "IPV6ADDR_SECONDARIES":
				for _, field := range strings.Fields(v) {
					if p, ok := parseAddrField(field); ok {
						if _, isVIP := vips[p.Addr()]; isVIP {
							report(k, p)
						}
					}
				}
			}
		}
	}
}

func maskBits(mask netip.Addr) int {
	n := 0
	for _, b := range mask.AsSlice() {
		for b&0x80 != 0 {
			n++
			b <<= 1
		}
	}
	return n
}

// netplanFiles scans netplan YAML line by line for VIPs in an
// `addresses:` list of an interface (block or flow style; nameservers'
// addresses are not interface addresses).
func (c *checker) netplanFiles(vips map[netip.Addr]string) {
	for _, f := range c.glob(netplanDir, "*.yaml") {
		data, err := os.ReadFile(f[1])
		if err != nil {
			c.add(Warning, "persistent-vip", "", "cannot read %s: %v", f[0], err)
			continue
		}
		type frame struct {
			indent int
			key    string
		}
		var stack []frame
		all := strings.Split(string(data), "\n")
		for i, raw := range all {
			text := raw
			if j := strings.Index(text, "#"); j >= 0 {
				text = text[:j]
			}
			if strings.TrimSpace(text) == "" {
				continue
			}
			indent := len(text) - len(strings.TrimLeft(text, " "))
			body := strings.TrimSpace(text)
			item := strings.HasPrefix(body, "- ") || body == "-"
			if item {
				body = strings.TrimSpace(strings.TrimPrefix(body, "-"))
			}
			// A list item belongs to the key above it even at the same
			// indentation; a key closes the keys at its indentation or deeper.
			if !item {
				for len(stack) > 0 && stack[len(stack)-1].indent >= indent {
					stack = stack[:len(stack)-1]
				}
			} else {
				for len(stack) > 0 && stack[len(stack)-1].indent > indent {
					stack = stack[:len(stack)-1]
				}
			}
			value := body
			if !item {
				k, v, ok := strings.Cut(body, ":")
				if !ok {
					continue
				}
				k = strings.Trim(strings.TrimSpace(k), `"'`)
				stack = append(stack, frame{indent, k})
				value = strings.TrimSpace(v)
			} else if k, v, ok := cutKey(body); ok && k == "addresses" {
				// "- addresses: [...]" is unusual but legal.
				stack = append(stack, frame{indent + 2, k})
				value = v
			}
			if len(stack) == 0 || stack[len(stack)-1].key != "addresses" {
				continue
			}
			if len(stack) >= 2 && stack[len(stack)-2].key == "nameservers" {
				continue
			}
			flow := strings.HasPrefix(value, "[")
			value = strings.Trim(value, "[]")
			for _, field := range strings.Split(value, ",") {
				// "- 192.168.0.22/32:" opens a mapping with lifetime or label.
				field = strings.TrimSuffix(strings.TrimSpace(field), ":")
				p, ok := parseAddrField(field)
				if !ok {
					continue
				}
				if _, isVIP := vips[p.Addr()]; !isVIP {
					continue
				}
				dev := "the interface"
				for j := len(stack) - 2; j >= 1; j-- {
					if s := stack[j-1].key; s == "ethernets" || s == "bonds" || s == "vlans" || s == "bridges" {
						dev = stack[j].key
						break
					}
				}
				fix := fmt.Sprintf("delete line %d of %s (%s), then run: netplan apply", i+1, f[0], strings.TrimSpace(raw))
				// An address written as a mapping ("- 10.0.0.5/32:" with
				// lifetime or label below) takes its deeper lines along.
				if last := blockEnd(all, i, indent); last > i {
					fix = fmt.Sprintf("delete lines %d-%d of %s (%s and what is under it), then run: netplan apply",
						i+1, last+1, f[0], strings.TrimSpace(raw))
				}
				if flow {
					fix = fmt.Sprintf("remove %s from the addresses list on line %d of %s, then run: netplan apply", field, i+1, f[0])
				}
				c.add(Error, "persistent-vip", fix,
					"VIP %s is a permanent address of %s in netplan (%s line %d): %s",
					p.Addr(), dev, f[0], i+1, persistentWhy(p.Addr()))
			}
		}
	}
}

// cutKey splits "key: value" when key looks like a YAML key.
func cutKey(s string) (string, string, bool) {
	k, v, ok := strings.Cut(s, ":")
	if !ok || strings.ContainsAny(k, " /[") {
		return "", "", false
	}
	return k, strings.TrimSpace(v), true
}

// blockEnd returns the last line after line i that is indented deeper
// than indent (skipping blank and comment lines inside), or i.
func blockEnd(lines []string, i, indent int) int {
	last := i
	for j := i + 1; j < len(lines); j++ {
		t := strings.TrimSpace(lines[j])
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		if len(lines[j])-len(strings.TrimLeft(lines[j], " ")) <= indent {
			break
		}
		last = j
	}
	return last
}
