//go:build !unix

package proc

import "os/exec"

// setGroup has no process groups to use here: only the command itself is
// killed.
func setGroup(*exec.Cmd) {}

func killGroup(*exec.Cmd) {}
