package daemon

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"reflect"
	"strings"

	"github.com/havip/havip/config"
	"github.com/havip/havip/election"
	"github.com/havip/havip/status"
)

// ReloadFile reads the configuration file again and applies it (see
// Reload). A file that does not load, or that this host must not run
// (Options.Guard), changes nothing: its errors are logged and returned.
// Everything it returns has been logged.
func (d *Daemon) ReloadFile() (status.ReloadReply, error) {
	d.mu.Lock()
	path := d.cfg.Path
	d.mu.Unlock()
	cfg, err := config.Load(path)
	if err == nil && d.guard != nil {
		err = d.guard(cfg)
	}
	if err != nil {
		var errs config.Errors
		if errors.As(err, &errs) {
			for _, e := range errs {
				d.log.Error("reload refused, the running configuration stays", "config", path, "err", e.Error())
			}
		} else {
			d.log.Error("reload refused, the running configuration stays", "config", path, "err", err)
		}
		return status.ReloadReply{}, &status.RequestError{Code: http.StatusBadRequest,
			Msg: "reload refused, the running configuration stays:\n" + err.Error()}
	}
	return d.Reload(cfg)
}

// Diff is what changed between two configurations.
type Diff struct {
	// Changed, Added and Removed name instances; an instance is changed
	// when any of its settings (checks and hooks included) differs.
	Changed, Added, Removed []string
	// NeedRestart names the settings that differ but cannot change
	// while the daemon runs.
	NeedRestart []string
}

// restartOnly is a setting that cannot change while the daemon runs: a
// reload reports it under key when it differs, and keeps its running
// value.
type restartOnly struct {
	// key names the setting in Diff.NeedRestart. Operators' tooling
	// reads these names: they never change.
	key string
	// differs reports whether the setting differs from old to next.
	differs func(old, next *config.Config) bool
	// keep sets the setting in next to its value in old.
	keep func(old, next *config.Config)
}

// field makes the restartOnly entry of the setting at at(c), compared
// deeply.
func field[T any](key string, at func(c *config.Config) *T) restartOnly {
	return restartOnly{
		key:     key,
		differs: func(old, next *config.Config) bool { return !reflect.DeepEqual(*at(old), *at(next)) },
		keep:    func(old, next *config.Config) { *at(next) = *at(old) },
	}
}

// restartOnlySettings are the settings that need a restart, in the
// order Diff.NeedRestart lists them. The node's identity and addresses,
// the cluster's membership, key and timing are what memberlist and the
// heartbeats were started with (election.Config outside its
// Reloadable); the sockets are open; the cloud provider, its
// credentials and caches live as long as the process.
// cluster.quorum is the one [cluster] setting that applies live (it is
// part of election.Reloadable).
var restartOnlySettings = []restartOnly{
	field("node.name", func(c *config.Config) *string { return &c.Node.Name }),
	field("node.bind", func(c *config.Config) *netip.AddrPort { return &c.Node.Bind }),
	field("node.advertise", func(c *config.Config) *netip.AddrPort { return &c.Node.Advertise }),
	field("node.state_dir", func(c *config.Config) *string { return &c.Node.StateDir }),
	field("cluster.name", func(c *config.Config) *string { return &c.Cluster.Name }),
	field("cluster.peers", func(c *config.Config) *[]string { return &c.Cluster.Peers }),
	field("cluster.secret_key_file", func(c *config.Config) *string { return &c.Cluster.SecretKeyFile }),
	{
		// The same file with another key in it: a changed path is
		// reported by the entry above, and the key is kept either way.
		key: "cluster.secret_key_file (the key in it)",
		differs: func(old, next *config.Config) bool {
			return !bytes.Equal(old.Cluster.SecretKey, next.Cluster.SecretKey) &&
				old.Cluster.SecretKeyFile == next.Cluster.SecretKeyFile
		},
		keep: func(old, next *config.Config) { next.Cluster.SecretKey = old.Cluster.SecretKey },
	},
	field("cluster.insecure", func(c *config.Config) *bool { return &c.Cluster.Insecure }),
	field("cluster.timing", func(c *config.Config) *config.Timing { return &c.Cluster.Timing }),
	field("status.socket", func(c *config.Config) *string { return &c.Status.Socket }),
	field("status.socket_group", func(c *config.Config) *string { return &c.Status.SocketGroup }),
	field("status.metrics", func(c *config.Config) *string { return &c.Status.Metrics }),
	field("cloud", func(c *config.Config) *config.Cloud { return &c.Cloud }),
}

// Compare lists what changes from old to next.
func Compare(old, next *config.Config) Diff {
	var d Diff
	for _, s := range restartOnlySettings {
		if s.differs(old, next) {
			d.NeedRestart = append(d.NeedRestart, s.key)
		}
	}

	before := map[string]config.Instance{}
	for _, in := range old.Instances {
		before[in.Name] = in
	}
	for _, in := range next.Instances {
		prev, ok := before[in.Name]
		switch {
		case !ok:
			d.Added = append(d.Added, in.Name)
		case !reflect.DeepEqual(prev, in):
			d.Changed = append(d.Changed, in.Name)
		}
		delete(before, in.Name)
	}
	for _, in := range old.Instances {
		if _, gone := before[in.Name]; gone {
			d.Removed = append(d.Removed, in.Name)
		}
	}
	return d
}

// keepRestartOnly returns next with the settings that need a restart
// taken from old.
func keepRestartOnly(old, next *config.Config) *config.Config {
	c := *next
	for _, s := range restartOnlySettings {
		s.keep(old, &c)
	}
	return &c
}

// Reload applies a new configuration while the daemon runs. Instances
// that did not change are not touched; changed ones are updated in place
// (a master keeps the VIPs that stay: no release, no new announcement
// for them); their checks restart only when the checks changed. Settings
// that need a restart are logged and keep their running values.
func (d *Daemon) Reload(next *config.Config) (status.ReloadReply, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.runCtx == nil || d.runCtx.Err() != nil {
		d.log.Warn("reload ignored: the daemon is starting or stopping")
		return status.ReloadReply{}, &status.RequestError{Code: http.StatusServiceUnavailable,
			Msg: "the daemon is starting or stopping; reload again once it runs"}
	}
	old := d.cfg
	diff := Compare(old, next)
	for _, key := range diff.NeedRestart {
		d.log.Warn("setting changed in the file but needs a restart; the running value stays", "key", key)
	}
	cfg := keepRestartOnly(old, next)
	prev := map[string]config.Instance{}
	for _, in := range old.Instances {
		prev[in.Name] = in
	}

	// Links first, so that a new or changed instance's health is known
	// when the election sees it.
	need := neededLinks(cfg)
	for ifname := range need {
		if d.links[ifname] == nil {
			d.startWatch(ifname)
		}
	}
	oldHolders := d.holders
	holders, errs := d.reloadHolders(cfg, prev)
	d.cfg = cfg
	d.holders = holders
	d.reloadHealth(cfg, prev, need)

	if err := d.node.Reload(election.NewReloadable(cfg), d.electionHolders()); err != nil {
		errs = append(errs, err.Error())
	}

	for _, name := range diff.Removed {
		d.dropInstance(name, oldHolders[name])
	}
	for ifname := range d.links {
		if !need[ifname] {
			d.stopWatch(ifname)
		}
	}
	return d.reloaded(cfg, diff, errs)
}

// reloadHolders returns the holders of cfg's instances: an added
// instance gets a new one (with its stale VIPs removed), a changed one
// has its holder updated in place, an unchanged one keeps it as it is.
// It returns the update errors, one per instance. d.mu held.
func (d *Daemon) reloadHolders(cfg *config.Config, prev map[string]config.Instance) (map[string]*holder, []string) {
	holders := map[string]*holder{}
	var errs []string
	for _, in := range cfg.Instances {
		p, existed := prev[in.Name]
		h := d.holders[in.Name]
		switch {
		case !existed:
			h = d.newHolder(in)
			h.prepare()
			if err := h.removeStale(); err != nil {
				d.log.Warn("removing stale VIPs of an added instance", "instance", in.Name, "err", err)
			}
		case !reflect.DeepEqual(p, in):
			if err := h.update(in, d.links[in.Interface].mgr); err != nil {
				errs = append(errs, fmt.Sprintf("instance %q: %v", in.Name, err))
			}
		}
		holders[in.Name] = h
		d.setHooks(in)
	}
	return holders, errs
}

// reloadHealth updates the health sources of changed and added
// instances: their track scripts restart when they changed, interfaces
// no longer tracked stop counting, and every link in need is read
// again. d.mu held, with cfg already in force.
func (d *Daemon) reloadHealth(cfg *config.Config, prev map[string]config.Instance, need map[string]bool) {
	for _, in := range cfg.Instances {
		p, existed := prev[in.Name]
		if existed && reflect.DeepEqual(p, in) {
			continue
		}
		if !existed || !reflect.DeepEqual(p.TrackScripts, in.TrackScripts) {
			keep := map[string]bool{}
			for _, sc := range in.TrackScripts {
				keep[sc.Name] = true
			}
			verdicts := d.stopScripts(in.Name, keep)
			d.startScripts(in, verdicts, false)
		}
		// Links no longer used stop counting; the others are read
		// again below, without clearing them first (which could end a
		// FAULT for a moment).
		if existed {
			d.dropLinkSources(p, in)
		}
	}
	for ifname := range d.links {
		if need[ifname] {
			d.recheckLocked(ifname)
		}
	}
}

// dropInstance forgets a removed instance once the election has: its
// holder (nil if none), checks, health sources and hooks. d.mu held.
func (d *Daemon) dropInstance(name string, h *holder) {
	if h != nil {
		h.close()
	}
	d.stopScripts(name, nil)
	d.clearSources(name, "")
	d.dropHooks(name)
}

// reloaded logs what a reload did and builds its reply.
func (d *Daemon) reloaded(cfg *config.Config, diff Diff, errs []string) (status.ReloadReply, error) {
	d.log.Info("configuration reloaded", "config", cfg.Path,
		"changed", strings.Join(diff.Changed, ","), "added", strings.Join(diff.Added, ","),
		"removed", strings.Join(diff.Removed, ","), "need_restart", strings.Join(diff.NeedRestart, ","))
	reply := status.ReloadReply{Changed: nonNil(diff.Changed), Added: nonNil(diff.Added), Removed: nonNil(diff.Removed), NeedRestart: nonNil(diff.NeedRestart)}
	if len(errs) > 0 {
		err := errors.New(strings.Join(errs, "; "))
		d.log.Error("reload applied with errors", "err", err)
		return reply, err
	}
	return reply, nil
}

// recheckLocked is checkLink for use with d.mu held.
func (d *Daemon) recheckLocked(ifname string) {
	l := d.links[ifname]
	if l == nil {
		return
	}
	reason := linkReason(ifname, l.mgr)
	d.fmu.Lock()
	prev, known := d.linkState[ifname]
	d.linkState[ifname] = reason
	d.fmu.Unlock()
	d.events.link(ifname, prev, known, reason)
	for _, in := range d.cfg.Instances {
		d.linkSources(in, ifname, reason)
	}
}

// neededLinks is every interface a configuration uses.
func neededLinks(cfg *config.Config) map[string]bool {
	need := map[string]bool{}
	for _, in := range cfg.Instances {
		for _, ifname := range in.Interfaces() {
			need[ifname] = true
		}
		for _, t := range in.TrackInterfaces {
			need[t] = true
		}
	}
	return need
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
