package config

import (
	"errors"

	"github.com/havip/havip/internal/proc"
)

// runAsSupported: commands run as the service's own account on Windows.
const runAsSupported = false

// Credential: Windows commands run as the service's account; another
// user is refused when the file is loaded.
func (r RunAs) Credential() (*proc.Credential, error) {
	if r.IsZero() {
		return nil, nil
	}
	return nil, errors.New("running a command as another user is not supported on Windows")
}
