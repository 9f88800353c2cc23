package vip

// The Manager of Windows, without the system calls: the IP Helper API is
// behind the ipHelper interface so that this logic (idempotent add, removal
// of a missing address, the watch turning notifications into Events) is
// tested on every platform with a fake. vip_windows.go holds the real
// binding and the Manager type built on helperManager.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync/atomic"
	"time"
)

// The sentinel errors of an ipHelper, which a helperManager decides on.
var (
	// errAddrExists: CreateUnicast of an address the interface has
	// (ERROR_OBJECT_ALREADY_EXISTS).
	errAddrExists = errors.New("address already exists")
	// errAddrNotFound: DeleteUnicast of an address the interface does not
	// have (ERROR_NOT_FOUND).
	errAddrNotFound = errors.New("address not found")
)

// ifaceInfo is what a helperManager needs to know of an interface.
type ifaceInfo struct {
	// Index is the interface index; the IP Helper calls take it in place
	// of the LUID. It may change when the adapter is disabled and enabled
	// again, so it is looked up on every call.
	Index        uint32
	Up           bool // operational status up
	HardwareAddr net.HardwareAddr
}

// ipHelper is the part of the Windows IP Helper API (iphlpapi.dll) the
// Windows Manager uses.
type ipHelper interface {
	// Interface finds an interface by the name ipconfig shows (its alias,
	// "Ethernet 2"); a missing one is ErrNoLink.
	Interface(name string) (ifaceInfo, error)
	// Addresses lists the unicast addresses of an interface, with their
	// on-link prefix lengths (GetUnicastIpAddressTable).
	Addresses(index uint32) ([]addrInfo, error)
	// CreateUnicast adds p as a skip-as-source address valid and
	// preferred for lifetime seconds (infiniteLifetime: permanent)
	// (CreateUnicastIpAddressEntry); errAddrExists when the address is
	// there already, whatever its prefix length.
	CreateUnicast(index uint32, p netip.Prefix, lifetime uint32) error
	// SetLifetime makes the address of p valid and preferred for
	// lifetime seconds from now (GetUnicastIpAddressEntry, then
	// SetUnicastIpAddressEntry); errAddrNotFound when it is not there,
	// an error wrapping ErrAddrConflict when it is there with another
	// prefix length (and is left alone), ErrNoLink when the interface is
	// gone. Unlike the Linux kernel's replace, it never creates an
	// address.
	SetLifetime(index uint32, p netip.Prefix, lifetime uint32) error
	// DeleteUnicast removes the address of p (DeleteUnicastIpAddressEntry);
	// errAddrNotFound when it is not there, ErrNoLink when the interface
	// is gone.
	DeleteUnicast(index uint32, p netip.Prefix) error
	// Notify registers for address and interface changes of every
	// interface (NotifyUnicastIpAddressChange, NotifyIpInterfaceChange)
	// and puts them on q until stop is called. The callbacks run on
	// system threads and must not block: they call q.put.
	Notify(q *changeQueue) (stop func(), err error)
}

// changeKind says what a change notification reports.
type changeKind uint8

const (
	changeAddrAdded   changeKind = iota + 1 // MibAddInstance of an address
	changeAddrChanged                       // MibParameterNotification of an address (DAD state, say)
	changeAddrDeleted                       // MibDeleteInstance of an address
	changeInterface                         // any notification of an IP interface: link state, added, deleted
)

// addrInfo is one address of an interface.
type addrInfo struct {
	Prefix netip.Prefix
	// Duplicate: duplicate address detection found another machine
	// using the address (IpDadStateDuplicate); Windows does not use it.
	Duplicate bool
}

// prefixes returns the prefixes of as.
func prefixes(as []addrInfo) []netip.Prefix {
	ps := make([]netip.Prefix, len(as))
	for i, a := range as {
		ps[i] = a.Prefix
	}
	return ps
}

// ipChange is one notification. The rows Windows passes to the callbacks
// hold only the keys (address and interface), so the prefix length of an
// address is read afterwards.
type ipChange struct {
	Kind  changeKind
	Index uint32     // interface index
	Addr  netip.Addr // for the address kinds
}

// changeQueue carries notifications from the callbacks to the watcher. A
// notification that does not fit is dropped and marks the queue lost; the
// watcher then reads the state afresh and sends Resync, like the Linux
// watcher after ENOBUFS.
type changeQueue struct {
	c    chan ipChange
	lost atomic.Bool
}

func newChangeQueue(size int) *changeQueue {
	return &changeQueue{c: make(chan ipChange, size)}
}

// put queues c without blocking.
func (q *changeQueue) put(c ipChange) {
	select {
	case q.c <- c:
	default:
		q.lost.Store(true)
	}
}

// helperManager adds and removes the VIPs of one interface through an
// ipHelper. It looks the interface up by name on every call, so it keeps
// working when the adapter is disabled and enabled again.
type helperManager struct {
	ifname string
	h      ipHelper
	log    *slog.Logger
	// poll is how often Watch reads the link state besides the
	// notifications; 0 means linkPoll. Tests shorten it.
	poll time.Duration
}

// linkPoll is how often Watch reads the interface's state on its own, as
// a safety net: which interface notifications Windows sends for a pulled
// cable or a disconnected virtual NIC has not been checked on a real
// host, and reading the state is cheap.
const linkPoll = 2 * time.Second

func (m *helperManager) pollInterval() time.Duration {
	if m.poll > 0 {
		return m.poll
	}
	return linkPoll
}

func newHelperManager(ifname string, h ipHelper, l *slog.Logger) helperManager {
	return helperManager{ifname: ifname, h: h, log: l.With("interface", ifname)}
}

// Close does nothing: a Manager holds no handle between calls. It does not
// touch the addresses.
func (m *helperManager) Close() error { return nil }

// Name returns the name of the managed interface.
func (m *helperManager) Name() string { return m.ifname }

// Add puts the address p on the interface as a skip-as-source address,
// permanently, so that the host does not pick the VIP as the source of
// its own connections. Adding an address that is already there is not
// an error (it becomes permanent). The address lives in the active store
// only: it is gone after a reboot.
//
// Windows keys addresses by address alone, where Linux keys IPv4 ones by
// address and prefix length: the address of p on the interface with
// another prefix length (most likely the interface's own address given as
// a VIP by mistake) is an error wrapping ErrAddrConflict, and is left
// alone.
func (m *helperManager) Add(p netip.Prefix, opts ...AddrOption) error {
	return m.AddFor(p, 0, opts...)
}

// errNoLabels: Windows has no address labels.
var errNoLabels = errors.New("address labels are not supported on Windows")

// AddFor puts the address p on the interface, as Add does, for
// lifetime: Windows removes it by itself once lifetime has passed
// without a Renew (or another AddFor). A lifetime of 0 makes it
// permanent. Lifetimes are whole seconds: lifetime is rounded up, to at
// least one second. Adding an address that is already there is not an
// error; its lifetime starts again from now.
func (m *helperManager) AddFor(p netip.Prefix, lifetime time.Duration, opts ...AddrOption) error {
	if err := checkPrefix(p); err != nil {
		return fmt.Errorf("adding %s to %s: %w", p, m.ifname, err)
	}
	if buildAddrOptions(opts).label != "" {
		return fmt.Errorf("adding %s to %s: %w", p, m.ifname, errNoLabels)
	}
	secs, err := lifetimeSeconds(lifetime)
	if err != nil {
		return fmt.Errorf("adding %s to %s: %w", p, m.ifname, err)
	}
	ifi, err := m.h.Interface(m.ifname)
	if err != nil {
		return fmt.Errorf("adding %s to %s: %w", p, m.ifname, err)
	}
	err = m.h.CreateUnicast(ifi.Index, p, secs)
	if errors.Is(err, errAddrExists) {
		// As the Linux kernel's replace does, the address already
		// there takes the new lifetime: one left with a short lifetime
		// must not expire under a permanent VIP.
		if err = m.checkExisting(ifi.Index, p); err == nil {
			err = m.h.SetLifetime(ifi.Index, p, secs)
		}
	}
	if err != nil {
		return fmt.Errorf("adding %s to %s: %w", p, m.ifname, err)
	}
	m.log.Debug("address added", "vip", p)
	return nil
}

// Renew starts the lifetime of the address p again from now (0:
// permanent). Unlike on Linux, an address that expired or was removed is
// not put back: Renew fails, wrapping errAddrNotFound.
func (m *helperManager) Renew(p netip.Prefix, lifetime time.Duration, opts ...AddrOption) error {
	if err := checkPrefix(p); err != nil {
		return fmt.Errorf("renewing %s on %s: %w", p, m.ifname, err)
	}
	if buildAddrOptions(opts).label != "" {
		return fmt.Errorf("renewing %s on %s: %w", p, m.ifname, errNoLabels)
	}
	secs, err := lifetimeSeconds(lifetime)
	if err != nil {
		return fmt.Errorf("renewing %s on %s: %w", p, m.ifname, err)
	}
	ifi, err := m.h.Interface(m.ifname)
	if err != nil {
		return fmt.Errorf("renewing %s on %s: %w", p, m.ifname, err)
	}
	if err := m.h.SetLifetime(ifi.Index, p, secs); err != nil {
		return fmt.Errorf("renewing %s on %s: %w", p, m.ifname, err)
	}
	return nil
}

// ErrAddrConflict is returned, wrapped, by the Windows Manager's Add when
// the interface has the address with another prefix length.
var ErrAddrConflict = errors.New("the interface has the address with another prefix length")

// checkExisting accepts an existing address with p's prefix length.
func (m *helperManager) checkExisting(index uint32, p netip.Prefix) error {
	have, err := m.h.Addresses(index)
	if err != nil {
		return err
	}
	for _, h := range prefixes(have) {
		if h.Addr() == p.Addr() && h != p {
			return fmt.Errorf("%w (%s)", ErrAddrConflict, h)
		}
	}
	return nil
}

// Remove takes the address p off the interface. An address that is not
// there (or there with another prefix length, which is left alone), or an
// interface that does not exist, is not an error.
func (m *helperManager) Remove(p netip.Prefix) error {
	if err := checkPrefix(p); err != nil {
		return fmt.Errorf("removing %s from %s: %w", p, m.ifname, err)
	}
	ifi, err := m.h.Interface(m.ifname)
	if errors.Is(err, ErrNoLink) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("removing %s from %s: %w", p, m.ifname, err)
	}
	// Deleting goes by address alone: make sure the address is there with
	// p's prefix length, so that an interface's own address is never
	// taken away for a VIP that looks like it.
	have, err := m.h.Addresses(ifi.Index)
	if errors.Is(err, ErrNoLink) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("removing %s from %s: %w", p, m.ifname, err)
	}
	if !slices.Contains(prefixes(have), p) {
		return nil
	}
	err = m.h.DeleteUnicast(ifi.Index, p)
	if errors.Is(err, errAddrNotFound) || errors.Is(err, ErrNoLink) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("removing %s from %s: %w", p, m.ifname, err)
	}
	m.log.Debug("address removed", "vip", p)
	return nil
}

// List returns every unicast address on the interface (VIPs and others),
// sorted.
func (m *helperManager) List() ([]netip.Prefix, error) {
	ifi, err := m.h.Interface(m.ifname)
	if err != nil {
		return nil, fmt.Errorf("listing addresses of %s: %w", m.ifname, err)
	}
	have, err := m.h.Addresses(ifi.Index)
	if err != nil {
		return nil, fmt.Errorf("listing addresses of %s: %w", m.ifname, err)
	}
	ps := prefixes(have)
	slices.SortFunc(ps, comparePrefix)
	return slices.Compact(ps), nil
}

// Has reports whether the interface holds p (same address and prefix
// length).
func (m *helperManager) Has(p netip.Prefix) (bool, error) {
	ps, err := m.List()
	if err != nil {
		return false, err
	}
	return slices.Contains(ps, p), nil
}

// LinkUp reports whether the interface's operational status is up (the
// adapter is enabled and has a connection). A missing interface is
// reported as false with an error wrapping ErrNoLink.
func (m *helperManager) LinkUp() (bool, error) {
	ifi, err := m.h.Interface(m.ifname)
	if err != nil {
		return false, fmt.Errorf("reading link state of %s: %w", m.ifname, err)
	}
	return ifi.Up, nil
}

// HardwareAddr returns the interface's hardware address.
func (m *helperManager) HardwareAddr() (net.HardwareAddr, error) {
	ifi, err := m.h.Interface(m.ifname)
	if err != nil {
		return nil, fmt.Errorf("reading hardware address of %s: %w", m.ifname, err)
	}
	return ifi.HardwareAddr, nil
}

// Watch sends the changes of the interface's addresses and link state to
// events until ctx ends, then returns nil. It returns an error only when it
// cannot register for notifications at the start.
//
// Besides the notifications, Watch reads the interface every 2 seconds,
// so a link change is seen even if Windows sends no notification for it.
//
// The Events are those of the Linux Manager: Resync first, and again when
// notifications were lost or the interface went away or came (back);
// AddrAdded (also for a changed address, such as one leaving the
// tentative state), AddrRemoved (with the full-length prefix of the
// address: Windows does not say which prefix length a deleted address
// had); LinkChanged when the operational status changes, Up false when
// the interface is deleted.
//
// Watch blocks while events is full, but never after ctx ends. It does not
// close events.
func (m *helperManager) Watch(ctx context.Context, events chan<- Event) error {
	q := newChangeQueue(256)
	stop, err := m.h.Notify(q)
	if err != nil {
		return fmt.Errorf("watching %s: %w", m.ifname, err)
	}
	defer stop()

	w := &helperWatcher{m: m, ctx: ctx, events: events}
	w.reset()
	if !w.send(Event{Kind: Resync}) {
		return nil
	}
	poll := time.NewTicker(m.pollInterval())
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-poll.C:
			if !w.iface() {
				return nil
			}
		case c := <-q.c:
			ok := true
			if q.lost.Swap(false) {
				m.log.Info("address notifications lost, reading the interface again")
				w.reset()
				ok = w.send(Event{Kind: Resync})
			} else {
				ok = w.change(c)
			}
			if !ok {
				return nil
			}
		}
	}
}

// helperWatcher holds what Watch knows of the interface.
type helperWatcher struct {
	m      *helperManager
	ctx    context.Context
	events chan<- Event

	index uint32 // the interface's index; 0 while it does not exist
	up    bool   // last reported operational state
}

// reset reads the interface's index and state afresh.
func (w *helperWatcher) reset() {
	w.index, w.up = 0, false
	ifi, err := w.m.h.Interface(w.m.ifname)
	if err != nil {
		return
	}
	w.index, w.up = ifi.Index, ifi.Up
}

// send delivers e unless ctx ends first; false means stop.
func (w *helperWatcher) send(e Event) bool {
	select {
	case w.events <- e:
		return true
	case <-w.ctx.Done():
		return false
	}
}

func (w *helperWatcher) change(c ipChange) bool {
	switch c.Kind {
	case changeInterface:
		return w.iface()
	case changeAddrDeleted:
		if w.index == 0 || c.Index != w.index {
			return true
		}
		return w.send(Event{Kind: AddrRemoved, Prefix: netip.PrefixFrom(c.Addr, c.Addr.BitLen())})
	case changeAddrAdded, changeAddrChanged:
		if w.index == 0 || c.Index != w.index {
			return true
		}
		// The notification has no prefix length: read it. An address
		// already gone again will be reported by its own deletion.
		have, err := w.m.h.Addresses(w.index)
		if err != nil {
			return true
		}
		for _, a := range have {
			if a.Prefix.Addr() != c.Addr {
				continue
			}
			if a.Duplicate {
				// The daemon keeps the VIP (adding it again would
				// fail the same way) but says why it does not work.
				w.m.log.Warn("Windows found another machine using this address and does not use it (duplicate address detection)", "vip", a.Prefix)
			}
			return w.send(Event{Kind: AddrAdded, Prefix: a.Prefix})
		}
		return true
	default:
		return true
	}
}

// iface re-reads the interface after any interface notification (they
// come for every interface on the host, and say little): it may have gone,
// come, come back under another index, or changed its link state.
func (w *helperWatcher) iface() bool {
	ifi, err := w.m.h.Interface(w.m.ifname)
	switch {
	case errors.Is(err, ErrNoLink):
		if w.index == 0 {
			return true
		}
		w.index = 0
		return w.setUp(false) && w.send(Event{Kind: Resync})
	case err != nil:
		w.m.log.Debug("reading interface after a notification", "err", err)
		return true
	case ifi.Index != w.index:
		w.index = ifi.Index
		return w.setUp(ifi.Up) && w.send(Event{Kind: Resync})
	default:
		return w.setUp(ifi.Up)
	}
}

// setUp records the operational state and reports a change.
func (w *helperWatcher) setUp(up bool) bool {
	if up == w.up {
		return true
	}
	w.up = up
	return w.send(Event{Kind: LinkChanged, Up: up})
}
