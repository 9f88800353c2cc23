package vip_test

import (
	"net/netip"
	"testing"

	"github.com/havip/havip/vip"
)

func TestFormatPrefixes(t *testing.T) {
	p := netip.MustParsePrefix
	for _, tc := range []struct {
		name string
		in   []netip.Prefix
		want string
	}{
		{"nil", nil, ""},
		{"empty", []netip.Prefix{}, ""},
		{"one", []netip.Prefix{p("192.0.2.10/32")}, "192.0.2.10/32"},
		// The order is kept: it is the order of the configuration.
		{"mixed", []netip.Prefix{p("2001:db8::10/128"), p("192.0.2.10/32"), p("192.0.2.9/32")}, "2001:db8::10/128,192.0.2.10/32,192.0.2.9/32"},
		// The zero Prefix prints as "invalid Prefix" rather than vanishing,
		// so a bug upstream shows in the log.
		{"invalid", []netip.Prefix{p("192.0.2.10/32"), {}}, "192.0.2.10/32,invalid Prefix"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := vip.FormatPrefixes(tc.in); got != tc.want {
				t.Errorf("FormatPrefixes(%v) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
