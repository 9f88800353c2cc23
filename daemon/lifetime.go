package daemon

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/havip/havip/election"
	"github.com/havip/havip/vip"
)

// The VIPs' lifetime: a holder adds its VIPs for
// cluster.tuning.address_lifetime and the election renews them through
// Renew while this node holds them and its lease holds, so the kernel
// removes them by itself once the daemon stops renewing.

// errVIPsExpired is returned, wrapped, by Renew when the VIPs' lifetime
// ran out before they were renewed: the daemon was frozen or starved for
// longer than the lifetime, so the kernel has removed them, or is about
// to. The holder does not add them back; the election, which matches
// election.ErrLost, no longer counts the instance as held and decides
// again.
var errVIPsExpired = fmt.Errorf("VIPs expired: %w", election.ErrLost)

// expiryFuzz is how much earlier than its lifetime says the kernel may
// remove an address: its lifetime check adds HZ/50 jiffies (20 ms) to an
// address's age "to batch several events at once", and counts in
// jiffies. A holder counts its VIPs as expired this much early, so that
// it never takes a removal by the kernel for someone else's.
const expiryFuzz = 50 * time.Millisecond

// Renew extends the VIPs' lifetime on their interfaces once half of it has
// passed since the last add or renewal. The election calls it on its
// heartbeat ticks while this node holds the instance (and, with quorum,
// its lease holds); when nothing is due it returns at once, without
// waiting for h.mu. With a lifetime of 0 it does nothing.
//
// When the lifetime has already run out (the daemon was frozen or
// starved for longer), it does not add the VIPs back: it stops
// announcing and returns an error wrapping errVIPsExpired, and leaves
// the decision to the election. The kernel has no request that only
// renews an address, so a renewal that returns after the deadline may
// have put back an address the kernel had just removed: Renew then takes
// the VIPs off again and reports them expired.
func (h *holder) Renew(ctx context.Context) error {
	if h.lifetime <= 0 {
		return nil
	}
	h.vmu.Lock()
	due := h.renewAt
	h.vmu.Unlock()
	if due.IsZero() || h.now().Before(due) {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.master {
		return nil
	}
	start := h.now()
	h.vmu.Lock()
	until, due := h.validUntil, h.renewAt
	h.vmu.Unlock()
	if due.IsZero() || start.Before(due) {
		return nil
	}
	if !start.Before(until) {
		h.stopAnnouncing()
		return h.expiredError(start, until)
	}
	var errs []error
	for _, p := range h.inst.VIPs {
		if err := h.mgr(p).Renew(p, h.lifetime, h.addOpts(p)...); err != nil {
			errs = append(errs, err)
		}
	}
	if end := h.now(); !end.Before(until) {
		h.stopAnnouncing()
		h.removeAll("VIP lifetime ran out while renewing; removed them again")
		return h.expiredError(end, until)
	}
	if len(errs) > 0 {
		// The deadline stays: the VIPs that failed keep their old
		// lifetime, and the next call tries again.
		return errors.Join(errs...)
	}
	h.setDeadline(start)
	return nil
}

// expiredError says how long ago the VIPs were last added or renewed,
// given the deadline that followed.
func (h *holder) expiredError(now, until time.Time) error {
	last := until.Add(-(h.lifetime - expiryFuzz))
	return fmt.Errorf("%w: %s on %s last renewed %s ago, longer than their lifetime of %s",
		errVIPsExpired, vip.FormatPrefixes(h.inst.VIPs), h.ifnames(), now.Sub(last).Round(time.Millisecond), h.lifetime)
}

// setDeadline (h.mu held) records that every VIP was added or renewed
// for the lifetime at start, or, with a zero start, that the holder
// holds none.
func (h *holder) setDeadline(start time.Time) {
	h.vmu.Lock()
	defer h.vmu.Unlock()
	if start.IsZero() || h.lifetime <= 0 {
		h.validUntil, h.renewAt = time.Time{}, time.Time{}
		return
	}
	h.validUntil = start.Add(h.lifetime - expiryFuzz)
	h.renewAt = start.Add(h.lifetime / 2)
}

// expired reports whether the VIPs' lifetime has run out at now: the
// kernel has removed them, or may at any moment. Never with a lifetime
// of 0, nor while the holder holds nothing.
func (h *holder) expired(now time.Time) bool {
	h.vmu.Lock()
	defer h.vmu.Unlock()
	return !h.validUntil.IsZero() && !now.Before(h.validUntil)
}
