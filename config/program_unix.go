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

// programProblem says why a track script or notify command (argv) must
// not run: the file of its program, or a directory on its path
// (symbolic links followed), can be changed by someone other than root,
// the user running havip or the command's own user (cred; nil runs it
// as the daemon), who could then run what they like as that user. It is
// keepalived's enable_script_security, always on: havip runs its
// commands as root unless told otherwise. A program that cannot be
// found is no problem here: its runs fail, and say why.
//
// The program is argv[0], as keepalived checks it, and, for a shell
// given a command line with -c, the program that line starts with when
// it is written as an absolute path: ["/bin/sh", "-c",
// "/etc/havip/check.sh | grep -q ok"] runs /etc/havip/check.sh as surely
// as ["/etc/havip/check.sh"] does (a command keepalived ran through a
// shell is converted to that form). A script handed to an interpreter
// as a file (["/bin/sh", "/etc/havip/check.sh"]) must be kept safe by
// its owner.
func programProblem(argv []string, cred *proc.Credential) string {
	if len(argv) == 0 {
		return ""
	}
	if msg := fileProblem(argv[0], cred); msg != "" {
		return msg
	}
	if p := shellLineProgram(argv); p != "" {
		return fileProblem(p, cred)
	}
	return ""
}

// shells are the programs whose -c option takes a command line.
var shells = map[string]bool{"sh": true, "bash": true, "dash": true, "ash": true, "ksh": true, "mksh": true, "zsh": true}

// shellLineProgram returns the program the command line of a shell run
// with -c starts with, when argv is one and the program is written as
// an absolute path; "" otherwise. Assignments and exec before the
// program are skipped; a first word with quotes or expansions is not
// read.
func shellLineProgram(argv []string) string {
	if !shells[filepath.Base(argv[0])] {
		return ""
	}
	line, withC := "", false
	for i := 1; i < len(argv) && line == ""; i++ {
		a := argv[i]
		switch {
		case a == "--":
			if withC && i+1 < len(argv) {
				line = argv[i+1]
			}
			i = len(argv)
		case strings.HasPrefix(a, "--"):
			// A long option of bash (--norc): no -c in it.
		case len(a) > 1 && (a[0] == '-' || a[0] == '+'):
			withC = withC || a[0] == '-' && strings.Contains(a[1:], "c")
			if strings.HasSuffix(a, "o") {
				i++ // -o OPTION
			}
		case withC:
			line = a
		default:
			return "" // a script file, not a command line
		}
	}
	for _, w := range strings.Fields(line) {
		w, _, _ = strings.Cut(w, ";")
		if cut := strings.IndexAny(w, "|&<>()"); cut >= 0 {
			w = w[:cut]
		}
		switch {
		case w == "exec":
			continue
		case isAssignment(w):
			continue
		case strings.ContainsAny(w, "'\"$`\\*?[~{"):
			return ""
		case strings.HasPrefix(w, "/"):
			return w
		}
		return ""
	}
	return ""
}

// isAssignment says whether a shell word sets a variable (NAME=value).
func isAssignment(w string) bool {
	name, _, ok := strings.Cut(w, "=")
	if !ok || name == "" || name[0] >= '0' && name[0] <= '9' {
		return false
	}
	for _, r := range name {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// fileProblem checks one program's file and the directories above it
// (see programProblem).
func fileProblem(program string, cred *proc.Credential) string {
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
