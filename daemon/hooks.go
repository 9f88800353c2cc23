package daemon

import (
	"github.com/havip/havip/config"
	"github.com/havip/havip/notify"
)

// stopState is the state the notify commands get when the daemon stops,
// as keepalived names it.
const stopState = "STOP"

// pushHooks queues the commands of one state change of an instance: the
// state's own command, then the one run on every change (notify.any,
// with keepalived's arguments), each as its own user when it has one,
// else as the notify table's. e says what changed; the rest comes from
// h. It never blocks.
func (d *Daemon) pushHooks(q *notify.Queue, h hookInfo, e notify.Event) {
	e.Node, e.VIPs, e.Timeout = d.name, h.vips, h.notify.Timeout
	e.Priority = d.priority(e.Instance, h.priority)
	if cmd := h.notify.Command(e.State); cmd != nil {
		e.Command, e.Args, e.RunAs = cmd, notify.StateArgs, h.notify.RunAsFor(e.State)
		q.Push(e)
	}
	if h.notify.Any != nil {
		e.Command, e.Args, e.RunAs = h.notify.Any, notify.KeepalivedArgs, h.notify.RunAsFor(config.AnyHook)
		q.Push(e)
	}
}

// priority is the configured priority of an instance less the weights
// of what fails on this node, never below 1: what its notify commands
// are told, as keepalived tells its notify script its priority.
func (d *Daemon) priority(instance string, configured int) int {
	d.fmu.Lock()
	defer d.fmu.Unlock()
	p := configured
	for _, w := range d.penalties[instance] {
		p -= w
	}
	return max(p, 1)
}

// queueStops queues, for every instance, the commands of the daemon's
// stop (notify.stop, and notify.any with STOP), as keepalived runs
// notify_stop. It runs at the end of Run, once the election has
// released the VIPs and left, before the queues are drained.
func (d *Daemon) queueStops() {
	type stop struct {
		q          *notify.Queue
		h          hookInfo
		name, from string
	}
	var stops []stop
	d.tmu.Lock()
	for name, h := range d.hooks {
		if h.notify.Stop == nil && h.notify.Any == nil {
			continue
		}
		if q := d.queue(name); q != nil {
			stops = append(stops, stop{q, h, name, d.last[name].To.String()})
		}
	}
	d.tmu.Unlock()
	for _, s := range stops {
		d.pushHooks(s.q, s.h, notify.Event{Instance: s.name, State: stopState, Previous: s.from, Reason: "the daemon stops"})
	}
}
