//go:build !windows

package config

import (
	"fmt"
	"os"
	"syscall"
)

// secretAccessProblems refuses a cloud credential file that anyone but
// its owner may read or write (stricter than the cluster key: no group
// access either), or whose owner is neither root nor the user running
// havip.
func secretAccessProblems(path string, fi os.FileInfo) []string {
	var problems []string
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		problems = append(problems, fmt.Sprintf("%q can be read or written by other users (mode %04o); it must be readable by its owner only: run chmod 600 %s", path, perm, path))
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != 0 && int(st.Uid) != os.Geteuid() {
		problems = append(problems, fmt.Sprintf("%q belongs to uid %d; it must belong to root", path, st.Uid))
	}
	return problems
}
