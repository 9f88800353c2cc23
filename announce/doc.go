// Package announce tells the neighbours on a link that a VIP moved here:
// gratuitous ARP for IPv4 and unsolicited neighbour advertisements for IPv6.
package announce
