package election

import (
	"net/netip"
	"time"

	"github.com/havip/havip/config"
)

// Config is what a Node is built with. Everything outside Reloadable is
// what memberlist and the heartbeats were started with and stays for the
// node's life; Reload takes only a Reloadable, so a setting that needs a
// restart cannot be changed by mistake.
type Config struct {
	// Name is this node's name (node.name), unique in the cluster.
	Name string
	// Bind is the gossip address (node.bind); Advertise, when valid, the
	// address the peers reach it at (node.advertise).
	Bind, Advertise netip.AddrPort
	// Cluster is the cluster's name (cluster.name): memberlist's label and
	// the heartbeat frames' authenticated label.
	Cluster string
	// SecretKey encrypts gossip and seals heartbeat frames; empty in
	// insecure mode.
	SecretKey []byte
	// Peers are the configured members to join (cluster.peers).
	Peers []string
	// Timing is the failure-detection timing (cluster.timing and
	// [cluster.tuning]).
	Timing config.Timing
	Reloadable
}

// Reloadable is the part of Config that a running node may change.
type Reloadable struct {
	// Instances are this node's VIP instances; none makes it a witness.
	Instances []Instance
	// Quorum is how many members, this node included, must be heard for
	// a VIP to be held; 0 means quorum is off.
	Quorum int
}

// Instance is what the election needs of one VIP instance: its rank and
// whether it preempts. Its interface and VIPs belong to its Holder.
type Instance struct {
	Name         string
	Priority     int
	Preempt      bool
	PreemptDelay time.Duration
}

// NewConfig takes the election's part of a loaded configuration.
func NewConfig(c *config.Config) Config {
	return Config{
		Name:       c.Node.Name,
		Bind:       c.Node.Bind,
		Advertise:  c.Node.Advertise,
		Cluster:    c.Cluster.Name,
		SecretKey:  c.Cluster.SecretKey,
		Peers:      c.Cluster.Peers,
		Timing:     c.Cluster.Timing,
		Reloadable: NewReloadable(c),
	}
}

// NewReloadable takes the part of a loaded configuration that Reload may
// change.
func NewReloadable(c *config.Config) Reloadable {
	r := Reloadable{Quorum: c.Cluster.QuorumNeeded()}
	for _, in := range c.Instances {
		r.Instances = append(r.Instances, Instance{Name: in.Name, Priority: in.Priority, Preempt: in.Preempt, PreemptDelay: in.PreemptDelay})
	}
	return r
}

// Health is the daemon's verdict on one instance, combined over all its
// sources (its interface, tracked interfaces, track scripts).
type Health struct {
	// Fault, when set, makes the instance ineligible (FAULT) and says why.
	Fault string
	// Penalty lowers the instance's effective priority (the weights of
	// its failing track scripts); it never drops it below 1.
	Penalty int
}
