//go:build !linux

package testbed

import (
	"errors"
	"net/netip"
)

// HolderProbe reads the nodes' eth0 addresses; Linux only.
type HolderProbe struct{}

// OpenHolderProbe fails: network namespaces are Linux only.
func (n *Net) OpenHolderProbe() (*HolderProbe, error) {
	return nil, errors.New("testbed: holder probes need Linux network namespaces")
}

// Holders is never reached.
func (p *HolderProbe) Holders(netip.Addr) ([]int, error) {
	return nil, errors.New("testbed: holder probes need Linux network namespaces")
}

// HoldersAll is never reached.
func (p *HolderProbe) HoldersAll([]netip.Addr) (map[netip.Addr][]int, error) {
	return nil, errors.New("testbed: holder probes need Linux network namespaces")
}

// Close does nothing.
func (p *HolderProbe) Close() error { return nil }
