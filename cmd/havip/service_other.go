//go:build !windows

package main

// platformServiceManager: there are no Windows services here.
func platformServiceManager() (serviceManager, error) { return nil, errNoServices }

// runningAsService is false: only Windows starts havip as a service.
func runningAsService() bool { return false }

// runService is never called here.
func runService(args []string) int { return exitRuntime }
