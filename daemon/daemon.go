package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"

	"golang.org/x/sync/errgroup"

	"github.com/havip/havip/cloudbind"
	"github.com/havip/havip/config"
	"github.com/havip/havip/election"
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
	cfg     *config.Config
	log     *slog.Logger
	version string
	ready   func()

	links   map[string]*vip.Manager // by interface name
	holders map[string]*holder      // by instance name
	node    *election.Node
	cloud   cloudbind.Provider
}

// New prepares a daemon; nothing is changed on the host until Run.
func New(o Options) (*Daemon, error) {
	l := o.Logger
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	d := &Daemon{
		cfg:     o.Config,
		log:     l,
		version: o.Version,
		ready:   o.Ready,
		links:   map[string]*vip.Manager{},
		holders: map[string]*holder{},
	}
	prov, err := cloudbind.New(o.Config.Cloud, cloudbind.Options{Logger: l})
	if err != nil {
		return nil, fmt.Errorf("cloud binding: %w", err)
	}
	d.cloud = prov
	for _, in := range o.Config.Instances {
		m := d.links[in.Interface]
		if m == nil {
			m = vip.New(in.Interface, vip.WithLogger(l))
			d.links[in.Interface] = m
		}
		h := newHolder(in, m, l)
		if o.Config.Cloud.Enabled() {
			h.cloud = newCloudRunner(prov, prov.Binder(in), o.Config.Cloud.ReconcileInterval, h.log, h.reannounce)
		}
		d.holders[in.Name] = h
	}
	return d, nil
}

// Run runs the daemon until ctx is done, then hands every VIP over and
// leaves the cluster. Start-up errors (the socket in use, memberlist's
// port taken) are returned at once.
func (d *Daemon) Run(ctx context.Context) error {
	defer func() {
		for _, h := range d.holders {
			h.close()
		}
		for _, m := range d.links {
			m.Close()
		}
	}()
	for _, w := range d.cfg.Warnings {
		d.log.Warn("configuration: " + w)
	}
	sock, err := status.Listen(d.cfg.Status.Socket)
	if err != nil {
		return err
	}

	// A node starts out holding nothing: remove VIPs an earlier run left
	// behind (after kill -9, say) before joining anyone.
	for _, in := range d.cfg.Instances {
		if err := d.holders[in.Name].removeStale(); err != nil && !errors.Is(err, vip.ErrNoLink) {
			sock.Close()
			return fmt.Errorf("instance %q: removing stale VIPs: %w", in.Name, err)
		}
	}

	// Resolve the cloud IDs in the background while the node joins.
	for _, h := range d.holders {
		if h.cloud != nil {
			h.cloud.prepare()
		}
	}

	holders := map[string]election.Holder{}
	for name, h := range d.holders {
		h.prepare()
		holders[name] = h
	}
	node, err := election.New(election.Options{
		Config:  d.cfg,
		Holders: holders,
		Logger:  d.log,
		Ready:   d.ready,
	})
	if err != nil {
		sock.Close()
		return err
	}
	d.node = node
	// Link state before the first decision, so an instance on a down
	// interface starts in FAULT rather than flapping through MASTER.
	for ifname, m := range d.links {
		d.checkLink(ifname, m)
	}

	// The election stops last: watchers and the status server end with
	// ctx, the election then releases and leaves.
	g, gctx := errgroup.WithContext(ctx)
	srv := &status.Server{Socket: d.cfg.Status.Socket, Document: d.Document, Logger: d.log}
	g.Go(func() error { return srv.Serve(gctx, sock) })
	for ifname, m := range d.links {
		g.Go(func() error { return d.watch(gctx, ifname, m) })
	}
	g.Go(func() error { return node.Run(gctx) })
	err = g.Wait()
	// Let the cloud releases started by the last step-downs finish (each
	// is bounded by its own timeout).
	for _, h := range d.holders {
		if h.cloud != nil && !h.cloud.wait(cloudReleaseTimeout) {
			d.log.Warn("cloud release still running at exit", "instance", h.inst.Name)
		}
	}
	return err
}

// instancesOn returns the holders of the instances on an interface.
func (d *Daemon) instancesOn(ifname string) []*holder {
	var out []*holder
	for _, in := range d.cfg.Instances {
		if in.Interface == ifname {
			out = append(out, d.holders[in.Name])
		}
	}
	return out
}

// checkLink reads the link state and sets or clears the instances' fault.
func (d *Daemon) checkLink(ifname string, m *vip.Manager) {
	up, err := m.LinkUp()
	reason := ""
	switch {
	case errors.Is(err, vip.ErrNoLink):
		reason = "interface " + ifname + " missing"
	case err != nil:
		reason = "interface " + ifname + ": " + err.Error()
	case !up:
		reason = "interface " + ifname + " down"
	}
	for _, h := range d.instancesOn(ifname) {
		d.node.SetFault(h.inst.Name, reason)
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
				d.checkLink(ifname, m)
			case vip.AddrRemoved:
				d.resync(ifname, m)
			case vip.Resync:
				d.checkLink(ifname, m)
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
	for _, h := range d.instancesOn(ifname) {
		h.ensure(present)
	}
}

// Document builds the status document from the election's snapshot.
func (d *Daemon) Document() status.Document {
	s := d.node.Status()
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
		vips := make([]string, len(in.VIPs))
		for i, p := range in.VIPs {
			vips[i] = p.String()
		}
		doc.Instances = append(doc.Instances, status.Instance{
			Name:              in.Name,
			State:             in.State.String(),
			Master:            in.Master,
			VIPs:              vips,
			Since:             status.FormatTime(in.Since),
			Interface:         in.Interface,
			Priority:          in.Priority,
			EffectivePriority: in.EffectivePriority,
			Preempt:           in.Preempt,
			Reason:            in.Reason,
			Cloud:             d.cloudStatus(in.Name),
		})
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

func (d *Daemon) cloudStatus(instance string) *status.Cloud {
	h := d.holders[instance]
	if h == nil || h.cloud == nil {
		return nil
	}
	return h.cloud.status()
}
