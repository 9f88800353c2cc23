//go:build unix

package proc

import (
	"os/exec"
	"syscall"
)

// setGroup starts cmd as the leader of a new process group and makes the
// context's cancellation kill the whole group.
func setGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		killGroup(cmd)
		return nil
	}
}

// killGroup sends SIGKILL to the process group cmd leads.
func killGroup(cmd *exec.Cmd) {
	if cmd.Process != nil && cmd.Process.Pid > 0 {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}

// setCredential makes cmd run as cred; nil leaves it the daemon's user.
// A command run as another user starts in the root directory, which it
// can read whatever the daemon's working directory is.
func setCredential(cmd *exec.Cmd, cred *Credential) error {
	if cred == nil {
		return nil
	}
	cmd.SysProcAttr.Credential = &syscall.Credential{Uid: cred.UID, Gid: cred.GID, Groups: cred.Groups}
	cmd.Dir = "/"
	return nil
}
