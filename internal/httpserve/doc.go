// Package httpserve runs an HTTP server on a listener for as long as a
// context lives, the way every long-running part of the daemon runs: a
// cancelled context is a clean stop, anything else is an error. Every
// server it runs has read, write and idle timeouts and a cap on the
// connections open at once.
package httpserve
