package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/havip/havip/config"
	"github.com/havip/havip/election"
	"github.com/havip/havip/vip"
)

// addrs is the part of vip.Manager a holder uses.
type addrs interface {
	Name() string
	// AddFor adds an address for a lifetime (0: permanent).
	AddFor(p netip.Prefix, lifetime time.Duration, opts ...vip.AddrOption) error
	// Renew starts an address's lifetime again; on Linux it puts back
	// an address that is gone.
	Renew(p netip.Prefix, lifetime time.Duration, opts ...vip.AddrOption) error
	Remove(netip.Prefix) error
	List() ([]netip.Prefix, error)
}

// lifetimeLister is what an address manager offers when it can tell how
// long each address of its interface stays valid.
type lifetimeLister interface {
	// Lifetimes returns, by address, the time left of its valid
	// lifetime, or permanentLifetime for one without.
	Lifetimes() (map[netip.Prefix]time.Duration, error)
}

// permanentLifetime is the lifetime of an address that has none.
const permanentLifetime = time.Duration(math.MaxInt64)

// lifetimesOf returns how long each address of m's interface stays
// valid (see lifetimeLister); nil when m cannot tell. vip.Manager does
// not say: its interface's addresses are read in the process's network
// namespace, where the daemon's managers act (systemLifetimes).
func lifetimesOf(m addrs) (map[netip.Prefix]time.Duration, error) {
	switch m := m.(type) {
	case lifetimeLister:
		return m.Lifetimes()
	case *vip.Manager:
		return systemLifetimes(m.Name())
	}
	return nil, nil
}

// holder puts one instance's VIPs on their interfaces and announces
// them. It implements election.Holder, and election.Renewer for the
// VIPs' lifetime.
//
// The VIPs are added with a lifetime (cluster.tuning.address_lifetime)
// that Renew extends while the election keeps the instance here, so the
// kernel removes them by itself once the daemon stops renewing them:
// frozen, hung, or killed and not restarted.
//
// Most VIPs are on the instance's interface; one written with its own
// interface is added, watched and announced there (see ips).
type holder struct {
	inst config.Instance
	// ip is the manager of the instance's interface.
	ip addrs
	// links returns the manager of another interface a VIP is on; nil
	// when every VIP is on ip's. The daemon's, which must be called
	// with d.mu held: only setLinks and update call it.
	links func(ifname string) addrs
	// ips are the managers of the interfaces of the VIPs, by name, ip's
	// included (see mgr).
	ips  map[string]addrs
	open func(ifname string, l *slog.Logger) (announcer, error)
	log  *slog.Logger
	// cloud binds the VIPs through the cloud API; nil with provider none.
	cloud *cloudRunner
	// lifetime is the VIPs' lifetime on the interface; 0: permanent,
	// and nothing to renew. It never changes (cluster.timing needs a
	// restart).
	lifetime time.Duration
	// now is the clock; tests replace it.
	now func() time.Time

	// vmu guards the VIPs' deadlines. It is a leaf lock, never held
	// across a system call, so that Renew can tell at once that nothing
	// is due while h.mu is held for one, and the announcement goroutine
	// can read them.
	vmu sync.Mutex
	// validUntil is when the first of the VIPs may expire (the earliest
	// add or renewal of them all, plus the lifetime, less expiryFuzz);
	// zero while the holder holds nothing or the lifetime is 0.
	validUntil time.Time
	// renewAt is when Renew has work to do: half the lifetime after
	// the earliest add or renewal. Each renewal costs netlink requests
	// and wakes the address watcher; half leaves the heartbeat ticks
	// (at most a quarter of the lifetime apart, see config's
	// lifetimePerHeartbeat) time for one more try.
	renewAt time.Time

	mu     sync.Mutex
	master bool
	// added are the VIPs this holder put on their interfaces in this
	// run and has not removed since. Only those may be removed when
	// they look like the host's own addresses (see hostsOwn).
	added map[netip.Prefix]bool
	// expiredLogged: ensure has said once that the VIPs expired, since
	// the last Acquire.
	expiredLogged bool
	// releaseFailed: the last Release left VIPs on the interface; the
	// election tries again, and the address watch tells it when they
	// are gone (see leftGone).
	releaseFailed bool

	stop  context.CancelFunc // stops the announcement goroutines
	done  chan struct{}
	annMu sync.Mutex
	// anns are the open announcers, by interface.
	anns map[string]announcer
	// sent counts announcements sent since start; atomic because the
	// announcement goroutines must never take mu (stopAnnouncing waits
	// for them with mu held).
	sent atomic.Int64
}

var _ election.Renewer = (*holder)(nil)

// newHolder makes the holder of inst, which adds its VIPs through ip
// for lifetime (0: permanently). A VIP on another interface needs
// setLinks.
func newHolder(inst config.Instance, ip addrs, lifetime time.Duration, l *slog.Logger) *holder {
	h := &holder{inst: inst, ip: ip, open: openAnnouncer, log: l.With("instance", inst.Name),
		lifetime: lifetime, now: time.Now, anns: map[string]announcer{}}
	h.resolve()
	return h
}

// Acquire adds every VIP for the lifetime, then starts the announcement
// burst (and the periodic refresh) in the background, so it returns in
// well under a millisecond.
func (h *holder) Acquire(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	// The clock is read before the first add: the kernel starts each
	// lifetime when it gets the request, later.
	start := h.now()
	for _, p := range h.inst.VIPs {
		if err := h.mgr(p).AddFor(p, h.lifetime, h.addOpts(p)...); err != nil {
			return err
		}
		h.markAdded(p)
	}
	h.master = true
	h.expiredLogged = false
	h.setDeadline(start)
	h.startAnnouncing(h.inst.Announce.Count, h.inst.VIPs)
	h.log.Info("VIPs added", "vip", vip.FormatPrefixes(h.inst.VIPs), "interface", h.ifnames())
	if h.cloud != nil {
		h.cloud.start()
	}
	return nil
}

// prepare opens the announcers ahead of the first takeover; failing is
// fine (an interface may not exist yet).
func (h *holder) prepare() {
	h.mu.Lock()
	ifnames := h.inst.Interfaces()
	h.mu.Unlock()
	for _, ifname := range ifnames {
		if _, err := h.announcer(ifname); err != nil {
			h.log.Debug("announcer not ready yet", "interface", ifname, "err", err)
		}
	}
	if h.cloud != nil {
		h.cloud.prepare()
	}
}

// close stops announcing and closes the announcers, and stops the cloud
// binding's loop if it still runs.
func (h *holder) close() {
	h.mu.Lock()
	h.stopAnnouncing()
	h.mu.Unlock()
	h.annMu.Lock()
	var ifnames []string
	for ifname := range h.anns {
		ifnames = append(ifnames, ifname)
	}
	h.annMu.Unlock()
	for _, ifname := range ifnames {
		h.dropAnnouncer(ifname)
	}
	if h.cloud != nil {
		h.cloud.stop()
	}
}

// removeAll (h.mu held) takes every VIP off its interface after its
// lifetime ran out while it was being renewed or added back, and logs
// why.
func (h *holder) removeAll(why string) {
	var errs []error
	for _, p := range h.inst.VIPs {
		if err := h.mgr(p).Remove(p); err != nil {
			errs = append(errs, err)
		}
	}
	args := []any{"vip", vip.FormatPrefixes(h.inst.VIPs), "interface", h.ifnames()}
	if err := errors.Join(errs...); err != nil {
		args = append(args, "err", err)
	}
	h.log.Warn(why, args...)
}

// Release stops announcing and removes every VIP; it tries all of them
// even when one fails. A VIP already gone counts as removed. It returns
// an error naming every VIP still on its interface, and logs "VIPs
// removed", with the VIPs it took off, only when none is left and it
// took at least one off (none was there after the VIPs expired, say).
// An address equal to a VIP that is the
// host's own (see hostVIPs) is left alone: a VIP this holder has not
// added in this run, after a failed Acquire say, may be one.
func (h *holder) Release(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.master = false
	h.setDeadline(time.Time{})
	h.stopAnnouncing()
	var (
		left   []netip.Prefix
		errs   []error
		have   map[netip.Prefix]bool
		listed bool
	)
	own, ownErrs := h.hostVIPs()
	// What is there now, so that the log names only the VIPs this
	// takes off (Remove of one that is gone succeeds); nil when it
	// cannot be read: then every VIP removed counts.
	before := h.present()
	var removed []netip.Prefix
	for _, p := range h.inst.VIPs {
		if err := ownErrs[p]; err != nil {
			// Whether it is the host's own address is not known:
			// it stays, and the election tries again.
			left = append(left, p)
			errs = append(errs, err)
			continue
		}
		if own[p] {
			h.log.Warn("not removing an address equal to a VIP: it is the host's own, not one havip added", "vip", p.String(), "interface", h.mgr(p).Name())
			continue
		}
		err := h.mgr(p).Remove(p)
		if err == nil {
			delete(h.added, p)
			if before == nil || before[p] {
				removed = append(removed, p)
			}
			continue
		}
		// The removal failed; the VIP may be gone all the same (the
		// kernel's lifetime ran out, someone else removed it).
		if !listed {
			have, listed = h.present(), true
		}
		if have != nil && !have[p] {
			delete(h.added, p)
			continue
		}
		left = append(left, p)
		errs = append(errs, err)
	}
	if h.cloud != nil {
		h.cloud.stop()
	}
	h.releaseFailed = len(left) > 0
	if len(left) == 0 {
		if len(removed) > 0 {
			h.log.Info("VIPs removed", "vip", vip.FormatPrefixes(removed), "interface", h.ifnames())
		}
		return nil
	}
	err := fmt.Errorf("VIPs %s still on %s: %w", vip.FormatPrefixes(left), h.ifnames(), errors.Join(errs...))
	if h.lifetime > 0 {
		h.log.Error("VIPs not removed; the kernel removes them when their lifetime runs out", "vip", vip.FormatPrefixes(left), "interface", h.ifnames(), "lifetime", h.lifetime.String(), "err", errors.Join(errs...))
	} else {
		h.log.Error("VIPs not removed", "vip", vip.FormatPrefixes(left), "interface", h.ifnames(), "err", errors.Join(errs...))
	}
	return err
}

// present (h.mu held) tells which VIPs are on their interfaces; nil
// when an interface's addresses cannot be read.
func (h *holder) present() map[netip.Prefix]bool {
	have := map[netip.Prefix]bool{}
	for _, ifname := range h.inst.Interfaces() {
		ps, err := h.ips[ifname].List()
		if err != nil {
			return nil
		}
		for _, p := range h.onInterface(ifname, ps) {
			have[p] = true
		}
	}
	return have
}

// leftGone reports whether the VIPs a failed Release left are all gone:
// the kernel's lifetime ran out, or someone removed them. present are
// the addresses of ifname, whose watch calls it; the other interfaces
// are read. The release the election tries again then succeeds at once.
func (h *holder) leftGone(ifname string, present map[netip.Prefix]bool) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.releaseFailed || h.master {
		return false
	}
	for _, p := range h.onInterface(ifname, h.inst.VIPs) {
		if present[p] {
			return false
		}
	}
	if len(h.inst.Interfaces()) == 1 {
		return true
	}
	have := h.present()
	if have == nil {
		return false
	}
	for _, p := range h.inst.VIPs {
		if have[p] {
			return false
		}
	}
	return true
}

// removeStale removes the instance's VIPs at start-up, before the node
// joins, so a node never starts out holding (after kill -9, say). A
// missing interface has none to remove; the error of the instance's own
// wraps vip.ErrNoLink. An address equal to a VIP with a prefix that
// lives otherwise than havip adds its VIPs is the host's own (its
// primary address, say: see hostsOwn) and stays; `havip run` refuses
// such a VIP before it gets here (preflight), this is the last guard.
func (h *holder) removeStale() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	var errs []error
	for _, ifname := range h.inst.Interfaces() {
		have, err := h.ips[ifname].List()
		if err != nil {
			if ifname == h.inst.Interface || !errors.Is(err, vip.ErrNoLink) {
				errs = append(errs, err)
			}
			continue
		}
		var stale []netip.Prefix
		for _, p := range h.onInterface(ifname, have) {
			if slices.Contains(h.inst.VIPs, p) {
				stale = append(stale, p)
			}
		}
		own, err := h.hostAddrs(ifname, stale)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, p := range stale {
			if own[p] {
				h.log.Warn("not removing an address equal to a VIP: it is the host's own, not one havip added", "vip", p.String(), "interface", ifname)
				continue
			}
			if err := h.ips[ifname].Remove(p); err != nil {
				errs = append(errs, err)
				continue
			}
			h.log.Warn("removed VIP left on the interface by an earlier run", "vip", p.String(), "interface", ifname)
		}
	}
	return errors.Join(errs...)
}

// hostVIPs (h.mu held) tells which VIPs are on their interfaces as the
// host's own addresses (see hostAddrs), and, by VIP, why it could not
// tell.
func (h *holder) hostVIPs() (map[netip.Prefix]bool, map[netip.Prefix]error) {
	own, errs := map[netip.Prefix]bool{}, map[netip.Prefix]error{}
	for _, ifname := range h.inst.Interfaces() {
		ps := h.onInterface(ifname, h.inst.VIPs)
		found, err := h.hostAddrs(ifname, ps)
		for _, p := range ps {
			switch {
			case found[p]:
				own[p] = true
			case err != nil && h.mayBeHosts(p):
				errs[p] = err
			}
		}
	}
	return own, errs
}

// hostAddrs (h.mu held) returns which of the VIPs ps of ifname are on
// it now as the host's own addresses, not as havip adds its VIPs (see
// hostsOwn). It reads the interface's addresses only when one of ps
// may be the host's; a missing interface has none.
func (h *holder) hostAddrs(ifname string, ps []netip.Prefix) (map[netip.Prefix]bool, error) {
	if !slices.ContainsFunc(ps, h.mayBeHosts) {
		return nil, nil
	}
	lifetimes, err := lifetimesOf(h.ips[ifname])
	if errors.Is(err, vip.ErrNoLink) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the lifetimes of the addresses of %s: %w", ifname, err)
	}
	own := map[netip.Prefix]bool{}
	for _, p := range ps {
		if left, ok := lifetimes[p]; ok && h.mayBeHosts(p) && h.hostsOwn(left) {
			own[p] = true
		}
	}
	return own, nil
}

// mayBeHosts (h.mu held) reports whether an address equal to the VIP p
// may be the host's own: p has a prefix, and this holder did not add it
// in this run. A host address (/32, /128) is taken for havip's, as a
// host rarely has one and havip has always removed it at start-up.
func (h *holder) mayBeHosts(p netip.Prefix) bool {
	return p.Bits() != p.Addr().BitLen() && !h.added[p]
}

// hostsOwn tells whether an address equal to a VIP with a prefix, valid
// for left more (permanentLifetime: for ever), is the host's own rather
// than one havip added. havip adds its VIPs for h.lifetime, so one that
// would outlive that — a permanent address, a DHCP lease's — is the
// host's. With a lifetime of 0 havip's own are permanent and cannot be
// told from the host's: only one with a lifetime is the host's, and a
// permanent one is removed as before (`havip check` warns about it).
func (h *holder) hostsOwn(left time.Duration) bool {
	if h.lifetime <= 0 {
		return left != permanentLifetime
	}
	// The kernel keeps lifetimes in whole seconds, rounded up.
	return left > (h.lifetime + time.Second - 1).Truncate(time.Second)
}

// markAdded (h.mu held) notes that this holder added p in this run.
func (h *holder) markAdded(p netip.Prefix) {
	if h.added == nil {
		h.added = map[netip.Prefix]bool{}
	}
	h.added[p] = true
}

// ensure re-adds the VIPs of ifname that someone else removed while
// this node is master, for the lifetime, and announces again; present
// are the addresses of ifname. It reports what it re-added. Once the
// VIPs' lifetime has run out it adds nothing back: the removal is then
// the kernel's expiry, and whether this node may still hold the
// instance is the election's to decide (Renew tells it).
func (h *holder) ensure(ifname string, present map[netip.Prefix]bool) []netip.Prefix {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.master {
		return nil
	}
	var missing []netip.Prefix
	for _, p := range h.onInterface(ifname, h.inst.VIPs) {
		if !present[p] {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if h.expired(h.now()) {
		h.stopAnnouncing()
		if !h.expiredLogged {
			h.expiredLogged = true
			h.log.Warn("VIP lifetime ran out without renewal; not adding it back", "vip", vip.FormatPrefixes(missing), "interface", ifname, "lifetime", h.lifetime.String())
		}
		return nil
	}
	var added []netip.Prefix
	for _, p := range missing {
		if err := h.mgr(p).AddFor(p, h.lifetime, h.addOpts(p)...); err != nil {
			h.log.Error("re-adding removed VIP", "vip", p.String(), "interface", ifname, "err", err)
			continue
		}
		h.markAdded(p)
		added = append(added, p)
	}
	if len(added) > 0 && h.expired(h.now()) {
		// Added back after the others' lifetime ran out: this node
		// may no longer hold them. Take them off again.
		h.stopAnnouncing()
		h.expiredLogged = true
		h.removeAll("VIP lifetime ran out while adding a removed VIP back; removed them again")
		return nil
	}
	// The deadline stays that of the VIPs not re-added, which expire
	// first.
	if len(added) > 0 {
		h.log.Warn("VIP was removed from the interface while master; added it back", "vip", vip.FormatPrefixes(added), "interface", ifname)
		h.startAnnouncing(h.inst.Announce.Count, h.inst.VIPs)
	}
	return added
}

// update applies a changed configuration of the instance; ip is the
// manager of its (possibly new) interface, and the managers of its VIPs'
// other interfaces come from links (d.mu held). A backup only takes
// note. A master keeps the VIPs that stay where they were, removes the
// ones no longer configured or moved (to another interface or label),
// adds and announces the new and moved ones, so unchanged VIPs neither
// flap nor are announced again.
func (h *holder) update(inst config.Instance, ip addrs) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	old, oldIPs := h.inst, h.ips
	h.inst, h.ip = inst, ip
	h.resolve()
	if h.cloud != nil && (old.Interface != inst.Interface || !slices.Equal(old.VIPs, inst.VIPs)) {
		// The binding follows the new VIPs (checked at once if master).
		h.cloud.rebind(inst)
	}
	for ifname, m := range oldIPs {
		if h.ips[ifname] != m {
			// The kept announcer belongs to an interface no longer
			// used, or recreated.
			h.stopAnnouncing()
			h.dropAnnouncer(ifname)
		}
	}
	if !h.master {
		return nil
	}
	// VIPs whose lifetime ran out are not put back, new ones are not
	// added: the election decides again (see ensure).
	expired := h.expired(h.now())
	kept := map[netip.Prefix]bool{}
	var errs []error
	for _, p := range old.VIPs {
		if slices.Contains(inst.VIPs, p) && old.Place(p) == inst.Place(p) && oldIPs[old.Place(p).Interface] == h.mgr(p) {
			kept[p] = true
			continue
		}
		if err := oldIPs[old.Place(p).Interface].Remove(p); err != nil {
			errs = append(errs, err)
		}
	}
	var burst []netip.Prefix
	for _, p := range inst.VIPs {
		if kept[p] || expired {
			continue
		}
		// The new VIPs expire after the ones kept: the deadline stays.
		if err := h.mgr(p).AddFor(p, h.lifetime, h.addOpts(p)...); err != nil {
			errs = append(errs, err)
			continue
		}
		h.markAdded(p)
		burst = append(burst, p)
	}
	changed := len(kept) != len(old.VIPs) || len(burst) > 0 || old.Announce != inst.Announce
	if !expired && changed {
		h.log.Info("VIPs updated", "vip", vip.FormatPrefixes(inst.VIPs), "interface", h.ifnames(), "announced", vip.FormatPrefixes(burst))
		h.startAnnouncing(inst.Announce.Count, burst)
	}
	return errors.Join(errs...)
}

func (h *holder) isMaster() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.master
}
