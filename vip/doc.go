// Package vip adds, removes and watches the virtual IP addresses of one
// network interface: through netlink on Linux, through the IP Helper API
// on Windows.
package vip
