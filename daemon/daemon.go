package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

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
	// Ready, if set, is called once the cluster is joined and every
	// instance has left INIT.
	Ready func()
}

// Daemon is one running havip.
type Daemon struct {
	// name is the node name; a reload never changes it.
	name    string
	log     *slog.Logger
	version string
	ready   func()
	metrics *metrics

	// mu guards the configuration and what is built from it. It is never
	// taken by code the election goroutine runs (holders, OnTransition),
	// so holding it while calling into the election cannot deadlock.
	mu      sync.Mutex
	cfg     *config.Config
	links   map[string]*link      // by interface name
	holders map[string]*holder    // by instance name
	scripts map[string][]*checker // by instance name
	node    *election.Node
	// cloud makes the binders of the instances; the [cloud] table needs
	// a restart to change.
	cloud  cloudbind.Provider
	runCtx context.Context
	fatal  chan error

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
	d := &Daemon{
		cfg:       o.Config,
		name:      o.Config.Node.Name,
		log:       l,
		version:   o.Version,
		ready:     o.Ready,
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

// newHolder makes the holder of an instance, with its cloud binding
// when a provider is configured. d.mu held, or before Run.
func (d *Daemon) newHolder(in config.Instance) *holder {
	h := newHolder(in, d.linkFor(in.Interface).mgr, d.log)
	if d.cfg.Cloud.Enabled() {
		h.cloud = newCloudRunner(d.cloud, d.cloud.Binder(in), d.cfg.Cloud.ReconcileInterval, h.log, h.reannounce)
	}
	return h
}

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

// Run runs the daemon until ctx is done, then hands every VIP over and
// leaves the cluster. Start-up errors (the socket in use, memberlist's
// port taken, the metrics address taken) are returned at once.
func (d *Daemon) Run(ctx context.Context) error {
	cfg := d.cfg
	// Holders close their announcers at the end; the links are closed by
	// stopAll (or here when Run fails before starting them).
	defer func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		for _, h := range d.holders {
			h.close()
		}
		for _, l := range d.links {
			if l.cancel == nil {
				l.mgr.Close()
			}
		}
	}()
	for _, w := range cfg.Warnings {
		d.log.Warn("configuration: " + w)
	}
	sock, err := status.Listen(cfg.Status.Socket)
	if err != nil {
		return err
	}
	var metricsLn net.Listener
	if cfg.Status.Metrics != "" {
		metricsLn, err = net.Listen("tcp", cfg.Status.Metrics)
		if err != nil {
			sock.Close()
			return fmt.Errorf("listening for metrics on %s: %w", cfg.Status.Metrics, err)
		}
	}
	closeAll := func() {
		sock.Close()
		if metricsLn != nil {
			metricsLn.Close()
		}
	}

	// A node starts out holding nothing: remove VIPs an earlier run left
	// behind (after kill -9, say) before joining anyone.
	for _, in := range cfg.Instances {
		if err := d.holders[in.Name].removeStale(); err != nil && !errors.Is(err, vip.ErrNoLink) {
			closeAll()
			return fmt.Errorf("instance %q: removing stale VIPs: %w", in.Name, err)
		}
	}

	for _, h := range d.holders {
		h.prepare()
	}
	st, err := loadState(cfg.Node.StateDir)
	if err != nil {
		// An unreadable state file must not keep the node down; it is
		// logged, and the node starts as not drained.
		d.log.Error("reading the node state, starting out of maintenance", "err", err)
	}
	if st.Maintenance {
		d.log.Warn("starting in maintenance (set by havip maintenance on; undo with havip maintenance off)", "file", statePath(cfg.Node.StateDir))
	}

	node, err := election.New(election.Options{
		Config:       election.NewConfig(cfg),
		Holders:      d.electionHolders(),
		Logger:       d.log,
		Ready:        d.ready,
		OnTransition: d.onTransition,
		Maintenance:  st.Maintenance,
	})
	if err != nil {
		closeAll()
		return err
	}
	d.mu.Lock()
	d.node = node
	d.mu.Unlock()

	// Notify queues outlive the election a little, so that the commands
	// of its last transitions run.
	qctx, qcancel := context.WithCancel(context.Background())
	d.tmu.Lock()
	d.qctx = qctx
	d.tmu.Unlock()
	defer func() {
		d.drainQueues(10 * time.Second)
		qcancel()
		d.qwg.Wait()
	}()

	// Health before the first decision, so an instance on a down
	// interface starts in FAULT rather than flapping through MASTER.
	d.mu.Lock()
	for ifname := range d.links {
		d.recheckLocked(ifname)
	}
	d.mu.Unlock()

	// The election stops last: watchers, checks and servers end with
	// ctx, the election then releases and leaves.
	g, gctx := errgroup.WithContext(ctx)
	d.mu.Lock()
	d.runCtx = gctx
	for ifname := range d.links {
		d.startWatch(ifname)
	}
	for _, in := range cfg.Instances {
		d.startScripts(in, nil, true)
	}
	d.mu.Unlock()
	defer d.stopAll()

	srv := &status.Server{Socket: cfg.Status.Socket, Document: d.Document, Logger: d.log, Handlers: d.handlers()}
	g.Go(func() error { return srv.Serve(gctx, sock) })
	if metricsLn != nil {
		g.Go(func() error { return d.metrics.serve(gctx, metricsLn) })
		d.log.Info("serving metrics", "addr", metricsLn.Addr().String())
	}
	g.Go(func() error {
		select {
		case <-gctx.Done():
			return nil
		case err := <-d.fatal:
			return err
		}
	})
	d.awaitFirstRuns(gctx)
	g.Go(func() error { return node.Run(gctx) })
	err = g.Wait()
	// Let the cloud releases started by the last step-downs finish (each
	// is bounded by its own timeout).
	d.mu.Lock()
	var runners []*cloudRunner
	for _, h := range d.holders {
		if h.cloud != nil {
			runners = append(runners, h.cloud)
		}
	}
	d.mu.Unlock()
	for _, r := range runners {
		if !r.wait(cloudReleaseTimeout) {
			d.log.Warn("cloud release still running at exit")
		}
	}
	return err
}

// awaitFirstRuns waits until every track script has run once (each run
// is bounded by its timeout), so the election starts from the real
// health of every instance: no FAULT at start-up for a check that has
// simply not answered yet, no VIP taken for one run and given back.
func (d *Daemon) awaitFirstRuns(ctx context.Context) {
	d.mu.Lock()
	var waits []<-chan struct{}
	longest := time.Duration(0)
	for _, cs := range d.scripts {
		for _, c := range cs {
			waits = append(waits, c.script.Ran())
			longest = max(longest, c.script.Config.Timeout)
		}
	}
	d.mu.Unlock()
	if len(waits) == 0 {
		return
	}
	// The timeout kills a run; the extra second covers reaping it.
	deadline := time.NewTimer(longest + time.Second)
	defer deadline.Stop()
	for _, w := range waits {
		select {
		case <-w:
		case <-ctx.Done():
			return
		case <-deadline.C:
			d.log.Warn("starting before every track script has run once")
			return
		}
	}
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

// startWatch starts following an interface. d.mu held.
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

// resync re-lists the interface and restores the VIPs of master instances.
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
		if in.Interface == ifname {
			hs = append(hs, d.holders[in.Name])
		}
	}
	d.mu.Unlock()
	for _, h := range hs {
		h.ensure(present)
	}
}

// handlers are the control endpoints of the status socket.
func (d *Daemon) handlers() map[string]http.Handler {
	return map[string]http.Handler{
		status.MaintenancePath: status.Handle(d.maintenance),
		status.SwitchoverPath:  status.Handle(d.switchover),
		status.ReloadPath:      status.Handle(func(context.Context, struct{}) (status.ReloadReply, error) { return d.ReloadFile() }),
	}
}

// statePath is the state file in dir.
func statePath(dir string) string { return filepath.Join(dir, config.StateFile) }
