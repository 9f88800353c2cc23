package daemon

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/havip/havip/config"
	"github.com/havip/havip/election"
	"github.com/havip/havip/health"
	"github.com/havip/havip/vip"
)

// Fault and penalty sources of an instance. Each source holds at most
// one reason; the election gets all of them combined.
const (
	srcInterface = "interface"
	// srcVIPIf is followed by the name of another interface a VIP of
	// the instance is on.
	srcVIPIf   = "interface "
	srcTrackIf = "track_interface "
	srcScript  = "track_script "
)

// setSource sets (reason != "") or clears one fault source of an
// instance and hands the instance's combined health to the election.
func (d *Daemon) setSource(instance, source, reason string) {
	d.fmu.Lock()
	m := d.faults[instance]
	if m == nil {
		m = map[string]string{}
		d.faults[instance] = m
	}
	if reason == "" {
		delete(m, source)
	} else {
		m[source] = reason
	}
	d.fmu.Unlock()
	d.pushHealth(instance)
}

// pushHealth hands the election an instance's health: every fault
// source's reason combined, and the sum of the penalties. The daemon owns
// the sources; the election gets one value per instance.
func (d *Daemon) pushHealth(instance string) {
	d.fmu.Lock()
	h := election.Health{Fault: combineReasons(d.faults[instance])}
	for _, w := range d.penalties[instance] {
		h.Penalty += w
	}
	node := d.node
	d.fmu.Unlock()
	if node != nil {
		node.SetHealth(instance, h)
	}
}

// clearSources drops every fault source and penalty of an instance
// whose name starts with prefix.
func (d *Daemon) clearSources(instance, prefix string) {
	d.fmu.Lock()
	var drop []string
	for src := range d.faults[instance] {
		if strings.HasPrefix(src, prefix) {
			drop = append(drop, src)
		}
	}
	for src := range d.penalties[instance] {
		if strings.HasPrefix(src, prefix) {
			delete(d.penalties[instance], src)
		}
	}
	d.fmu.Unlock()
	for _, src := range drop {
		d.setSource(instance, src, "")
	}
}

// combineReasons joins the reasons of every source, in a stable order;
// "" when there is none.
func combineReasons(m map[string]string) string {
	srcs := slices.Sorted(maps.Keys(m))
	reasons := make([]string, len(srcs))
	for i, s := range srcs {
		reasons[i] = m[s]
	}
	return strings.Join(reasons, "; ")
}

// linkReason reads an interface's state: why it is unusable, or "".
func linkReason(ifname string, m *vip.Manager) string {
	up, err := m.LinkUp()
	switch {
	case errors.Is(err, vip.ErrNoLink):
		return "interface " + ifname + " missing"
	case err != nil:
		return "interface " + ifname + ": " + err.Error()
	case !up:
		return "interface " + ifname + " down"
	}
	return ""
}

// checkLink reads the link state and sets or clears the fault of every
// instance on the interface or tracking it.
func (d *Daemon) checkLink(ifname string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.recheckLocked(ifname)
}

// linkSource is the fault source of an interface a VIP of in is on.
func linkSource(in config.Instance, ifname string) string {
	if ifname == in.Interface {
		return srcInterface
	}
	return srcVIPIf + ifname
}

// linkSources hands the election what the state of interface ifname
// means for instance in; reason says why the interface is unusable, ""
// when it is up. An interface a VIP is on, or one tracked without a
// weight, puts the instance in FAULT while it is unusable; one tracked
// with a weight lowers its priority by that weight instead.
func (d *Daemon) linkSources(in config.Instance, ifname, reason string) {
	if slices.Contains(in.Interfaces(), ifname) {
		d.setSource(in.Name, linkSource(in, ifname), reason)
	}
	if !slices.Contains(in.TrackInterfaces, ifname) {
		return
	}
	src := srcTrackIf + ifname
	if w := in.TrackWeights[ifname]; w > 0 {
		d.setSource(in.Name, src, "")
		if reason == "" {
			w = 0
		}
		d.setPenalty(in.Name, src, w)
		return
	}
	d.setPenalty(in.Name, src, 0)
	if reason != "" {
		reason = "tracked " + reason
	}
	d.setSource(in.Name, src, reason)
}

// dropLinkSources withdraws what the interfaces old used and next no
// longer does had reported for the instance: a reload took a VIP off
// them or stopped tracking them.
func (d *Daemon) dropLinkSources(old, next config.Instance) {
	for _, ifname := range old.Interfaces() {
		src := linkSource(old, ifname)
		if !slices.ContainsFunc(next.Interfaces(), func(n string) bool { return linkSource(next, n) == src }) {
			d.setSource(next.Name, src, "")
		}
	}
	for _, t := range old.TrackInterfaces {
		if !slices.Contains(next.TrackInterfaces, t) {
			d.setPenalty(next.Name, srcTrackIf+t, 0)
			d.setSource(next.Name, srcTrackIf+t, "")
		}
	}
}

// startScripts starts the track scripts of an instance. d.mu held.
//
// Before its first run (which comes at once) a check keeps the verdict in
// prev, by name: a reload that restarts a check does not lift or impose a
// FAULT for a moment. A check not in prev starts failed at start-up
// (pending), so that a node whose application is down never takes a VIP
// for the length of one run and gives it back; a check added by a reload
// starts healthy, so that adding a passing check moves nothing.
func (d *Daemon) startScripts(in config.Instance, prev map[string]bool, pending bool) {
	for _, sc := range in.TrackScripts {
		s := health.NewScript(in.Name, sc, d.log)
		s.Node = d.name
		ctx, cancel := context.WithCancel(d.runCtx)
		c := &checker{script: s, cancel: cancel, done: make(chan struct{})}
		name, source, weight := in.Name, srcScript+sc.Name, sc.Weight
		report := func(healthy bool, reason string) {
			switch {
			case healthy:
				d.setSource(name, source, "")
				d.setPenalty(name, source, 0)
			case weight == 0:
				d.setSource(name, source, reason)
				d.setPenalty(name, source, 0)
			default:
				d.setSource(name, source, "")
				d.setPenalty(name, source, weight)
			}
		}
		healthy, known := prev[sc.Name]
		switch {
		case known:
			s.SetHealthy(healthy)
			report(healthy, "track script "+sc.Name+" failed (before the reload)")
		case pending:
			s.SetHealthy(false)
			report(false, "track script "+sc.Name+" has not run yet")
		}
		s.OnResult = func(st health.Status) { d.metrics.scriptResult(name, st) }
		s.OnChange = func(st health.Status) {
			if ctx.Err() != nil {
				return
			}
			report(st.Healthy, fmt.Sprintf("track script %s failed: %s", sc.Name, st.Last.Summary()))
			d.events.check(name, srcScript+sc.Name, st.Healthy, st.Last.Summary())
		}
		d.scripts[in.Name] = append(d.scripts[in.Name], c)
		go func() {
			defer close(c.done)
			_ = s.Run(ctx)
		}()
	}
}

// stopScripts stops the track scripts of an instance and withdraws what
// the ones not named in keep had reported; it returns the verdicts of
// all of them by name. d.mu held.
func (d *Daemon) stopScripts(instance string, keep map[string]bool) map[string]bool {
	verdicts := map[string]bool{}
	for _, c := range d.scripts[instance] {
		c.cancel()
		<-c.done
		verdicts[c.script.Config.Name] = c.script.Status().Healthy
	}
	delete(d.scripts, instance)
	d.fmu.Lock()
	var drop []string
	for src := range d.faults[instance] {
		if strings.HasPrefix(src, srcScript) && !keep[strings.TrimPrefix(src, srcScript)] {
			drop = append(drop, src)
		}
	}
	for src := range d.penalties[instance] {
		if strings.HasPrefix(src, srcScript) && !keep[strings.TrimPrefix(src, srcScript)] {
			delete(d.penalties[instance], src)
		}
	}
	d.fmu.Unlock()
	for _, src := range drop {
		d.setSource(instance, src, "")
	}
	d.pushHealth(instance)
	return verdicts
}

// setPenalty records a script's penalty (0: none) and hands the
// instance's health to the election.
func (d *Daemon) setPenalty(instance, source string, weight int) {
	d.fmu.Lock()
	m := d.penalties[instance]
	if m == nil {
		m = map[string]int{}
		d.penalties[instance] = m
	}
	if weight == 0 {
		delete(m, source)
	} else {
		m[source] = weight
	}
	d.fmu.Unlock()
	d.pushHealth(instance)
}
