// Package election decides, on every member and from the same gossip, which
// node holds each VIP instance, and drives the local holder through the
// INIT → BACKUP ⇄ MASTER, FAULT state machine.
package election
