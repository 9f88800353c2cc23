//go:build !windows

package config

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
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
		problems = append(problems, fmt.Sprintf("%q belongs to %s; it must belong to root or the user running havip (uid %d); run: chown %s %s",
			path, userName(st.Uid), os.Geteuid(), chownTarget(), path))
	}
	return problems
}

// chownTarget is what to give a file to, in a chown command, so that
// havip accepts it: root (and its group), or the user running havip.
func chownTarget() string {
	uid := os.Geteuid()
	if uid == 0 {
		return "root:"
	}
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return u.Username
	}
	return strconv.Itoa(uid)
}
