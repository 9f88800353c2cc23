//go:build !windows

package status

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// restrictSocket gives the socket mode 0660 and, when gid is not
// negative, that group: root and the group's members may talk to the
// daemon.
func restrictSocket(path string, gid int) error {
	if gid >= 0 {
		if err := os.Chown(path, -1, gid); err != nil {
			return fmt.Errorf("giving status socket %s to group %d: %w", path, gid, err)
		}
	}
	if err := os.Chmod(path, 0o660); err != nil {
		return fmt.Errorf("setting mode of status socket %s: %w", path, err)
	}
	return nil
}

// whoMayConnect says who may use the socket, for a user who may not.
func whoMayConnect(socket string) string {
	me := "this user"
	if u, err := user.Current(); err == nil {
		me = "user " + u.Username
	}
	dir := filepath.Dir(socket)
	fi, err := os.Stat(socket)
	if err != nil {
		if di, derr := os.Stat(dir); derr == nil {
			return fmt.Sprintf("%s may not enter its directory %s (mode %04o, group %s); run as root, or open the directory to the socket's group",
				me, dir, di.Mode().Perm(), groupOf(di))
		}
		return fmt.Sprintf("%s may not reach it (%v); run as root", me, err)
	}
	g := groupOf(fi)
	return fmt.Sprintf("the daemon's socket is open to root and group %s only (mode %04o), and %s is neither; run as root (sudo havip …) or as a member of group %s (status.socket_group sets the group)",
		g, fi.Mode().Perm(), me, g)
}

// groupOf names a file's group: its name, else its number.
func groupOf(fi os.FileInfo) string {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "?"
	}
	id := strconv.FormatUint(uint64(st.Gid), 10)
	if g, err := user.LookupGroupId(id); err == nil {
		return g.Name
	}
	return id
}
