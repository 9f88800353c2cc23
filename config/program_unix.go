//go:build !windows

package config

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/havip/havip/internal/proc"
)

// programProblem says why the program of a track script or notify
// command must not run: its file, or a directory on its path (symbolic
// links followed), can be changed by someone other than root, the user
// running havip or the command's own user (cred; nil runs it as the
// daemon), who could then run what they like as that user. It is
// keepalived's enable_script_security, always on: havip runs its
// commands as root unless told otherwise. A program that cannot be
// found is no problem here: its runs fail, and say why.
//
// Only the program is checked, as keepalived does: a script given to
// an interpreter (["/bin/sh", "/etc/havip/check.sh"]) must be kept safe
// by its owner.
func programProblem(program string, cred *proc.Credential) string {
	path := program
	if !strings.Contains(program, "/") {
		p, err := exec.LookPath(program)
		if err != nil {
			return ""
		}
		path = p
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return ""
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return ""
	}
	as := "root"
	if cred != nil {
		as = userName(cred.UID)
	}
	seen := map[string]bool{}
	for _, p := range append(pathChain(filepath.Dir(abs)), pathChain(real)...) {
		if seen[p] {
			continue
		}
		seen[p] = true
		fi, err := os.Stat(p)
		if err != nil {
			continue
		}
		if who, fix := changeableBy(p, fi, cred); who != "" {
			return fmt.Sprintf("%q runs as %s, but %s can be changed by %s, who could then run commands as %s through it; run: %s",
				program, as, p, who, as, fix)
		}
	}
	return ""
}

// pathChain returns p and every directory above it, from the root down.
func pathChain(p string) []string {
	var out []string
	for {
		out = append(out, p)
		parent := filepath.Dir(p)
		if parent == p {
			break
		}
		p = parent
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// changeableBy says who, besides root, the daemon's user and the
// command's, can change the file or directory p, and the command that
// stops it; "" when nobody. A directory with the sticky bit (/tmp)
// lets others add files, not replace those of root.
func changeableBy(p string, fi os.FileInfo, cred *proc.Credential) (who, fix string) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "", ""
	}
	if st.Uid != 0 && int(st.Uid) != os.Geteuid() && (cred == nil || st.Uid != cred.UID) {
		return "its owner, " + userName(st.Uid), "chown root: " + p
	}
	perm := fi.Mode().Perm()
	if fi.IsDir() && fi.Mode()&os.ModeSticky != 0 {
		return "", ""
	}
	if perm&0o002 != 0 {
		return fmt.Sprintf("every user (mode %04o)", perm), "chmod o-w " + p
	}
	if perm&0o020 != 0 && st.Gid != 0 && (cred == nil || st.Gid != cred.GID) {
		return fmt.Sprintf("group %s (mode %04o)", groupName(st.Gid), perm), "chmod g-w " + p
	}
	return "", ""
}

// groupName names a gid for messages: "gid 100 (users)".
func groupName(gid uint32) string {
	s := "gid " + strconv.FormatUint(uint64(gid), 10)
	if g, err := user.LookupGroupId(strconv.FormatUint(uint64(gid), 10)); err == nil {
		s += " (" + g.Name + ")"
	}
	return s
}
