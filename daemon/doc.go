// Package daemon composes havip's parts into the running daemon: the VIP
// holders (vip + announce), the election and the status socket.
package daemon
