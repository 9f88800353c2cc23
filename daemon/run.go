package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/havip/havip/config"
	"github.com/havip/havip/election"
	"github.com/havip/havip/status"
	"github.com/havip/havip/vip"
)

// Run runs the daemon until ctx is done, then hands every VIP over and
// leaves the cluster. Start-up errors (the socket in use, memberlist's
// port taken, the metrics address taken) are returned at once.
//
// Start-up is a row of small steps; then the tasks of buildTasks run
// together under one errgroup, and the first of them to fail stops the
// others. Link watchers and track scripts are not tasks: reloads start
// and stop them one by one, so they follow the group's context and
// report fatal errors to a task instead.
func (d *Daemon) Run(ctx context.Context) error {
	// Nothing reloads the configuration before startHealth sets runCtx,
	// so until then d.cfg is read without d.mu.
	cfg := d.cfg
	// Holders close their announcers at the end; the links are closed by
	// stopAll (or here when Run fails before starting them).
	defer d.closeHolders()
	d.logWarnings(cfg)
	lns, err := listen(cfg.Status)
	if err != nil {
		return err
	}
	node, err := d.setUp(ctx, cfg)
	if err != nil {
		lns.close()
		return err
	}
	// Notify queues outlive the election a little, so that the commands
	// of its last transitions run.
	stopQueues := d.startQueues()
	defer stopQueues()
	// Health before the first decision, so an instance on a down
	// interface starts in FAULT rather than flapping through MASTER.
	d.readHealth()

	// The election stops last: watchers, checks and servers end with
	// ctx, the election then releases and leaves. The links stay open
	// until it has (stopAll runs once the group is done), since the
	// holders release the VIPs through them.
	g, gctx := errgroup.WithContext(ctx)
	d.startHealth(gctx)
	defer d.stopAll()
	for _, t := range d.buildTasks(lns, node) {
		g.Go(func() error { return t.Run(gctx) })
	}
	err = g.Wait()
	d.awaitCloudReleases()
	return err
}

// A task is one long-running part of the daemon. Run returns nil once
// ctx is done, after the part has stopped; an error stops the daemon.
type task struct {
	name string
	run  func(ctx context.Context) error
}

// Run runs the task until ctx is done or it fails.
func (t task) Run(ctx context.Context) error { return t.run(ctx) }

func (t task) String() string { return t.name }

// buildTasks returns the daemon's long-running parts: the status socket,
// the metrics endpoint when configured, the watcher of fatal errors and
// the election. The election waits for the track scripts' first runs
// before it starts, while the status socket already answers.
func (d *Daemon) buildTasks(lns listeners, node *election.Node) []task {
	srv := &status.Server{Socket: lns.socket, Document: d.Document, Logger: d.log, Handlers: d.handlers()}
	tasks := []task{{"status socket", func(ctx context.Context) error { return srv.Serve(ctx, lns.status) }}}
	if lns.metrics != nil {
		tasks = append(tasks, task{"metrics", func(ctx context.Context) error { return d.metrics.serve(ctx, lns.metrics) }})
		d.log.Info("serving metrics", "addr", lns.metrics.Addr().String())
	}
	return append(tasks,
		task{"fatal errors", d.watchFatal},
		task{"events", func(ctx context.Context) error { return d.watchEvents(ctx, node) }},
		task{"election", func(ctx context.Context) error {
			d.awaitFirstRuns(ctx)
			return node.Run(ctx)
		}},
	)
}

// listeners are the sockets the daemon serves on. They are opened
// before anything else, so that an address in use is reported at once
// and nothing is changed on the host.
type listeners struct {
	// socket is the status socket's path.
	socket string
	status net.Listener
	// metrics is nil without status.metrics.
	metrics net.Listener
}

// listen opens the status socket and the metrics address.
func listen(st config.Status) (listeners, error) {
	gid, err := st.SocketGroupID()
	if err != nil {
		return listeners{}, fmt.Errorf("status.socket_group: %w", err)
	}
	sock, err := status.Listen(st.Socket, gid)
	if err != nil {
		return listeners{}, err
	}
	lns := listeners{socket: st.Socket, status: sock}
	if st.Metrics != "" {
		lns.metrics, err = net.Listen("tcp", st.Metrics)
		if err != nil {
			sock.Close()
			return listeners{}, fmt.Errorf("listening for metrics on %s: %w", st.Metrics, err)
		}
	}
	return lns, nil
}

// close closes the listeners when Run fails before serving on them.
func (l listeners) close() {
	l.status.Close()
	if l.metrics != nil {
		l.metrics.Close()
	}
}

// logWarnings logs the configuration's warnings.
func (d *Daemon) logWarnings(cfg *config.Config) {
	for _, w := range cfg.Warnings {
		d.log.Warn("configuration: " + w)
	}
}

// setUp puts the host in its starting state and makes the election
// node: stale VIPs removed, holders prepared, the maintenance state
// read. The node reports ready to d.ready once settled, unless ctx ends
// first.
func (d *Daemon) setUp(ctx context.Context, cfg *config.Config) (*election.Node, error) {
	if err := d.removeStaleVIPs(cfg); err != nil {
		return nil, err
	}
	for _, h := range d.holders {
		h.prepare()
	}
	st := d.loadState(cfg)
	return d.newNode(cfg, st.Maintenance, d.nextEpoch(cfg, st), d.readyWhenSettled(ctx, cfg))
}

// removeStaleVIPs removes the VIPs an earlier run left behind (after
// kill -9, say): a node starts out holding nothing, before joining
// anyone. A missing interface is no error here; its instances start in
// FAULT.
func (d *Daemon) removeStaleVIPs(cfg *config.Config) error {
	for _, in := range cfg.Instances {
		if err := d.holders[in.Name].removeStale(); err != nil && !errors.Is(err, vip.ErrNoLink) {
			return fmt.Errorf("instance %q: removing stale VIPs: %w", in.Name, err)
		}
	}
	return nil
}

// loadState reads the node state: whether it starts drained, and the
// last run's epoch. An unreadable or corrupt state file may have said
// "drained": the node starts drained rather than take VIPs an operator
// moved away, and says how to undo it. It does not stay down: `havip
// status` and `havip maintenance off` work as always, and the next save
// (this run's epoch, below) writes a sound file.
func (d *Daemon) loadState(cfg *config.Config) nodeState {
	st, err := loadState(cfg.Node.StateDir)
	if err != nil {
		d.log.Error("the node state cannot be read: starting in maintenance, as it may have said; `havip maintenance off` undoes it",
			"file", statePath(cfg.Node.StateDir), "err", err)
		return nodeState{Maintenance: true, Changed: time.Now().UTC()}
	}
	if st.Maintenance {
		d.log.Warn("starting in maintenance (set by havip maintenance on; undo with havip maintenance off)", "file", statePath(cfg.Node.StateDir))
	}
	return st
}

// nextEpoch picks this run's epoch, above the last run's whatever the
// clock did since (see election.NextEpoch), and records it in the state
// file. The peers drop updates and heartbeats of a run whose epoch is
// not above the last one they know: a node restarted with its clock
// stepped back would otherwise be ignored until they restart. When the
// file cannot be written the start time serves, as it always did, and
// the error is logged.
func (d *Daemon) nextEpoch(cfg *config.Config, st nodeState) uint64 {
	epoch := election.NextEpoch(st.Epoch, time.Now())
	st.Epoch = epoch
	if err := saveState(cfg.Node.StateDir, st); err != nil {
		d.log.Error("recording this run's epoch in the node state; a clock stepped back before the next start may leave that run ignored", "err", err)
	}
	d.epoch.Store(epoch)
	return epoch
}

// newNode makes the election node; from now on health reaches it.
func (d *Daemon) newNode(cfg *config.Config, maintenance bool, epoch uint64, ready func()) (*election.Node, error) {
	node, err := election.New(election.Options{
		Config:       election.NewConfig(cfg),
		Holders:      d.electionHolders(),
		Logger:       d.log,
		Ready:        ready,
		OnTransition: d.onTransition,
		Maintenance:  maintenance,
		Epoch:        epoch,
	})
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.node = node
	d.mu.Unlock()
	return node, nil
}

// startQueues lets transitions start notify queues, and returns what
// stops them: it waits for the commands already queued (up to a bound),
// then ends the queues.
func (d *Daemon) startQueues() (stop func()) {
	qctx, qcancel := context.WithCancel(context.Background())
	d.tmu.Lock()
	d.qctx = qctx
	d.tmu.Unlock()
	return func() {
		d.drainQueues(10 * time.Second)
		qcancel()
		d.qwg.Wait()
	}
}

// readHealth reads every link once, so that the election's first
// decision knows which interfaces are down.
func (d *Daemon) readHealth() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for ifname := range d.links {
		d.recheckLocked(ifname)
	}
}

// startHealth starts the link watchers and the track scripts, which run
// until ctx is done or stopAll stops them. Once runCtx is set, reloads
// are accepted.
func (d *Daemon) startHealth(ctx context.Context) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.runCtx = ctx
	for ifname := range d.links {
		d.startWatch(ifname)
	}
	for _, in := range d.cfg.Instances {
		d.startScripts(in, nil, true)
	}
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

// watchFatal is the task that ends the daemon on the first fatal error
// of a link watcher (see startWatch).
func (d *Daemon) watchFatal(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case err := <-d.fatal:
		return err
	}
}

// awaitCloudReleases lets the cloud releases started by the last
// step-downs finish (each is bounded by its own timeout).
func (d *Daemon) awaitCloudReleases() {
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
}

// closeHolders closes the holders' announcers, and the links Run did not
// get to watch (stopAll closes the others), at the very end of Run.
func (d *Daemon) closeHolders() {
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
}
