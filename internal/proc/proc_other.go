//go:build !unix

package proc

import (
	"errors"
	"os/exec"
)

// setGroup has no process groups to use here: only the command itself is
// killed.
func setGroup(*exec.Cmd) {}

func killGroup(*exec.Cmd) {}

// setCredential: commands run as the daemon's own account here.
func setCredential(_ *exec.Cmd, cred *Credential) error {
	if cred != nil {
		return errors.New("running a command as another user is not supported on this platform")
	}
	return nil
}
