package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/havip/havip/announce"
	"github.com/havip/havip/config"
)

// The holder's gratuitous ARPs and unsolicited NAs: one announcer per
// interface, kept open between takeovers, and one announcement goroutine
// per interface while master.

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

// startAnnouncing (h.mu held) replaces any running announcement
// goroutines with, on each interface, a burst of count rounds for the
// VIPs of burst there, followed by the periodic refresh of every VIP
// there. The goroutines get copies of what they need, so the
// configuration can change under them (see update).
func (h *holder) startAnnouncing(count int, burst []netip.Prefix) {
	h.stopAnnouncing()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	h.stop, h.done = cancel, done
	var wg sync.WaitGroup
	an := h.inst.Announce
	for _, ifname := range h.inst.Interfaces() {
		all, first := addrsOf(h.onInterface(ifname, h.inst.VIPs)), addrsOf(h.onInterface(ifname, burst))
		if len(all) == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.announce(ctx, ifname, an, all, first, count)
		}()
	}
	go func() {
		wg.Wait()
		close(done)
	}()
}

// addrsOf returns the addresses of ps.
func addrsOf(ps []netip.Prefix) []netip.Addr {
	out := make([]netip.Addr, len(ps))
	for i, p := range ps {
		out[i] = p.Addr()
	}
	return out
}

// stopAnnouncing (h.mu held) stops the announcement goroutines and waits
// for them, so no announcement of a released VIP goes out afterwards.
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
// goroutine of ifname (one at a time) and prepare/close use it. update
// drops the announcers of interfaces that change.
func (h *holder) announcer(ifname string) (announcer, error) {
	h.annMu.Lock()
	defer h.annMu.Unlock()
	if a := h.anns[ifname]; a != nil {
		return a, nil
	}
	a, err := h.open(ifname, h.log)
	if err != nil {
		return nil, err
	}
	h.anns[ifname] = a
	return a, nil
}

// dropAnnouncer closes the announcer of ifname after an error (the
// interface may have been recreated); the next announcement opens a new
// one.
func (h *holder) dropAnnouncer(ifname string) {
	h.annMu.Lock()
	defer h.annMu.Unlock()
	if a := h.anns[ifname]; a != nil {
		a.Close()
		delete(h.anns, ifname)
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
			h.dropAnnouncer(ifname)
		} else if n > 0 {
			h.log.Debug("announced VIPs", "vip", joinAddrs(burst), "interface", ifname, "rounds", count, "sent", n)
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
				h.log.Debug("VIP lifetime ran out; refresh stopped", "interface", ifname)
				return
			}
			for _, v := range all {
				if err := a.Announce(v); err != nil {
					h.log.Warn("refreshing announcement", "vip", v.String(), "interface", ifname, "err", err)
					h.dropAnnouncer(ifname)
					return
				}
				h.count(1)
			}
		}
	}
}

func (h *holder) count(n int) { h.sent.Add(int64(n)) }

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
		h.startAnnouncing(h.inst.Announce.Count, h.inst.VIPs)
	}
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
