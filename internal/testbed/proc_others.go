//go:build !linux

package testbed

import "syscall"

// Network namespaces are Linux only: New fails elsewhere (there is no ip
// command with netns support), so these are never reached in practice.

func processAlive(int) bool { return true }

func procAttr() *syscall.SysProcAttr { return nil }
