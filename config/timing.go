package config

import "time"

// DefaultProfile is the timing profile used when cluster.timing is not set.
const DefaultProfile = "default"

// profiles are the named timing presets. Failover after a crash takes
// about ProbeInterval × (2 + SuspicionMult) (see FailureDetection); a
// graceful stop is seen within about one GossipInterval.
//
// Every profile adds the VIPs for an AddressLifetime of 1 s, the shortest
// the kernel knows (it counts lifetimes in whole seconds): a holder whose
// daemon stopped renewing them loses them about a second later, while a
// renewal every half of it is one netlink request on a heartbeat tick
// (every heartbeat interval of every profile is at most a quarter of
// it, so a late tick still renews them in time).
var profiles = []Timing{
	{
		// About 0.9 s to detect a dead node, by heartbeats; 8 of them
		// must be lost in a row for a false verdict, which keeps it
		// steady at 20 % loss. memberlist is only the membership layer
		// here: it probes once a second (each probe and gossip tick is
		// a wakeup, which is most of an idle daemon's CPU).
		Profile:                 "default",
		ProbeInterval:           time.Second,
		ProbeTimeout:            500 * time.Millisecond,
		SuspicionMult:           3,
		SuspicionMaxTimeoutMult: 2,
		IndirectChecks:          3,
		AwarenessMaxMultiplier:  1,
		GossipInterval:          200 * time.Millisecond,
		GossipNodes:             3,
		RetransmitMult:          4,
		PushPullInterval:        30 * time.Second,
		TCPTimeout:              time.Second,
		RejoinInterval:          time.Second,
		StartupGrace:            2 * time.Second,
		HeartbeatInterval:       100 * time.Millisecond,
		Lease:                   600 * time.Millisecond,
		LeaseMargin:             250 * time.Millisecond,
		HeartbeatTimeout:        800 * time.Millisecond,
		AddressLifetime:         time.Second,
	},
	{
		// About 0.22 s to detect a dead node, by heartbeats; for a
		// quiet, fast network. Like default, 8 heartbeats must be lost
		// in a row for a false verdict and 6 for a lost lease: every
		// 25 ms, not 20, since each one is a wakeup of every member,
		// most of an idle fast daemon's CPU. memberlist only keeps the
		// membership, at default's pace: its probe and gossip ticks
		// were an eighth of an idle fast daemon's wakeups.
		Profile:                 "fast",
		ProbeInterval:           time.Second,
		ProbeTimeout:            500 * time.Millisecond,
		SuspicionMult:           2,
		SuspicionMaxTimeoutMult: 2,
		IndirectChecks:          3,
		AwarenessMaxMultiplier:  1,
		GossipInterval:          200 * time.Millisecond,
		GossipNodes:             3,
		RetransmitMult:          4,
		PushPullInterval:        10 * time.Second,
		TCPTimeout:              500 * time.Millisecond,
		RejoinInterval:          500 * time.Millisecond,
		StartupGrace:            time.Second,
		HeartbeatInterval:       25 * time.Millisecond,
		Lease:                   150 * time.Millisecond,
		LeaseMargin:             60 * time.Millisecond,
		HeartbeatTimeout:        200 * time.Millisecond,
		AddressLifetime:         time.Second,
	},
	{
		// Heartbeats every 5 ms: a silent member is gone after 30 ms.
		// For a dedicated, quiet segment; costs some CPU and is the
		// first to fail over falsely under loss or load.
		Profile:                 "instant",
		ProbeInterval:           500 * time.Millisecond,
		ProbeTimeout:            250 * time.Millisecond,
		SuspicionMult:           2,
		SuspicionMaxTimeoutMult: 2,
		IndirectChecks:          3,
		AwarenessMaxMultiplier:  1,
		GossipInterval:          100 * time.Millisecond,
		GossipNodes:             3,
		RetransmitMult:          4,
		PushPullInterval:        10 * time.Second,
		TCPTimeout:              500 * time.Millisecond,
		RejoinInterval:          500 * time.Millisecond,
		StartupGrace:            time.Second,
		HeartbeatInterval:       5 * time.Millisecond,
		Lease:                   20 * time.Millisecond,
		LeaseMargin:             12 * time.Millisecond,
		HeartbeatTimeout:        30 * time.Millisecond,
		AddressLifetime:         time.Second,
	},
	{
		// memberlist's LAN defaults: about 6 s to detect a dead node, more
		// when Lifeguard awareness stretches the probe interval.
		Profile:                 "conservative",
		ProbeInterval:           time.Second,
		ProbeTimeout:            500 * time.Millisecond,
		SuspicionMult:           4,
		SuspicionMaxTimeoutMult: 6,
		IndirectChecks:          3,
		AwarenessMaxMultiplier:  8,
		GossipInterval:          200 * time.Millisecond,
		GossipNodes:             3,
		RetransmitMult:          4,
		PushPullInterval:        30 * time.Second,
		TCPTimeout:              10 * time.Second,
		RejoinInterval:          2 * time.Second,
		StartupGrace:            5 * time.Second,
		HeartbeatInterval:       250 * time.Millisecond,
		Lease:                   2 * time.Second,
		LeaseMargin:             time.Second,
		HeartbeatTimeout:        0,
		AddressLifetime:         time.Second,
	},
}

// Profile returns the timing preset called name ("default", "fast" or
// "conservative") and whether it exists.
func Profile(name string) (Timing, bool) {
	for _, p := range profiles {
		if p.Profile == name {
			return p, true
		}
	}
	return Timing{}, false
}

// ProfileNames returns the names of the timing presets, fastest to
// slowest after the default.
func ProfileNames() []string {
	names := make([]string, len(profiles))
	for i, p := range profiles {
		names[i] = p.Profile
	}
	return names
}

// FailureDetection estimates how long the other members take to declare
// a crashed node dead with these timings: with heartbeat_timeout set,
// about that timeout plus one heartbeat; otherwise memberlist's the time until it is probed,
// the failed probe, then the suspicion timeout. With 2 to 10 members
// memberlist's suspicion timeout is SuspicionMult × ProbeInterval and no
// confirmations are awaited, so the total is about
// ProbeInterval × (2 + SuspicionMult). Lifeguard awareness
// (AwarenessMaxMultiplier > 1) can stretch it.
func (t Timing) FailureDetection() time.Duration {
	d := t.ProbeInterval * time.Duration(2+t.SuspicionMult)
	if t.HeartbeatTimeout > 0 && t.HeartbeatTimeout+t.HeartbeatInterval < d {
		d = t.HeartbeatTimeout + t.HeartbeatInterval
	}
	return d
}
