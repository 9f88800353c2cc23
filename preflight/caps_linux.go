package preflight

import "golang.org/x/sys/unix"

// SystemCapabilities returns the capabilities of Needed that this
// process lacks in its effective set.
func SystemCapabilities() ([]Capability, error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return nil, err
	}
	return missingFrom(uint64(data[1].Effective)<<32 | uint64(data[0].Effective)), nil
}
