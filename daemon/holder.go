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
	"github.com/havip/havip/vip"
)

// addrs is the part of vip.Manager a holder uses.
type addrs interface {
	Name() string
	Add(netip.Prefix) error
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
// It implements election.Holder.
type holder struct {
	inst config.Instance
	ip   addrs
	open func(ifname string, l *slog.Logger) (announcer, error)
	log  *slog.Logger
	// cloud binds the VIPs through the cloud API; nil with provider none.
	cloud *cloudRunner

	mu     sync.Mutex
	master bool
	stop   context.CancelFunc // stops the announcement goroutine
	done   chan struct{}
	annMu  sync.Mutex
	ann    announcer
	// sent counts announcements sent since start; atomic because the
	// announcement goroutine must never take mu (stopAnnouncing waits
	// for it with mu held).
	sent atomic.Int64
}

func newHolder(inst config.Instance, ip addrs, l *slog.Logger) *holder {
	return &holder{inst: inst, ip: ip, open: openAnnouncer, log: l.With("instance", inst.Name)}
}

func (h *holder) vips() []netip.Addr {
	out := make([]netip.Addr, len(h.inst.VIPs))
	for i, p := range h.inst.VIPs {
		out[i] = p.Addr()
	}
	return out
}

// Acquire adds every VIP, then starts the announcement burst (and the
// periodic refresh) in the background, so it returns in well under a
// millisecond.
func (h *holder) Acquire(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, p := range h.inst.VIPs {
		if err := h.ip.Add(p); err != nil {
			return err
		}
	}
	h.master = true
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

// Release stops announcing and removes every VIP; it tries all of them
// even when one fails.
func (h *holder) Release(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.master = false
	h.stopAnnouncing()
	var errs []error
	for _, p := range h.inst.VIPs {
		if err := h.ip.Remove(p); err != nil {
			errs = append(errs, err)
		}
	}
	h.log.Info("VIPs removed", "vip", vip.FormatPrefixes(h.inst.VIPs), "interface", h.ip.Name())
	if h.cloud != nil {
		h.cloud.stop()
	}
	return errors.Join(errs...)
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
// master, and announces again. It reports what it re-added.
func (h *holder) ensure(present map[netip.Prefix]bool) []netip.Prefix {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.master {
		return nil
	}
	var added []netip.Prefix
	for _, p := range h.inst.VIPs {
		if present[p] {
			continue
		}
		if err := h.ip.Add(p); err != nil {
			h.log.Error("re-adding removed VIP", "vip", p.String(), "interface", h.ip.Name(), "err", err)
			continue
		}
		added = append(added, p)
	}
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
		if had[p] {
			continue
		}
		if err := ip.Add(p); err != nil {
			errs = append(errs, err)
			continue
		}
		burst = append(burst, p.Addr())
	}
	if len(burst) > 0 || moved || old.Announce != inst.Announce {
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

// reannounce starts a fresh burst while master; the cloud binding calls
// it after each move.
func (h *holder) reannounce() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.master {
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
