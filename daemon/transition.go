package daemon

import (
	"strings"
	"time"

	"github.com/havip/havip/config"
	"github.com/havip/havip/election"
	"github.com/havip/havip/notify"
)

// setHooks records what the notify commands of an instance need.
func (d *Daemon) setHooks(in config.Instance) {
	vips := make([]string, len(in.VIPs))
	for i, p := range in.VIPs {
		vips[i] = p.String()
	}
	d.tmu.Lock()
	d.hooks[in.Name] = hookInfo{notify: in.Notify, vips: vips, priority: in.Priority}
	d.tmu.Unlock()
}

// dropHooks forgets a removed instance's hooks (its queue finishes what
// it has).
func (d *Daemon) dropHooks(name string) {
	d.tmu.Lock()
	delete(d.hooks, name)
	d.tmu.Unlock()
}

// onTransition runs in the election goroutine after every transition: it
// logs the transition with the instance's VIPs, records it, counts it and
// queues the notify command. It never blocks.
func (d *Daemon) onTransition(t election.Transition) {
	d.metrics.transition(t)
	d.events.transition(t)
	d.tmu.Lock()
	d.last[t.Instance] = t
	h, ok := d.hooks[t.Instance]
	var q *notify.Queue
	if ok {
		q = d.queue(t.Instance)
	}
	d.tmu.Unlock()
	d.log.Info("transition", "instance", t.Instance, "from", t.From.String(), "state", t.To.String(),
		"reason", t.Reason, "master", t.Master, "vip", strings.Join(h.vips, ","))
	if q == nil {
		return
	}
	d.pushHooks(q, h, notify.Event{Instance: t.Instance, State: t.To.String(), Previous: t.From.String(), Reason: t.Reason})
}

// queue returns the notify queue of an instance, starting it if needed.
// d.tmu held.
func (d *Daemon) queue(instance string) *notify.Queue {
	if q := d.queues[instance]; q != nil {
		return q
	}
	if d.qctx == nil {
		return nil
	}
	q := notify.NewQueue(nil, d.log)
	q.OnDone = d.metrics.notifyDone
	d.queues[instance] = q
	d.qwg.Add(1)
	go func() {
		defer d.qwg.Done()
		q.Run(d.qctx)
	}()
	return q
}

// drainQueues queues the commands of the daemon's stop (see
// queueStops), then waits up to max for every notify command queued.
func (d *Daemon) drainQueues(max time.Duration) {
	d.queueStops()
	d.tmu.Lock()
	var idle []<-chan struct{}
	for _, q := range d.queues {
		idle = append(idle, q.Idle())
	}
	d.tmu.Unlock()
	deadline := time.NewTimer(max)
	defer deadline.Stop()
	for _, c := range idle {
		select {
		case <-c:
		case <-deadline.C:
			d.log.Warn("notify commands still running at exit: killing them")
			return
		}
	}
}

// lastTransition returns the last transition of an instance.
func (d *Daemon) lastTransition(instance string) (election.Transition, bool) {
	d.tmu.Lock()
	defer d.tmu.Unlock()
	t, ok := d.last[instance]
	return t, ok
}
