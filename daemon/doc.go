// Package daemon composes havip's parts into the running daemon.
//
// It joins the configuration to the election, to the holders that put
// the VIPs on this node (vip, announce and the cloud binding), to the
// health checks, the notify commands, the status socket and the metrics
// endpoint, and runs them: Run takes a few start-up steps, then runs the
// long-running parts as tasks under one errgroup. It applies reloads,
// keeping the settings that need a restart (restartOnlySettings).
//
// The daemon owns health: each instance's faults and penalties, one per
// source (its interface, its tracked interfaces, its track scripts), are
// kept here, combined, and handed to the election as one
// election.Health per instance. The election only decides.
package daemon
