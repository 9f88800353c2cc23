//go:build !windows

package config

import (
	"fmt"
	"os"
	"strings"
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

// keyAccessProblems refuses a key file other users may read or write,
// from its mode bits.
func keyAccessProblems(path string, fi os.FileInfo) []string {
	perm := fi.Mode().Perm()
	var who []string
	if perm&0o004 != 0 {
		who = append(who, "readable")
	}
	if perm&0o002 != 0 {
		who = append(who, "writable")
	}
	if len(who) == 0 {
		return nil
	}
	return []string{fmt.Sprintf("%q is %s by other users (mode %04o); run: chmod 600 %s",
		path, strings.Join(who, " and "), perm, path)}
}
