package daemon

import (
	"context"
	"sync"
	"time"

	"github.com/havip/havip/config"
	"github.com/havip/havip/election"
)

// readyWhenSettled returns the election's Ready callback: it calls
// d.ready once the node has settled, that is once it has joined another
// member or, when none answers, once startup_grace has passed since
// every instance left INIT, which the election reports at once after a
// failed join. systemd's READY then means that this node knows the
// cluster's state or has waited as long as it waits before holding a
// VIP alone. A node without peers is ready at once. The wait ends with
// ctx.
func (d *Daemon) readyWhenSettled(ctx context.Context, cfg *config.Config) func() {
	if d.ready == nil {
		return nil
	}
	if len(cfg.Cluster.Peers) == 0 {
		return d.ready
	}
	t := cfg.Cluster.Timing
	var once sync.Once
	return func() {
		// The election calls this from its own goroutine, which must not
		// wait.
		once.Do(func() {
			deadline := time.Now().Add(t.StartupGrace)
			go func() {
				if awaitSettled(ctx, deadline, t.HeartbeatInterval, d.joined) {
					d.ready()
				}
			}()
		})
	}
}

// joined reports whether another member is alive in the election's view.
func (d *Daemon) joined() bool {
	d.mu.Lock()
	node := d.node
	d.mu.Unlock()
	if node == nil {
		return false
	}
	for _, m := range node.Status().Members {
		if !m.Self && m.State == election.MemberAlive {
			return true
		}
	}
	return false
}

// awaitSettled waits until joined reports true, looking every tick, or
// until deadline; it returns false if ctx ends first.
func awaitSettled(ctx context.Context, deadline time.Time, tick time.Duration, joined func() bool) bool {
	grace := time.NewTimer(time.Until(deadline))
	defer grace.Stop()
	ticker := time.NewTicker(max(tick, time.Millisecond))
	defer ticker.Stop()
	for !joined() {
		select {
		case <-ctx.Done():
			return false
		case <-grace.C:
			return true
		case <-ticker.C:
		}
	}
	return true
}
