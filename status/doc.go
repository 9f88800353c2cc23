// Package status defines the document `havip status` prints and serves it
// over HTTP on the daemon's unix socket.
package status
