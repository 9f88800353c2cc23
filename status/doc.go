// Package status defines the document `havip status` prints and serves it
// over HTTP on the daemon's unix socket.
//
// It owns the socket's side of the conversation: the wire types of the
// status document and of the control requests (maintenance, switchover,
// reload), creating the socket with its permissions (and replacing a
// stale one left by a crashed daemon), the server that answers on it
// until its context ends, and the client the havip command uses. What
// the answers say is the daemon's business: it hands the server a
// function building the document and the handlers of the control
// requests.
package status
