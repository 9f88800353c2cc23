package config

import (
	"net/netip"
	"slices"
	"time"
)

// DefaultPort is the memberlist port used when an address has none.
const DefaultPort = 7946

// Config is a validated havip configuration. Every field is filled in:
// defaults are applied by Load/Parse, never by the consumers.
type Config struct {
	// Path is the file the configuration was read from ("" when parsed
	// from memory).
	Path      string
	Node      Node
	Cluster   Cluster
	Instances []Instance
	Status    Status
	Cloud     Cloud
	// Warnings are problems that do not stop the daemon, for the log and
	// `havip check`.
	Warnings []string
}

// Node describes this member.
type Node struct {
	// Name is unique in the cluster; defaults to the hostname.
	Name string
	// Bind is the memberlist address and port.
	Bind netip.AddrPort
	// Advertise is the address peers reach this node on; defaults to Bind.
	Advertise netip.AddrPort
	// StateDir holds what this node must remember across restarts (the
	// maintenance flag, in StateFile).
	StateDir string
}

// StateFile is the file in Node.StateDir that keeps the node's persistent
// state.
const StateFile = "state.json"

// Quorum selects when a node may hold a VIP.
type Quorum string

const (
	QuorumAuto     Quorum = "auto"
	QuorumMajority Quorum = "majority"
	QuorumOff      Quorum = "off"
)

// Cluster describes the group of members.
type Cluster struct {
	// Name is the memberlist label; clusters with another name are ignored.
	Name string
	// Peers are the other members' memberlist addresses, as configured
	// ("host:port"); hostnames are allowed and resolved at join time.
	Peers []string
	// SecretKeyFile is the path of the key (empty with Insecure).
	SecretKeyFile string
	// SecretKey is the decoded key: 16, 24 or 32 bytes, nil with Insecure.
	SecretKey []byte
	Insecure  bool
	Quorum    Quorum
	Timing    Timing
}

// Size is the number of configured members, this node included.
func (c Cluster) Size() int { return len(c.Peers) + 1 }

// QuorumNeeded returns how many members (this node included) must be seen
// for this node to hold a VIP; 0 means quorum is off.
func (c Cluster) QuorumNeeded() int {
	q := c.Quorum
	if q == QuorumAuto {
		if c.Size() >= 3 {
			q = QuorumMajority
		} else {
			q = QuorumOff
		}
	}
	if q == QuorumOff {
		return 0
	}
	return c.Size()/2 + 1
}

// Timing holds the failure-detection knobs. Profile names the preset the
// raw values started from; any raw key set in the file overrides it.
type Timing struct {
	Profile string
	// memberlist knobs
	ProbeInterval time.Duration
	ProbeTimeout  time.Duration
	SuspicionMult int
	// SuspicionMaxTimeoutMult bounds how long a suspicion can last while
	// waiting for confirmations (memberlist's own knob).
	SuspicionMaxTimeoutMult int
	IndirectChecks          int
	AwarenessMaxMultiplier  int
	GossipInterval          time.Duration
	GossipNodes             int
	RetransmitMult          int
	PushPullInterval        time.Duration
	TCPTimeout              time.Duration
	// RejoinInterval is how often configured peers that are not members
	// are joined again (checked on the heartbeat ticks, so up to one
	// HeartbeatInterval later).
	RejoinInterval time.Duration
	// StartupGrace is how long a node that could join no peer waits
	// before it may take a VIP on its own.
	StartupGrace time.Duration
	// HeartbeatInterval is how often every member sends a small direct
	// message to every other one; with quorum on they are the evidence a
	// holder's lease rests on.
	HeartbeatInterval time.Duration
	// Lease: with quorum on, a holder releases once it has not heard from
	// enough members to make a majority for this long.
	Lease time.Duration
	// LeaseMargin: a member takes over from a holder that vanished only
	// when it has not heard from it for Lease + LeaseMargin, so the old
	// holder (if merely cut off) has released first.
	LeaseMargin time.Duration
	// HeartbeatTimeout: a member not heard from for this long no longer
	// counts for the election, before memberlist declares it dead (which
	// takes about ProbeInterval × (2 + SuspicionMult)); 0 leaves failure
	// detection to memberlist alone.
	HeartbeatTimeout time.Duration
	// AddressLifetime: the VIPs are added with this lifetime and renewed
	// while this node may hold them, so the kernel removes them by
	// itself that long after the daemon stops renewing them (frozen,
	// hung, killed and not restarted). Whole seconds, at least 4 ×
	// HeartbeatInterval; 0 adds them permanently.
	AddressLifetime time.Duration
}

// Instance is one set of VIPs that moves as a unit.
type Instance struct {
	Name      string
	Interface string
	// VIPs are the addresses with the prefix length they are added
	// with: /32 or /128 for a bare address (a host address, no subnet
	// route), or the prefix written (the subnet route comes and goes
	// with the address).
	VIPs []netip.Prefix
	// Places says where the VIPs that are not simply on Interface go:
	// another interface, a label. nil when every VIP is on Interface
	// without a label; Place reads it.
	Places       map[netip.Prefix]VIPPlace
	Priority     int
	Preempt      bool
	PreemptDelay time.Duration
	Announce     Announce
	// TrackInterfaces are the other interfaces the instance needs. While
	// one is down or missing the instance is in FAULT, like on its own
	// Interface, unless TrackWeights gives it a weight.
	TrackInterfaces []string
	// TrackWeights holds the weights of the tracked interfaces that
	// have one: while such an interface is down, the priority this node
	// publishes drops by its weight instead. nil when none has.
	TrackWeights map[string]int
	// TrackScripts are health checks run on this node.
	TrackScripts []TrackScript
	// Notify are the commands run on transitions.
	Notify Notify
}

// TrackScript is a health check: a command run every Interval.
type TrackScript struct {
	Name string
	// Command is an argv, run without a shell.
	Command  []string
	Interval time.Duration
	// Timeout ends a run (its whole process group is killed); a timeout
	// counts as a failure.
	Timeout time.Duration
	// Rise successes in a row make a failed check healthy again, Fall
	// failures in a row make a healthy one failed.
	Rise, Fall int
	// Weight 0 puts the instance in FAULT while the check fails; a
	// positive weight lowers the priority this node publishes by Weight.
	Weight int
	// RunAs is who the command runs as; the zero value is the daemon's
	// own user.
	RunAs RunAs
}

// RunAs names the user and group a command runs as, as written in the
// file: a name or a number each. An empty Group is the user's own
// group; an empty User is the daemon's own user (and then Group is
// empty too). Credential looks them up on this host.
type RunAs struct {
	User, Group string
}

// IsZero reports whether the command runs as the daemon's own user.
func (r RunAs) IsZero() bool { return r.User == "" && r.Group == "" }

// VIPPlace is where one VIP is added.
type VIPPlace struct {
	// Interface is the interface the VIP is added to and announced on.
	Interface string
	// Label is the IPv4 address label ("eth0:1", as ifconfig shows an
	// alias); "" for none.
	Label string
}

// Place returns where the VIP p goes: its own interface and label
// when Places has them, the instance's interface without a label
// otherwise.
func (in *Instance) Place(p netip.Prefix) VIPPlace {
	if pl, ok := in.Places[p]; ok {
		return pl
	}
	return VIPPlace{Interface: in.Interface}
}

// Interfaces returns the interfaces the instance's VIPs are on, its own
// Interface first, each once.
func (in *Instance) Interfaces() []string {
	out := []string{in.Interface}
	for _, p := range in.VIPs {
		if ifname := in.Place(p).Interface; !slices.Contains(out, ifname) {
			out = append(out, ifname)
		}
	}
	return out
}

// Notify holds the commands run when an instance enters a state. Each is
// an argv (no shell), nil when not set. The instance, the new state and
// the VIPs are appended to Master, Backup, Fault and Stop, and given in
// the environment.
type Notify struct {
	Master, Backup, Fault []string
	// Stop runs when the daemon stops, once it has released the VIPs.
	Stop []string
	// Any runs on every transition and at the stop, after the state's
	// own command, with keepalived's arguments for its notify script
	// appended: "INSTANCE", the instance, the state and the priority.
	Any []string
	// RunAs is who the commands without a user of their own run as (the
	// table's user and group); the zero value is the daemon's own user.
	// RunAsFor says who runs each command.
	RunAs RunAs
	// HookRunAs holds the user and group of the commands written with
	// their own, by state name ("MASTER", "BACKUP", "FAULT", "STOP")
	// and AnyHook; nil when none has one.
	HookRunAs map[string]RunAs
	// Timeout ends a command that runs longer (its process group is
	// killed).
	Timeout time.Duration
}

// AnyHook names the command run on every transition (Notify.Any) for
// Notify.RunAsFor.
const AnyHook = "ANY"

// Command returns the notify command for a state name ("MASTER",
// "BACKUP", "FAULT", "STOP"), nil when there is none.
func (n Notify) Command(state string) []string {
	switch state {
	case "MASTER":
		return n.Master
	case "BACKUP":
		return n.Backup
	case "FAULT":
		return n.Fault
	case "STOP":
		return n.Stop
	}
	return nil
}

// RunAsFor returns who runs the command of a state name ("MASTER",
// "BACKUP", "FAULT", "STOP"), or Any for AnyHook: the command's own
// user and group when it has them, else the table's (RunAs).
func (n Notify) RunAsFor(state string) RunAs {
	if r, ok := n.HookRunAs[state]; ok {
		return r
	}
	return n.RunAs
}

// Announce configures gratuitous ARP / unsolicited NA.
type Announce struct {
	// Count is the number of announcements in a takeover burst.
	Count int
	// Interval separates the announcements of a burst.
	Interval time.Duration
	// Refresh repeats one announcement this often while master; 0 = off.
	Refresh time.Duration
}

// Status configures the control socket.
type Status struct {
	Socket string
	// SocketGroup is the group, besides root, whose members may use the
	// socket (mode 0660): a name or a number; empty keeps the daemon's
	// own group. SocketGroupID looks it up.
	SocketGroup string
	// Metrics is the TCP address of the Prometheus endpoint (/metrics);
	// empty: no metrics.
	Metrics string
}
