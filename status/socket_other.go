//go:build !windows

package status

import (
	"fmt"
	"os"
)

// restrictSocket gives the socket mode 0660: root and the socket's group
// may talk to the daemon.
func restrictSocket(path string) error {
	if err := os.Chmod(path, 0o660); err != nil {
		return fmt.Errorf("setting mode of status socket %s: %w", path, err)
	}
	return nil
}
