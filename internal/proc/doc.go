// Package proc runs the commands havip starts on an operator's behalf
// (track scripts, notify hooks): argv without a shell, as the daemon's
// user or another one, in a process group of their own that is killed
// as a whole on timeout.
package proc
