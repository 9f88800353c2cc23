// Package notify runs the operator's commands on state transitions: one
// queue per instance, in order, never blocking the election.
package notify
