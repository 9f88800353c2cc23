// Package proc runs the commands havip starts on an operator's behalf
// (track scripts, notify hooks): argv without a shell, in a process group
// of their own that is killed as a whole on timeout.
package proc
