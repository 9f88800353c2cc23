package config

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
)

// maxSocketPath is the longest path a unix socket address can hold
// (sun_path is 108 bytes with its terminating NUL).
const maxSocketPath = 107

// buildStatus checks [status] and fills cfg.Status.
func buildStatus(f *rawFile, cfg *Config, dir string, opts ParseOptions, c *collector) {
	if c.valid("status.socket", f.Status.Socket.problem) {
		s := f.Status.Socket.val
		switch {
		case s == "":
			c.add("status.socket", "must not be empty")
		default:
			s = resolve(dir, s)
			if len(s) > maxSocketPath {
				c.add("status.socket", "%q is %d bytes long; a unix socket path holds at most %d", s, len(s), maxSocketPath)
			}
		}
		cfg.Status.Socket = s
	}
	if c.valid("status.socket_group", f.Status.SocketGroup.problem) {
		cfg.Status.SocketGroup = f.Status.SocketGroup.val
		if !opts.SkipKeyFile {
			if _, err := cfg.Status.SocketGroupID(); err != nil {
				c.add("status.socket_group", "%v", err)
			}
		}
	}
	if c.valid("status.metrics", f.Status.Metrics.problem) {
		if m := f.Status.Metrics.val; m != "" {
			if msg := checkListenAddr(m); msg != "" {
				c.add("status.metrics", "%s", msg)
			}
			cfg.Status.Metrics = m
		}
	}
}

// checkListenAddr says why s is not a "host:port" TCP address to listen
// on, or "". The host may be empty (every address), an IP address or
// "localhost".
func checkListenAddr(s string) string {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Sprintf(`%q is not "host:port" (for example "127.0.0.1:9650")`, s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Sprintf("%q: port %q is not a number in 1..65535", s, port)
	}
	if host != "" && host != "localhost" {
		if _, err := netip.ParseAddr(host); err != nil {
			return fmt.Sprintf("%q: %q is not an IP address", s, host)
		}
	}
	return ""
}

// SocketGroupID returns the ID of SocketGroup, -1 when it is empty.
func (s Status) SocketGroupID() (int, error) {
	if s.SocketGroup == "" {
		return -1, nil
	}
	return lookupGroup(s.SocketGroup)
}
