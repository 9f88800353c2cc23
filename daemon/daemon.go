package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/havip/havip/cloudbind"
	"github.com/havip/havip/config"
	"github.com/havip/havip/election"
	"github.com/havip/havip/health"
	"github.com/havip/havip/notify"
	"github.com/havip/havip/status"
	"github.com/havip/havip/vip"
)

// Options configure a daemon run.
type Options struct {
	Config  *config.Config
	Logger  *slog.Logger
	Version string
	// Ready, if set, is called once every instance has left INIT and
	// the node has settled: it joined a member, or its startup_grace
	// passed without one (see readyWhenSettled).
	Ready func()
	// Guard, if set, refuses a configuration this host must not run
	// (preflight.Refuse): a reload of such a file is refused like a file
	// that does not load.
	Guard func(*config.Config) error
}

// Daemon is one running havip.
type Daemon struct {
	// name is the node name; a reload never changes it.
	name    string
	log     *slog.Logger
	version string
	ready   func()
	guard   func(*config.Config) error
	metrics *metrics
	// events is the recent events `havip events` prints.
	events *eventLog

	// mu guards the configuration and what is built from it. It is never
	// taken by code the election goroutine runs (holders, OnTransition),
	// so holding it while calling into the election cannot deadlock.
	mu      sync.Mutex
	cfg     *config.Config
	links   map[string]*link      // by interface name
	holders map[string]*holder    // by instance name
	scripts map[string][]*checker // by instance name
	// node is set once, by setUp, before any goroutine that reads it
	// starts (health reports read it under fmu, the rest under mu).
	node *election.Node
	// cloud makes the binders of the instances; the [cloud] table needs
	// a restart to change.
	cloud cloudbind.Provider
	// runCtx is the context of Run's tasks, which watchers and checks
	// follow; nil until Run starts them, and reloads are refused until
	// then.
	runCtx context.Context
	// fatal takes a link watcher's fatal error to the task that stops
	// the daemon with it (watchFatal).
	fatal chan error

	// epoch is this run's epoch, kept in the state file with the
	// maintenance state.
	epoch atomic.Uint64

	// fmu guards the health state (a leaf lock).
	fmu       sync.Mutex
	faults    map[string]map[string]string // instance → source → reason
	linkState map[string]string            // interface → why it is unusable, "" when up
	penalties map[string]map[string]int    // instance → source → weight

	// tmu guards what transitions need (a leaf lock).
	tmu    sync.Mutex
	hooks  map[string]hookInfo // by instance name
	last   map[string]election.Transition
	queues map[string]*notify.Queue
	qctx   context.Context
	qwg    sync.WaitGroup
}

// link is one interface the daemon follows: the instances' own and the
// tracked ones.
type link struct {
	mgr    *vip.Manager
	cancel context.CancelFunc
	done   chan struct{}
}

// hookInfo is what a transition's notify command needs.
type hookInfo struct {
	notify config.Notify
	vips   []string
	// priority is the instance's configured priority.
	priority int
}

// checker is one running track script.
type checker struct {
	script *health.Script
	cancel context.CancelFunc
	done   chan struct{}
}

// New prepares a daemon; nothing is changed on the host until Run.
func New(o Options) (*Daemon, error) {
	l := o.Logger
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	l = slog.New(flatErrors{l.Handler()})
	d := &Daemon{
		cfg:       o.Config,
		name:      o.Config.Node.Name,
		log:       l,
		version:   o.Version,
		ready:     o.Ready,
		guard:     o.Guard,
		links:     map[string]*link{},
		holders:   map[string]*holder{},
		scripts:   map[string][]*checker{},
		fatal:     make(chan error, 1),
		faults:    map[string]map[string]string{},
		linkState: map[string]string{},
		penalties: map[string]map[string]int{},
		hooks:     map[string]hookInfo{},
		last:      map[string]election.Transition{},
		queues:    map[string]*notify.Queue{},
	}
	d.metrics = newMetrics(d)
	d.events = newEventLog(eventLogSize)
	prov, err := cloudbind.New(o.Config.Cloud, cloudbind.Options{Logger: l})
	if err != nil {
		return nil, fmt.Errorf("cloud binding: %w", err)
	}
	d.cloud = prov
	for _, in := range o.Config.Instances {
		d.holders[in.Name] = d.newHolder(in)
		d.setHooks(in)
	}
	for _, in := range o.Config.Instances {
		for _, t := range in.TrackInterfaces {
			d.linkFor(t)
		}
	}
	return d, nil
}

// newHolder makes the holder of an instance, adding its VIPs for the
// configured lifetime, with its cloud binding when a provider is
// configured. d.mu held, or before Run.
func (d *Daemon) newHolder(in config.Instance) *holder {
	h := newHolder(in, d.linkFor(in.Interface).mgr, d.cfg.Cluster.Timing.AddressLifetime, d.log)
	h.setLinks(d.linkAddrs)
	if d.cfg.Cloud.Enabled() {
		h.cloud = newCloudRunner(d.cloud, d.cloud.Binder(in), d.cfg.Cloud.ReconcileInterval, h.log, h.reannounce)
		h.cloud.onResult = d.events.cloudRecorder(in.Name)
	}
	return h
}

// linkAddrs returns the manager of an interface, for a holder whose
// VIPs are on several (see holder.links). d.mu held, or before Run.
func (d *Daemon) linkAddrs(ifname string) addrs { return d.linkFor(ifname).mgr }

// linkFor returns the link of an interface, creating it (not yet
// watched) if needed. d.mu held, or before Run.
func (d *Daemon) linkFor(ifname string) *link {
	if l := d.links[ifname]; l != nil {
		return l
	}
	l := &link{mgr: vip.New(ifname, vip.WithLogger(d.log))}
	d.links[ifname] = l
	return l
}

// electionHolders returns the holders as the election wants them. d.mu
// held, or before Run.
func (d *Daemon) electionHolders() map[string]election.Holder {
	out := map[string]election.Holder{}
	for name, h := range d.holders {
		out[name] = h
	}
	return out
}

// startWatch starts following an interface until runCtx ends or
// stopWatch. A watcher that fails hands its error to the fatal-errors
// task (watchFatal), which stops the daemon. d.mu held.
func (d *Daemon) startWatch(ifname string) {
	l := d.linkFor(ifname)
	if l.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(d.runCtx)
	l.cancel, l.done = cancel, make(chan struct{})
	go func() {
		defer close(l.done)
		if err := d.watch(ctx, ifname, l.mgr); err != nil {
			select {
			case d.fatal <- err:
			default:
			}
		}
	}()
}

// stopWatch stops following an interface; its manager is closed once
// the watcher is done. It does not wait: the watcher may be waiting for
// d.mu, which the caller holds. It returns the channel closed when the
// watcher is done.
func (d *Daemon) stopWatch(ifname string) <-chan struct{} {
	l := d.links[ifname]
	if l == nil {
		return nil
	}
	delete(d.links, ifname)
	d.fmu.Lock()
	delete(d.linkState, ifname)
	d.fmu.Unlock()
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		if l.cancel != nil {
			l.cancel()
			<-l.done
		}
		l.mgr.Close()
	}()
	return closed
}

// stopAll stops the watchers and the checks at the end of Run and waits
// for them.
func (d *Daemon) stopAll() {
	d.mu.Lock()
	for name := range d.scripts {
		d.stopScripts(name, nil)
	}
	var done []<-chan struct{}
	for ifname := range d.links {
		done = append(done, d.stopWatch(ifname))
	}
	d.mu.Unlock()
	for _, c := range done {
		<-c
	}
}

// watch follows one interface: link changes set or clear FAULT, and a VIP
// removed behind a master's back is added again.
func (d *Daemon) watch(ctx context.Context, ifname string, m *vip.Manager) error {
	events := make(chan vip.Event, 64)
	errc := make(chan error, 1)
	go func() { errc <- m.Watch(ctx, events) }()
	for {
		select {
		case <-ctx.Done():
			<-errc
			return nil
		case err := <-errc:
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("watching interface %s: %w", ifname, err)
		case e := <-events:
			switch e.Kind {
			case vip.LinkChanged:
				d.log.Info("link changed", "interface", ifname, "up", e.Up)
				d.checkLink(ifname)
			case vip.AddrRemoved:
				d.resync(ifname, m)
			case vip.Resync:
				d.checkLink(ifname)
				d.resync(ifname, m)
			}
		}
	}
}

// resync re-lists the interface, restores the VIPs of master instances
// and has the election release again at once where VIPs it failed to
// remove are gone.
func (d *Daemon) resync(ifname string, m *vip.Manager) {
	have, err := m.List()
	if err != nil {
		return
	}
	present := map[netip.Prefix]bool{}
	for _, p := range have {
		present[p] = true
	}
	d.mu.Lock()
	var hs []*holder
	for _, in := range d.cfg.Instances {
		if slices.Contains(in.Interfaces(), ifname) {
			hs = append(hs, d.holders[in.Name])
		}
	}
	node := d.node
	d.mu.Unlock()
	for _, h := range hs {
		h.ensure(ifname, present)
		if h.leftGone(ifname, present) && node != nil {
			// Release again now rather than at the next retry: the
			// others wait for this node to say it holds nothing.
			node.Reevaluate()
		}
	}
}

// handlers are the control endpoints of the status socket.
func (d *Daemon) handlers() map[string]http.Handler {
	return map[string]http.Handler{
		status.MaintenancePath: status.Handle(d.maintenance),
		status.SwitchoverPath:  status.Handle(d.switchover),
		status.ReloadPath:      status.Handle(func(context.Context, struct{}) (status.ReloadReply, error) { return d.ReloadFile() }),
		status.EventsPath:      status.EventsHandler(d.events.query),
	}
}

// statePath is the state file in dir.
func statePath(dir string) string { return filepath.Join(dir, config.StateFile) }
