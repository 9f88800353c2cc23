//go:build !windows

package preflight

import (
	"os"
	"syscall"
)

// modeBits: file modes say who may read and change a file.
const modeBits = true

// fileOwner returns the uid that owns a file.
func fileOwner(fi os.FileInfo) (uint32, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return st.Uid, true
}
