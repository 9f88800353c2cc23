package vip

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/havip/havip/internal/failpoint"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Manager adds and removes the VIPs of one interface. It looks the
// interface up by name on every call, so it keeps working when the
// interface is deleted and created again. A Manager is safe for concurrent
// use.
type Manager struct {
	ifname string
	log    *slog.Logger

	hmu  sync.RWMutex // held to use h, and to replace it in Close
	h    *netlink.Handle
	own  bool            // h holds a socket of its own, closed by Close
	ns   *netns.NsHandle // nil: the calling thread's namespace
	herr error           // opening h failed, or h was closed; every call reports it

	rcvbuf int // receive buffer of the subscriptions, 0 for the default; tests shrink it
}

// New returns a Manager for the interface ifname. The interface does not
// need to exist yet.
func New(ifname string, opts ...Option) *Manager {
	o := buildOptions(opts)
	m := &Manager{
		ifname: ifname,
		log:    o.logger.With("interface", ifname),
	}
	if !o.hasNS {
		// One socket in the process's namespace for every request: a
		// holder renews its VIPs' lifetimes twice a second, and opening
		// a socket per request (the zero Handle, as the package-level
		// netlink functions do) was half of that cost. If it cannot be
		// opened, the zero Handle still works.
		h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
		if err != nil {
			m.h = new(netlink.Handle)
			return m
		}
		m.h = h
		m.own = true
		return m
	}
	ns := o.ns
	m.ns = &ns
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		m.herr = fmt.Errorf("opening netlink socket in namespace %s: %w", ns, err)
		m.h = new(netlink.Handle)
		return m
	}
	m.h = h
	m.own = true
	return m
}

// Close releases the Manager's netlink socket, once the requests under
// way are done. It does not touch the addresses. A Manager used after it
// opens a socket per request in the process's namespace, or, made with
// WithNamespace, fails.
func (m *Manager) Close() error {
	m.hmu.Lock()
	defer m.hmu.Unlock()
	if m.own {
		m.h.Close()
		m.h, m.own = new(netlink.Handle), false
	}
	if m.ns != nil && m.herr == nil {
		m.herr = fmt.Errorf("netlink socket in namespace %s: %w", *m.ns, net.ErrClosed)
	}
	return nil
}

// nl runs fn with the netlink handle, which Close does not close
// meanwhile.
func (m *Manager) nl(fn func(h *netlink.Handle) error) error {
	m.hmu.RLock()
	defer m.hmu.RUnlock()
	if m.herr != nil {
		return m.herr
	}
	return fn(m.h)
}

// Name returns the name of the managed interface.
func (m *Manager) Name() string { return m.ifname }

// link looks the interface up; a missing one is ErrNoLink.
func (m *Manager) link() (netlink.Link, error) {
	var l netlink.Link
	err := m.nl(func(h *netlink.Handle) (err error) {
		l, err = h.LinkByName(m.ifname)
		return err
	})
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) || errors.Is(err, unix.ENODEV) {
			return nil, ErrNoLink
		}
		return nil, err
	}
	return l, nil
}

// nlAddr is the netlink form of a VIP: IPv4 addresses get global scope,
// IPv6 addresses skip duplicate address detection so they are usable (and
// announceable) at once instead of tentative for a second or more. The
// prefix length is the VIP's: a shorter one than /32 or /128 brings
// the subnet's route (or makes the address a secondary one of a subnet
// the interface has), and an IPv4 broadcast address, which the library
// derives from it.
func nlAddr(p netip.Prefix) *netlink.Addr {
	a := &netlink.Addr{
		IPNet: &net.IPNet{
			IP:   p.Addr().AsSlice(),
			Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen()),
		},
		Scope: unix.RT_SCOPE_UNIVERSE,
	}
	if p.Addr().Is6() {
		a.Flags = unix.IFA_F_NODAD
	}
	return a
}

// Add puts the address p on the interface, permanently. Adding an
// address that is already there is not an error (it becomes permanent).
// The prefix length is kept as given: use /32 and /128 for a VIP that
// must not bring a prefix route with it.
func (m *Manager) Add(p netip.Prefix, opts ...AddrOption) error {
	return m.AddFor(p, 0, opts...)
}

// AddFor puts the address p on the interface for lifetime: the kernel
// removes it by itself once lifetime has passed without a Renew (or
// another AddFor), so an address whose owner stopped (frozen, hung,
// killed) does not stay on the interface. A lifetime of 0 makes the
// address permanent, as Add does. The kernel counts lifetimes in whole
// seconds: lifetime is rounded up, to at least one second. Adding an
// address that is already there is not an error; its lifetime starts
// again from now.
//
// The kernel keeps an address by its address and prefix length, and
// removes a prefix address, its subnet route with it, when its lifetime
// runs out, as it does a host address.
func (m *Manager) AddFor(p netip.Prefix, lifetime time.Duration, opts ...AddrOption) error {
	if err := m.replace(p, lifetime, buildAddrOptions(opts)); err != nil {
		return fmt.Errorf("adding %s to %s: %w", p, m.ifname, err)
	}
	if lifetime > 0 {
		m.log.Debug("address added", "vip", p, "lifetime", lifetime)
	} else {
		m.log.Debug("address added", "vip", p)
	}
	return nil
}

// Renew starts the lifetime of the address p again from now (0:
// permanent), with the flags AddFor gives it. The kernel has no request
// that only updates an address: if p expired or was removed, Renew puts
// it back. A caller that must not put back an expired address checks
// its own deadline before the call, and again after it (the kernel may
// have removed the address in between). Give it the options AddFor had,
// so that an address it puts back gets its label again.
func (m *Manager) Renew(p netip.Prefix, lifetime time.Duration, opts ...AddrOption) error {
	if err := m.replace(p, lifetime, buildAddrOptions(opts)); err != nil {
		return fmt.Errorf("renewing %s on %s: %w", p, m.ifname, err)
	}
	return nil
}

// replace adds p, or updates it, with its lifetime (RTM_NEWADDR with
// NLM_F_CREATE|NLM_F_REPLACE: idempotent, where AddrAdd of an existing
// address fails with EEXIST).
func (m *Manager) replace(p netip.Prefix, lifetime time.Duration, o addrOptions) error {
	if err := checkPrefix(p); err != nil {
		return err
	}
	secs, err := lifetimeSeconds(lifetime)
	if err != nil {
		return err
	}
	l, err := m.link()
	if err != nil {
		return err
	}
	a := nlAddr(p)
	if o.label != "" {
		switch {
		case p.Addr().Is6():
			return fmt.Errorf("label %q: only IPv4 addresses have labels", o.label)
		case !strings.HasPrefix(o.label, m.ifname):
			// The kernel takes any label; ip(8) and ifconfig expect this.
			return fmt.Errorf("label %q must begin with the interface name %s", o.label, m.ifname)
		}
		a.Label = o.label
	}
	if secs != infiniteLifetime {
		// The library sends IFA_CACHEINFO only for a non-zero lifetime;
		// without it the kernel makes the address permanent. Valid and
		// preferred alike: an IPv6 address past its preferred lifetime
		// would turn deprecated, no longer chosen as a source, before
		// it goes.
		a.ValidLft, a.PreferedLft = int(secs), int(secs)
	}
	return m.nl(func(h *netlink.Handle) error { return h.AddrReplace(l, a) })
}

// Remove takes the address p off the interface. An address that is not
// there, or an interface that does not exist, is not an error.
func (m *Manager) Remove(p netip.Prefix) error {
	if err := checkPrefix(p); err != nil {
		return fmt.Errorf("removing %s from %s: %w", p, m.ifname, err)
	}
	l, err := m.link()
	if errors.Is(err, ErrNoLink) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("removing %s from %s: %w", p, m.ifname, err)
	}
	err = failpoint.Inject("vip.remove")
	if err == nil {
		err = m.nl(func(h *netlink.Handle) error { return h.AddrDel(l, nlAddr(p)) })
	}
	if errors.Is(err, unix.EADDRNOTAVAIL) || errors.Is(err, unix.ENODEV) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("removing %s from %s: %w", p, m.ifname, err)
	}
	m.log.Debug("address removed", "vip", p)
	if err := m.dropPrefixRoute(l, p); err != nil {
		m.log.Warn("removing the subnet route of a removed VIP", "vip", p, "err", err)
	}
	return nil
}

// dropPrefixRoute removes the subnet route the kernel added with the
// IPv6 address p, when no other address of the interface is in that
// subnet. The kernel keeps the route of an address that had a lifetime
// until that lifetime ends, where IPv4 (and IPv6 for a permanent
// address) removes it with the address: without this the route of a
// released VIP would stay for up to its lifetime.
func (m *Manager) dropPrefixRoute(l netlink.Link, p netip.Prefix) error {
	if p.Addr().Is4() || p.Bits() == p.Addr().BitLen() {
		return nil
	}
	addrs, err := m.addrList(l)
	if err != nil {
		return err
	}
	subnet := p.Masked()
	for _, a := range addrs {
		if q, ok := ipNetPrefix(a.IPNet); ok && q.Bits() == subnet.Bits() && q.Masked() == subnet {
			return nil
		}
	}
	err = m.nl(func(h *netlink.Handle) error {
		return h.RouteDel(&netlink.Route{
			LinkIndex: l.Attrs().Index,
			Dst:       &net.IPNet{IP: subnet.Addr().AsSlice(), Mask: net.CIDRMask(subnet.Bits(), 128)},
			Protocol:  unix.RTPROT_KERNEL,
			Table:     unix.RT_TABLE_MAIN,
		})
	})
	if errors.Is(err, unix.ESRCH) || errors.Is(err, unix.ENOENT) {
		return nil
	}
	return err
}

// List returns every address on the interface (VIPs and others), sorted.
func (m *Manager) List() ([]netip.Prefix, error) {
	l, err := m.link()
	if err != nil {
		return nil, fmt.Errorf("listing addresses of %s: %w", m.ifname, err)
	}
	addrs, err := m.addrList(l)
	if err != nil {
		return nil, fmt.Errorf("listing addresses of %s: %w", m.ifname, err)
	}
	ps := make([]netip.Prefix, 0, len(addrs))
	for _, a := range addrs {
		if p, ok := ipNetPrefix(a.IPNet); ok {
			ps = append(ps, p)
		}
	}
	slices.SortFunc(ps, comparePrefix)
	return slices.Compact(ps), nil
}

// addrList lists the link's addresses, retrying a dump the kernel
// interrupted because the addresses changed meanwhile.
func (m *Manager) addrList(l netlink.Link) ([]netlink.Addr, error) {
	var (
		addrs []netlink.Addr
		err   error
	)
	for range 5 {
		err = m.nl(func(h *netlink.Handle) (err error) {
			addrs, err = h.AddrList(l, netlink.FAMILY_ALL)
			return err
		})
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	return addrs, err
}

// Has reports whether the interface holds p (same address and prefix
// length).
func (m *Manager) Has(p netip.Prefix) (bool, error) {
	ps, err := m.List()
	if err != nil {
		return false, err
	}
	return slices.Contains(ps, p), nil
}

// LinkUp reports whether the interface is operationally up: set up by the
// administrator and with a carrier. A missing interface is reported as
// false with an error wrapping ErrNoLink.
func (m *Manager) LinkUp() (bool, error) {
	l, err := m.link()
	if err != nil {
		return false, fmt.Errorf("reading link state of %s: %w", m.ifname, err)
	}
	return linkUp(l.Attrs()), nil
}

// linkUp: admin up, and oper state up (or unknown, which drivers without
// oper state reporting leave, with IFF_RUNNING meaning carrier).
func linkUp(a *netlink.LinkAttrs) bool {
	if a.RawFlags&unix.IFF_UP == 0 {
		return false
	}
	switch a.OperState {
	case netlink.OperUp:
		return true
	case netlink.OperUnknown:
		return a.RawFlags&unix.IFF_RUNNING != 0
	default:
		return false
	}
}

// HardwareAddr returns the interface's hardware address.
func (m *Manager) HardwareAddr() (net.HardwareAddr, error) {
	l, err := m.link()
	if err != nil {
		return nil, fmt.Errorf("reading hardware address of %s: %w", m.ifname, err)
	}
	return l.Attrs().HardwareAddr, nil
}

func ipNetPrefix(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	ones, bits := n.Mask.Size()
	if bits == 0 || bits != a.BitLen() {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a, ones), true
}
