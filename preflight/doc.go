// Package preflight checks that a host is ready to run havip with a given
// configuration: capabilities, interfaces, VIPs that collide with the
// host's gateways, subnets or addresses, addresses the operating system
// configures on its own, kernel settings, peer reachability and file
// permissions. Refuse is the part `havip run` and reloads enforce.
package preflight
