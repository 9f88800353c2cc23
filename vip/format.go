package vip

import (
	"net/netip"
	"strings"
)

// FormatPrefixes writes prefixes as one comma-separated string, the way
// logs and messages show an instance's VIPs: "192.0.2.10/32,2001:db8::10/128".
// No prefixes give "".
func FormatPrefixes(ps []netip.Prefix) string {
	ss := make([]string, len(ps))
	for i, p := range ps {
		ss[i] = p.String()
	}
	return strings.Join(ss, ",")
}
