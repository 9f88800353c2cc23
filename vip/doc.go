// Package vip adds, removes and watches the virtual IP addresses of one
// network interface through netlink.
package vip
