package config

import (
	"fmt"
	"strings"
)

// Instance returns the instance called name.
func (c *Config) Instance(name string) (*Instance, bool) {
	for i := range c.Instances {
		if c.Instances[i].Name == name {
			return &c.Instances[i], true
		}
	}
	return nil, false
}

// Summary describes the configuration in a few lines, for `havip check`.
func (c *Config) Summary() string {
	var b strings.Builder
	line := func(format string, args ...any) {
		fmt.Fprintf(&b, format, args...)
		b.WriteByte('\n')
	}

	advertise := "chosen by memberlist"
	if c.Node.Advertise.IsValid() {
		advertise = c.Node.Advertise.String()
	}
	line("node %s: bind %s, advertise %s", c.Node.Name, c.Node.Bind, advertise)

	peers := "no peers"
	switch n := len(c.Cluster.Peers); n {
	case 0:
	case 1:
		peers = "1 peer: " + c.Cluster.Peers[0]
	default:
		peers = fmt.Sprintf("%d peers: %s", n, strings.Join(c.Cluster.Peers, ", "))
	}
	line("cluster %s: %s (%s)", c.Cluster.Name, count(c.Cluster.Size(), "member"), peers)

	switch {
	case c.Cluster.Insecure:
		line("encryption: off (cluster.insecure)")
	case c.Cluster.SecretKey != nil:
		line("encryption: AES-%d, key from %s", 8*len(c.Cluster.SecretKey), c.Cluster.SecretKeyFile)
	default:
		line("encryption: key from %s (not read)", c.Cluster.SecretKeyFile)
	}

	if need := c.Cluster.QuorumNeeded(); need == 0 {
		line("quorum %s: off, a member holds VIPs whichever members it sees", c.Cluster.Quorum)
	} else {
		line("quorum %s: %d of %s needed to hold a VIP", c.Cluster.Quorum, need, count(c.Cluster.Size(), "member"))
	}

	t := c.Cluster.Timing
	if t.HeartbeatTimeout > 0 {
		line("timing %s: heartbeat every %s, a member silent for %s no longer counts, a dead member is found in about %s; memberlist probes every %s",
			t.Profile, t.HeartbeatInterval, t.HeartbeatTimeout, t.FailureDetection(), t.ProbeInterval)
	} else {
		line("timing %s: probe every %s (timeout %s), suspicion ×%d, a dead member is found in about %s",
			t.Profile, t.ProbeInterval, t.ProbeTimeout, t.SuspicionMult, t.FailureDetection())
	}

	if len(c.Instances) == 0 {
		line("no instances: this node is a witness")
	}
	for _, in := range c.Instances {
		vips := make([]string, len(in.VIPs))
		for i, v := range in.VIPs {
			vips[i] = v.String()
			if pl, ok := in.Places[v]; ok {
				vips[i] += " on " + pl.Interface
				if pl.Label != "" {
					vips[i] += " label " + pl.Label
				}
			}
		}
		preempt := "no preempt"
		if in.Preempt {
			preempt = "preempt"
			if in.PreemptDelay > 0 {
				preempt += " after " + in.PreemptDelay.String()
			}
		}
		line("instance %s on %s: %s, priority %d, %s", in.Name, in.Interface, strings.Join(vips, ", "), in.Priority, preempt)
		var faults []string
		for _, t := range in.TrackInterfaces {
			if w := in.TrackWeights[t]; w > 0 {
				line("  tracks %s: priority -%d while it is down", t, w)
			} else {
				faults = append(faults, t)
			}
		}
		if len(faults) > 0 {
			line("  tracks %s: FAULT while any is down", strings.Join(faults, ", "))
		}
		for _, sc := range in.TrackScripts {
			effect := "FAULT"
			if sc.Weight > 0 {
				effect = fmt.Sprintf("priority -%d", sc.Weight)
			}
			line("  track script %s: every %s (timeout %s), %s -> %s, %s -> healthy%s",
				sc.Name, sc.Interval, sc.Timeout, count(sc.Fall, "failure"), effect, count(sc.Rise, "success"), runAsText(sc.RunAs))
		}
		var hooks []string
		tableUser := false // some command runs as the table's user
		for _, st := range []string{"MASTER", "BACKUP", "FAULT", "STOP", AnyHook} {
			cmd, name := in.Notify.Command(st), st
			if st == AnyHook {
				cmd, name = in.Notify.Any, "any transition"
			}
			if cmd == nil {
				continue
			}
			if own, ok := in.Notify.HookRunAs[st]; ok {
				name += " (" + strings.TrimPrefix(runAsText(own), ", ") + ")"
			} else {
				tableUser = true
			}
			hooks = append(hooks, name)
		}
		if len(hooks) > 0 {
			who := ""
			if tableUser {
				who = runAsText(in.Notify.RunAs)
			}
			line("  notify on %s (timeout %s)%s", strings.Join(hooks, ", "), in.Notify.Timeout, who)
		}
	}
	if c.Status.SocketGroup != "" {
		line("status socket %s: root and group %s may use it", c.Status.Socket, c.Status.SocketGroup)
	}
	if c.Status.Metrics != "" {
		line("metrics on http://%s/metrics", c.Status.Metrics)
	}
	if cl := c.Cloud; cl.Enabled() {
		switch cl.Provider {
		case ProviderExec:
			line("cloud exec: acquire %q, timeout %s, %d retries", cl.Acquire, cl.Timeout, cl.Retries)
		default:
			line("cloud %s (%s): endpoint %s, auth %s, re-checked every %s", cl.Provider, cl.Mode, orDefault(cl.Endpoint, "from the catalog"), cl.Auth, cl.ReconcileInterval)
		}
	}
	for _, w := range c.Warnings {
		line("warning: %s", w)
	}
	return b.String()
}

// runAsText says who a command runs as, when it is not the daemon's
// user: ", as user www-data" or ", as user www-data, group www".
func runAsText(r RunAs) string {
	switch {
	case r.IsZero():
		return ""
	case r.Group == "":
		return ", as user " + r.User
	}
	return ", as user " + r.User + ", group " + r.Group
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// count writes n things: "1 failure", "2 failures", "1 success".
func count(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	if strings.HasSuffix(thing, "s") {
		return fmt.Sprintf("%d %ses", n, thing)
	}
	return fmt.Sprintf("%d %ss", n, thing)
}
