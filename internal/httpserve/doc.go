// Package httpserve runs an HTTP server on a listener for as long as a
// context lives, the way every long-running part of the daemon runs: a
// cancelled context is a clean stop, anything else is an error.
package httpserve
