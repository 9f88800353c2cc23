package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/havip/havip/announce"
	"github.com/havip/havip/config"
	"github.com/havip/havip/election"
	"github.com/havip/havip/vip"
)

// addrs is the part of vip.Manager a holder uses.
type addrs interface {
	Name() string
	// AddFor adds an address for a lifetime (0: permanent).
	AddFor(p netip.Prefix, lifetime time.Duration) error
	// Renew starts an address's lifetime again; on Linux it puts back
	// an address that is gone.
	Renew(p netip.Prefix, lifetime time.Duration) error
	Remove(netip.Prefix) error
	List() ([]netip.Prefix, error)
}

// announcer is the part of announce.Announcer a holder uses.
type announcer interface {
	Announce(netip.Addr) error
	Burst(ctx context.Context, addrs []netip.Addr, count int, interval time.Duration) (int, error)
	Close() error
}

// openAnnouncer opens the real announcer on an interface.
func openAnnouncer(ifname string, l *slog.Logger) (announcer, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("finding interface %s: %w", ifname, err)
	}
	return announce.Open(ifi, l)
}

// holder puts one instance's VIPs on the interface and announces them.
// It implements election.Holder, and election.Renewer for the VIPs'
// lifetime.
//
// The VIPs are added with a lifetime (cluster.tuning.address_lifetime)
// that Renew extends while the election keeps the instance here, so the
// kernel removes them by itself once the daemon stops renewing them:
// frozen, hung, or killed and not restarted.
type holder struct {
	inst config.Instance
	ip   addrs
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
	// (at most a third of the lifetime apart) time for one more try.
	renewAt time.Time

	mu     sync.Mutex
	master bool
	// expiredLogged: ensure has said once that the VIPs expired, since
	// the last Acquire.
	expiredLogged bool
	// releaseFailed: the last Release left VIPs on the interface; the
	// election tries again, and the address watch tells it when they
	// are gone (see leftGone).
	releaseFailed bool

	stop  context.CancelFunc // stops the announcement goroutine
	done  chan struct{}
	annMu sync.Mutex
	ann   announcer
	// sent counts announcements sent since start; atomic because the
	// announcement goroutine must never take mu (stopAnnouncing waits
	// for it with mu held).
	sent atomic.Int64
}

var _ election.Renewer = (*holder)(nil)

// newHolder makes the holder of inst, which adds its VIPs through ip
// for lifetime (0: permanently).
func newHolder(inst config.Instance, ip addrs, lifetime time.Duration, l *slog.Logger) *holder {
	return &holder{inst: inst, ip: ip, open: openAnnouncer, log: l.With("instance", inst.Name),
		lifetime: lifetime, now: time.Now}
}

func (h *holder) vips() []netip.Addr {
	out := make([]netip.Addr, len(h.inst.VIPs))
	for i, p := range h.inst.VIPs {
		out[i] = p.Addr()
	}
	return out
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
		if err := h.ip.AddFor(p, h.lifetime); err != nil {
			return err
		}
	}
	h.master = true
	h.expiredLogged = false
	h.setDeadline(start)
	h.startAnnouncing(h.inst.Announce.Count, h.vips())
	h.log.Info("VIPs added", "vip", vip.FormatPrefixes(h.inst.VIPs), "interface", h.ip.Name())
	if h.cloud != nil {
		h.cloud.start()
	}
	return nil
}

// startAnnouncing (h.mu held) replaces any running announcement goroutine
// with a burst of count rounds for the addresses burst, followed by the
// periodic refresh of every VIP. The goroutine gets copies of what it
// needs, so the configuration can change under it (see update).
func (h *holder) startAnnouncing(count int, burst []netip.Addr) {
	h.stopAnnouncing()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	h.stop, h.done = cancel, done
	ifname, an, all := h.ip.Name(), h.inst.Announce, h.vips()
	go func() {
		defer close(done)
		h.announce(ctx, ifname, an, all, burst, count)
	}()
}

// stopAnnouncing (h.mu held) stops the announcement goroutine and waits
// for it, so no announcement of a released VIP goes out afterwards.
func (h *holder) stopAnnouncing() {
	if h.stop == nil {
		return
	}
	h.stop()
	<-h.done
	h.stop, h.done = nil, nil
}

// announcer returns the open announcer on ifname, opening it if needed.
// It is kept open between takeovers so the first gratuitous ARP of a
// takeover does not wait for sockets to be set up; only the announcement
// goroutine (one at a time) and prepare/close use it. update drops it
// when the interface changes.
func (h *holder) announcer(ifname string) (announcer, error) {
	h.annMu.Lock()
	defer h.annMu.Unlock()
	if h.ann != nil {
		return h.ann, nil
	}
	a, err := h.open(ifname, h.log)
	if err != nil {
		return nil, err
	}
	h.ann = a
	return a, nil
}

// dropAnnouncer closes the announcer after an error (the interface may
// have been recreated); the next announcement opens a new one.
func (h *holder) dropAnnouncer() {
	h.annMu.Lock()
	defer h.annMu.Unlock()
	if h.ann != nil {
		h.ann.Close()
		h.ann = nil
	}
}

// prepare opens the announcer ahead of the first takeover; failing is
// fine (the interface may not exist yet).
func (h *holder) prepare() {
	h.mu.Lock()
	ifname := h.ip.Name()
	h.mu.Unlock()
	if _, err := h.announcer(ifname); err != nil {
		h.log.Debug("announcer not ready yet", "interface", ifname, "err", err)
	}
	if h.cloud != nil {
		h.cloud.prepare()
	}
}

// close stops announcing and closes the announcer, and stops the cloud
// binding's loop if it still runs.
func (h *holder) close() {
	h.mu.Lock()
	h.stopAnnouncing()
	h.mu.Unlock()
	h.dropAnnouncer()
	if h.cloud != nil {
		h.cloud.stop()
	}
}

func (h *holder) announce(ctx context.Context, ifname string, an config.Announce, all, burst []netip.Addr, count int) {
	a, err := h.announcer(ifname)
	if err != nil {
		h.log.Error("cannot announce VIPs", "interface", ifname, "err", err)
		return
	}
	if count > 0 && len(burst) > 0 {
		n, err := a.Burst(ctx, burst, count, an.Interval)
		h.count(n)
		if err != nil && !errors.Is(err, context.Canceled) {
			h.log.Warn("announcing VIPs", "interface", ifname, "err", err)
			h.dropAnnouncer()
		} else if n > 0 {
			h.log.Debug("announced VIPs", "vip", joinAddrs(burst), "rounds", count, "sent", n)
		}
	}
	if an.Refresh <= 0 {
		return
	}
	t := time.NewTicker(an.Refresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if h.expired(h.now()) {
				// The kernel has removed the VIPs, or is about to:
				// announcing them would draw their traffic here for
				// nothing. Renew, or the next Acquire, starts again.
				h.log.Debug("VIP lifetime ran out; refresh stopped")
				return
			}
			for _, v := range all {
				if err := a.Announce(v); err != nil {
					h.log.Warn("refreshing announcement", "vip", v.String(), "err", err)
					h.dropAnnouncer()
					return
				} else {
					h.count(1)
				}
			}
		}
	}
}

func (h *holder) count(n int) { h.sent.Add(int64(n)) }

// removeAll (h.mu held) takes every VIP off the interface after its
// lifetime ran out while it was being renewed or added back, and logs
// why.
func (h *holder) removeAll(why string) {
	var errs []error
	for _, p := range h.inst.VIPs {
		if err := h.ip.Remove(p); err != nil {
			errs = append(errs, err)
		}
	}
	args := []any{"vip", vip.FormatPrefixes(h.inst.VIPs), "interface", h.ip.Name()}
	if err := errors.Join(errs...); err != nil {
		args = append(args, "err", err)
	}
	h.log.Warn(why, args...)
}

// Release stops announcing and removes every VIP; it tries all of them
// even when one fails. A VIP already gone counts as removed. It returns
// an error naming every VIP still on the interface, and logs "VIPs
// removed" only when none is.
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
	for _, p := range h.inst.VIPs {
		err := h.ip.Remove(p)
		if err == nil {
			continue
		}
		// The removal failed; the VIP may be gone all the same (the
		// kernel's lifetime ran out, someone else removed it).
		if !listed {
			have, listed = h.present(), true
		}
		if have != nil && !have[p] {
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
		h.log.Info("VIPs removed", "vip", vip.FormatPrefixes(h.inst.VIPs), "interface", h.ip.Name())
		return nil
	}
	err := fmt.Errorf("VIPs %s still on %s: %w", vip.FormatPrefixes(left), h.ip.Name(), errors.Join(errs...))
	if h.lifetime > 0 {
		h.log.Error("VIPs not removed; the kernel removes them when their lifetime runs out", "vip", vip.FormatPrefixes(left), "interface", h.ip.Name(), "lifetime", h.lifetime.String(), "err", errors.Join(errs...))
	} else {
		h.log.Error("VIPs not removed", "vip", vip.FormatPrefixes(left), "interface", h.ip.Name(), "err", errors.Join(errs...))
	}
	return err
}

// present lists the interface's addresses; nil when they cannot be read.
func (h *holder) present() map[netip.Prefix]bool {
	ps, err := h.ip.List()
	if err != nil {
		return nil
	}
	have := make(map[netip.Prefix]bool, len(ps))
	for _, p := range ps {
		have[p] = true
	}
	return have
}

// leftGone reports whether the VIPs a failed Release left on the
// interface are all gone from present (the interface's addresses): the
// kernel's lifetime ran out, or someone removed them. The release the
// election tries again then succeeds at once.
func (h *holder) leftGone(present map[netip.Prefix]bool) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.releaseFailed || h.master {
		return false
	}
	for _, p := range h.inst.VIPs {
		if present[p] {
			return false
		}
	}
	return true
}

// removeStale removes the instance's VIPs at start-up, before the node
// joins, so a node never starts out holding (after kill -9, say).
func (h *holder) removeStale() error {
	have, err := h.ip.List()
	if err != nil {
		return err
	}
	present := map[netip.Prefix]bool{}
	for _, p := range have {
		present[p] = true
	}
	var errs []error
	for _, p := range h.inst.VIPs {
		if !present[p] {
			continue
		}
		if err := h.ip.Remove(p); err != nil {
			errs = append(errs, err)
			continue
		}
		h.log.Warn("removed VIP left on the interface by an earlier run", "vip", p.String(), "interface", h.ip.Name())
	}
	return errors.Join(errs...)
}

// ensure re-adds VIPs that someone else removed while this node is
// master, for the lifetime, and announces again. It reports what it
// re-added. Once the VIPs' lifetime has run out it adds nothing back:
// the removal is then the kernel's expiry, and whether this node may
// still hold the instance is the election's to decide (Renew tells it).
func (h *holder) ensure(present map[netip.Prefix]bool) []netip.Prefix {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.master {
		return nil
	}
	var missing []netip.Prefix
	for _, p := range h.inst.VIPs {
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
			h.log.Warn("VIP lifetime ran out without renewal; not adding it back", "vip", vip.FormatPrefixes(missing), "interface", h.ip.Name(), "lifetime", h.lifetime.String())
		}
		return nil
	}
	var added []netip.Prefix
	for _, p := range missing {
		if err := h.ip.AddFor(p, h.lifetime); err != nil {
			h.log.Error("re-adding removed VIP", "vip", p.String(), "interface", h.ip.Name(), "err", err)
			continue
		}
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
		h.log.Warn("VIP was removed from the interface while master; added it back", "vip", vip.FormatPrefixes(added), "interface", h.ip.Name())
		h.startAnnouncing(h.inst.Announce.Count, h.vips())
	}
	return added
}

// update applies a changed configuration of the instance; ip is the
// manager of its (possibly new) interface. A backup only takes note. A
// master keeps the VIPs that stay, removes the ones no longer
// configured, adds and announces the new ones (all of them when the
// interface changed), so unchanged VIPs neither flap nor are announced
// again.
func (h *holder) update(inst config.Instance, ip addrs) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	old, oldIP := h.inst, h.ip
	h.inst, h.ip = inst, ip
	moved := oldIP.Name() != ip.Name()
	if h.cloud != nil && (moved || !slices.Equal(old.VIPs, inst.VIPs)) {
		// The binding follows the new VIPs (checked at once if master).
		h.cloud.rebind(inst)
	}
	if moved {
		// The kept announcer belongs to the old interface.
		h.stopAnnouncing()
		h.dropAnnouncer()
	}
	if !h.master {
		return nil
	}
	// VIPs whose lifetime ran out are not put back, new ones are not
	// added: the election decides again (see ensure).
	expired := h.expired(h.now())
	keep := map[netip.Prefix]bool{}
	for _, p := range inst.VIPs {
		keep[p] = true
	}
	had := map[netip.Prefix]bool{}
	var errs []error
	for _, p := range old.VIPs {
		if moved || !keep[p] {
			if err := oldIP.Remove(p); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		had[p] = true
	}
	var burst []netip.Addr
	for _, p := range inst.VIPs {
		if had[p] || expired {
			continue
		}
		// The new VIPs expire after the ones kept: the deadline stays.
		if err := ip.AddFor(p, h.lifetime); err != nil {
			errs = append(errs, err)
			continue
		}
		burst = append(burst, p.Addr())
	}
	if !expired && (len(burst) > 0 || moved || old.Announce != inst.Announce) {
		h.log.Info("VIPs updated", "vip", vip.FormatPrefixes(inst.VIPs), "interface", ip.Name(), "announced", joinAddrs(burst))
		h.startAnnouncing(inst.Announce.Count, burst)
	}
	return errors.Join(errs...)
}

// Reannounce starts a fresh announcement burst while master (after a
// split brain healed, say), without touching the addresses. The cloud
// binding is checked at once too: the loser may have moved it while it
// believed it was master.
func (h *holder) Reannounce() {
	h.reannounce()
	if h.cloud != nil {
		h.cloud.kick()
	}
}

// reannounce starts a fresh burst while master, unless the VIPs'
// lifetime ran out; the cloud binding calls it after each move.
func (h *holder) reannounce() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.master && !h.expired(h.now()) {
		h.startAnnouncing(h.inst.Announce.Count, h.vips())
	}
}

func (h *holder) isMaster() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.master
}

func joinAddrs(as []netip.Addr) string {
	s := ""
	for i, a := range as {
		if i > 0 {
			s += ","
		}
		s += a.String()
	}
	return s
}
