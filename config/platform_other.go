//go:build !windows

package config

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// DefaultPath is where havip looks for its configuration file.
const DefaultPath = "/etc/havip.toml"

// DefaultSocket is the control socket used when status.socket is not set.
const DefaultSocket = "/run/havip/havip.sock"

// DefaultStateDir is node.state_dir when the file does not set it.
const DefaultStateDir = "/var/lib/havip"

// keygenHint tells how to make a key.
const keygenHint = "head -c 32 /dev/urandom | base64"

// The interface names of this platform.
var (
	validIfName = validLinuxIfName
	ifNameRule  = linuxIfNameRule
)

// labelsSupported: IPv4 address labels exist here.
const labelsSupported = true

// keyAccessProblems refuses a key file that anyone but its owner may
// read or write, or that belongs to another user than root or the one
// running havip: the same rule as for the cloud credentials.
func keyAccessProblems(path string, fi os.FileInfo) []string {
	return secretAccessProblems(path, fi)
}

// configAccessProblems refuses a configuration file that another user
// may change: it names the commands havip runs as root (track scripts,
// notify hooks, the exec cloud provider).
func configAccessProblems(path string, fi os.FileInfo) []string {
	var problems []string
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		who := "its group"
		if perm&0o002 != 0 {
			who = "every user"
		}
		problems = append(problems, fmt.Sprintf("%q can be changed by %s (mode %04o), who could then run commands as root through track scripts, notify hooks or the exec cloud provider; run: chmod go-w %s",
			path, who, perm, path))
	}
	if uid, ok := fileOwner(fi); ok && uid != 0 && int(uid) != os.Geteuid() {
		problems = append(problems, fmt.Sprintf("%q belongs to %s, who could run commands as root through it; run: chown root: %s",
			path, userName(uid), path))
	}
	return append(problems, configDirProblems(path)...)
}

// configDirProblems refuses a directory of the configuration file that
// its group or every user may write to without the sticky bit: whoever
// can write to it can put another file in the configuration's place.
// The directories are the one of path and, when path is a symbolic
// link, the one of the file it leads to.
func configDirProblems(path string) []string {
	dirs := []string{filepath.Dir(path)}
	if real, err := filepath.EvalSymlinks(path); err == nil && filepath.Dir(real) != dirs[0] {
		dirs = append(dirs, filepath.Dir(real))
	}
	var problems []string
	for _, dir := range dirs {
		di, err := os.Stat(dir)
		if err != nil {
			continue
		}
		perm := di.Mode().Perm()
		if perm&0o022 == 0 || di.Mode()&os.ModeSticky != 0 {
			continue
		}
		who := "its group"
		if perm&0o002 != 0 {
			who = "every user"
		}
		problems = append(problems, fmt.Sprintf("the directory %q of the configuration can be changed by %s (mode %04o), who could then put another file in the place of %q and run commands as root through it; run: chmod go-w %s",
			dir, who, perm, path, dir))
	}
	return problems
}

// fileOwner returns the uid that owns a file.
func fileOwner(fi os.FileInfo) (uint32, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return st.Uid, true
}

// userName names a uid for messages: "uid 1000 (alice)".
func userName(uid uint32) string {
	s := "uid " + strconv.FormatUint(uint64(uid), 10)
	if u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10)); err == nil {
		s += " (" + u.Username + ")"
	}
	return s
}

// lookupGroup finds a group by name, or takes a number as the group ID.
func lookupGroup(g string) (int, error) {
	if gid, err := strconv.Atoi(g); err == nil && gid >= 0 {
		return gid, nil
	}
	grp, err := user.LookupGroup(g)
	if err != nil {
		return -1, fmt.Errorf("%q is not a group of this host (create it with: groupadd --system %s)", g, g)
	}
	gid, err := strconv.Atoi(grp.Gid)
	if err != nil {
		return -1, fmt.Errorf("%q has group ID %q, which is not a number", g, grp.Gid)
	}
	return gid, nil
}
