//go:build havip_failpoints

package failpoint

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// Enabled reports whether this build has failpoints.
const Enabled = true

// Inject returns an error wrapping EPERM while the file name exists in
// the directory HAVIP_FAILPOINTS_DIR names, nil otherwise.
func Inject(name string) error {
	dir := os.Getenv(EnvDir)
	if dir == "" {
		return nil
	}
	if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
		return nil
	}
	return fmt.Errorf("failpoint %s: %w", name, syscall.EPERM)
}
