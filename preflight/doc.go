// Package preflight checks that a host is ready to run havip with a given
// configuration: interfaces, addresses the operating system configures on
// its own, kernel settings, peer reachability and file permissions.
package preflight
