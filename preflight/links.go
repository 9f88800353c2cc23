package preflight

import (
	"errors"
	"net"
)

// SystemLinks looks interfaces up in the current network namespace.
type SystemLinks struct{}

// Link implements Links with the standard library's interface list.
func (SystemLinks) Link(name string) (LinkInfo, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		// net's "no such network interface" error is not exported.
		var oerr *net.OpError
		if errors.As(err, &oerr) && oerr.Err != nil && oerr.Err.Error() == "no such network interface" {
			return LinkInfo{}, ErrNoLink
		}
		return LinkInfo{}, err
	}
	return LinkInfo{Up: ifi.Flags&net.FlagUp != 0, Running: ifi.Flags&net.FlagRunning != 0}, nil
}
