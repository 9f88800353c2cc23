package config

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// DefaultBind is the memberlist address used when node.bind is not set.
const DefaultBind = "0.0.0.0:7946"

// buildNode checks [node] and fills cfg.Node, but for node.state_dir
// (see buildStateDir).
func buildNode(f *rawFile, cfg *Config, c *collector) {
	n := &f.Node
	if c.valid("node.name", n.Name.problem) && (n.Name.set || n.Name.val != "") {
		if msg := checkName(n.Name.val, maxNameLen); msg != "" {
			if n.Name.set {
				c.add("node.name", "%q %s", n.Name.val, msg)
			} else {
				c.add("node.name", "not set, and the hostname %q %s; set node.name", n.Name.val, msg)
			}
		}
		cfg.Node.Name = n.Name.val
	}

	bindPort := uint16(DefaultPort)
	if c.valid("node.bind", n.Bind.problem) {
		ap, msg := parseAddrPort(n.Bind.val, DefaultPort)
		if msg == "" {
			msg = badUse(ap.Addr(), "a bind address", false)
		}
		if msg != "" {
			c.add("node.bind", "%s", msg)
		} else {
			cfg.Node.Bind = ap
			bindPort = ap.Port()
		}
	}

	if c.valid("node.advertise", n.Advertise.problem) {
		switch {
		case n.Advertise.val != "":
			// Without a port, peers reach us on the port we bind.
			ap, msg := parseAddrPort(n.Advertise.val, bindPort)
			if msg == "" {
				msg = badUse(ap.Addr(), "an advertise address", true)
			}
			if msg != "" {
				c.add("node.advertise", "%s", msg)
			} else {
				cfg.Node.Advertise = ap
			}
		case cfg.Node.Bind.IsValid() && !cfg.Node.Bind.Addr().IsUnspecified():
			cfg.Node.Advertise = cfg.Node.Bind
		default:
			// Bound to every address: memberlist picks one to advertise.
		}
	}
}

// buildStateDir checks node.state_dir. It runs after [status] is built,
// so that a problem with the state directory is listed last.
func buildStateDir(f *rawFile, cfg *Config, dir string, c *collector) {
	if c.valid("node.state_dir", f.Node.StateDir.problem) {
		if f.Node.StateDir.val == "" {
			c.add("node.state_dir", "must not be empty")
		}
		cfg.Node.StateDir = resolve(dir, f.Node.StateDir.val)
	}
}

// parseAddrPort parses "ip", "[ipv6]" or "ip:port"; an address without a
// port gets defPort. It returns a message instead of an error.
func parseAddrPort(s string, defPort uint16) (netip.AddrPort, string) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		if ap.Port() == 0 {
			return netip.AddrPort{}, fmt.Sprintf("%q: port must be 1..65535, not 0", s)
		}
		return ap, ""
	}
	h := s
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		h = h[1 : len(h)-1]
	}
	if a, err := netip.ParseAddr(h); err == nil {
		return netip.AddrPortFrom(a, defPort), ""
	}
	if host, port, err := net.SplitHostPort(s); err == nil {
		if _, err := netip.ParseAddr(host); err == nil {
			return netip.AddrPort{}, fmt.Sprintf("%q: port %q is not a number in 1..65535", s, port)
		}
	}
	return netip.AddrPort{}, fmt.Sprintf(`%q is not an IP address or "IP:port"`, s)
}
