package daemon

import (
	"github.com/havip/havip/config"
	"github.com/havip/havip/status"
)

// Document builds the status document from the election's snapshot and
// the daemon's health state.
func (d *Daemon) Document() status.Document {
	d.mu.Lock()
	node := d.node
	insts := map[string]config.Instance{}
	for _, in := range d.cfg.Instances {
		insts[in.Name] = in
	}
	checks := map[string][]status.Check{}
	clouds := map[string]*status.Cloud{}
	for _, in := range d.cfg.Instances {
		checks[in.Name] = d.checksLocked(in)
		if h := d.holders[in.Name]; h != nil && h.cloud != nil {
			clouds[in.Name] = h.cloud.status()
		}
	}
	d.mu.Unlock()

	s := node.Status()
	doc := status.Document{
		Node:        s.Node,
		Cluster:     s.Cluster,
		Version:     d.version,
		Maintenance: s.Maintenance,
		Quorum: status.Quorum{
			Mode:   "off",
			Seen:   s.QuorumSeen,
			Needed: s.QuorumNeeded,
			OK:     s.QuorumNeeded == 0 || s.QuorumSeen >= s.QuorumNeeded,
		},
		Instances: []status.Instance{},
		Members:   []status.Member{},
	}
	if s.QuorumNeeded > 0 {
		doc.Quorum.Mode = "majority"
	}
	for _, in := range s.Instances {
		ic := insts[in.Name]
		vips := make([]string, len(ic.VIPs))
		for i, p := range ic.VIPs {
			vips[i] = p.String()
		}
		si := status.Instance{
			Name:              in.Name,
			State:             in.State.String(),
			Master:            in.Master,
			VIPs:              vips,
			Since:             status.FormatTime(in.Since),
			Interface:         ic.Interface,
			Priority:          in.Priority,
			EffectivePriority: in.EffectivePriority,
			Preempt:           in.Preempt,
			Reason:            in.Reason,
			Penalty:           in.Penalty,
			Switchover:        in.Switchover,
			Checks:            checks[in.Name],
			Cloud:             clouds[in.Name],
		}
		if si.Checks == nil {
			si.Checks = []status.Check{}
		}
		if t, ok := d.lastTransition(in.Name); ok {
			si.LastTransition = &status.Transition{From: t.From.String(), To: t.To.String(), Reason: t.Reason, At: status.FormatTime(t.At)}
		}
		doc.Instances = append(doc.Instances, si)
	}
	for _, m := range s.Members {
		sm := status.Member{
			Name: m.Name, Addr: m.Addr, State: string(m.State), Priority: m.Priority,
			Self: m.Self, Maintenance: m.Maintenance, Instances: []status.MemberInstance{},
		}
		for _, im := range m.Instances {
			sm.Instances = append(sm.Instances, status.MemberInstance{Name: im.Name, Priority: int(im.Priority), Holding: im.Holding})
		}
		doc.Members = append(doc.Members, sm)
	}
	return doc
}

// checksLocked lists an instance's health checks. d.mu held.
func (d *Daemon) checksLocked(in config.Instance) []status.Check {
	d.fmu.Lock()
	ifCheck := func(typ, ifname string) status.Check {
		reason, known := d.linkState[ifname]
		c := status.Check{Type: typ, Name: ifname, Healthy: known && reason == "", Detail: reason}
		if !known {
			c.Detail = "not read yet"
		}
		return c
	}
	var out []status.Check
	for _, ifname := range in.Interfaces() {
		out = append(out, ifCheck("interface", ifname))
	}
	for _, t := range in.TrackInterfaces {
		c := ifCheck("track_interface", t)
		c.Weight = in.TrackWeights[t]
		out = append(out, c)
	}
	d.fmu.Unlock()
	for _, c := range d.scripts[in.Name] {
		st := c.script.Status()
		sc := status.Check{
			Type: "track_script", Name: st.Name, Healthy: st.Healthy, Weight: c.script.Config.Weight,
			Since: status.FormatTime(st.Since), Runs: st.Runs, Successes: st.Successes, Failures: st.Failures,
		}
		if st.Runs == 0 {
			sc.Detail = "not run yet"
		} else {
			exit := st.Last.ExitCode
			sc.LastExit = &exit
			sc.LastRun = status.FormatTime(st.LastRun)
			sc.LastDuration = st.Last.Duration.Seconds()
			sc.Detail = st.Last.Summary()
			if st.Last.Stderr != "" {
				sc.Detail += ": " + firstLine(st.Last.Stderr)
			}
		}
		out = append(out, sc)
	}
	return out
}

func firstLine(s string) string {
	for i, r := range s {
		if r == '\n' {
			return s[:i]
		}
	}
	return s
}
