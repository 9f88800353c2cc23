//go:build !linux

package daemon

import (
	"net/netip"
	"time"
)

// systemLifetimes cannot tell the addresses' lifetimes outside Linux:
// every address may be one havip added, as before it read them.
func systemLifetimes(string) (map[netip.Prefix]time.Duration, error) { return nil, nil }
