//go:build !linux && !windows

package vip

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"time"
)

var errUnsupported = errors.New("vip: only supported on linux")

// Manager adds and removes the VIPs of one interface. On this platform
// every method fails.
type Manager struct {
	ifname string
}

// New returns a Manager for the interface ifname.
func New(ifname string, opts ...Option) *Manager {
	_ = buildOptions(opts)
	return &Manager{ifname: ifname}
}

// Close does nothing on this platform.
func (m *Manager) Close() error { return nil }

// Name returns the name of the managed interface.
func (m *Manager) Name() string { return m.ifname }

// Add fails: only supported on linux.
func (m *Manager) Add(p netip.Prefix, opts ...AddrOption) error { return errUnsupported }

// AddFor fails: only supported on linux.
func (m *Manager) AddFor(p netip.Prefix, lifetime time.Duration, opts ...AddrOption) error {
	return errUnsupported
}

// Renew fails: only supported on linux.
func (m *Manager) Renew(p netip.Prefix, lifetime time.Duration, opts ...AddrOption) error {
	return errUnsupported
}

// Remove fails: only supported on linux.
func (m *Manager) Remove(p netip.Prefix) error { return errUnsupported }

// List fails: only supported on linux.
func (m *Manager) List() ([]netip.Prefix, error) { return nil, errUnsupported }

// Has fails: only supported on linux.
func (m *Manager) Has(p netip.Prefix) (bool, error) { return false, errUnsupported }

// LinkUp fails: only supported on linux.
func (m *Manager) LinkUp() (bool, error) { return false, errUnsupported }

// HardwareAddr fails: only supported on linux.
func (m *Manager) HardwareAddr() (net.HardwareAddr, error) { return nil, errUnsupported }

// Watch fails: only supported on linux.
func (m *Manager) Watch(ctx context.Context, events chan<- Event) error { return errUnsupported }
