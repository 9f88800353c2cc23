//go:build !linux

package preflight

// SystemCapabilities: only Linux has capabilities; elsewhere the
// operating system refuses what the process may not do when it tries.
func SystemCapabilities() ([]Capability, error) { return nil, nil }
