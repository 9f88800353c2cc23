// Package election decides, on every member and from the same gossip, which
// node holds each VIP instance, and drives the local holder through the
// INIT → BACKUP ⇄ MASTER, FAULT state machine.
//
// It owns the cluster's membership and failure detection and nothing of
// the host: a Holder puts the VIPs on the interface, and the daemon tells
// it each instance's health (SetHealth). Its parts, each with its own
// state:
//
//   - membership (membership.go, with memberlist's delegates in
//     delegate.go, event_delegate.go and ping_delegate.go): memberlist and
//     the table of members its events build; direct messages to members.
//   - presence (presence.go; the members' reports of whom they hear in hearings.go): when each member was last heard and which
//     metadata version its heartbeats announce; from that, whether a
//     member counts, whether the lease and quorum hold, who may still hold
//     a VIP.
//   - heartbeater (heartbeat.go): sending heartbeats, paced on the member
//     with the lowest name, and recording arrivals (loop.go sends, beside
//     them, what members missed: this node's state to those that have
//     not confirmed it, other members' states to those that do not hear
//     them); the wire formats are
//     in messages.go and package wire (election/internal/wire), which
//     also owns the sockets and an in-memory network for tests.
//   - the instance state machine: step (step.go) is the whole decision
//     for one instance as a pure function of facts — fault, the ranking
//     rule decide (rank.go), and the safety rules that hold a takeover
//     back (a lease that may still run, a stale view, a member others
//     hear that this node does not know, quorum just regained, a
//     holder that went silent); evaluate (evaluate.go)
//     gathers the facts, steps each instance, acts on its holder and
//     publishes the result (publish.go).
//
// Node (node.go) is built from a Config fixed at construction; Reload
// takes only its Reloadable part. One goroutine (loop.go) owns the member
// table and the instances; the others reach it through the event queue
// (events.go) and control requests (control.go).
package election
