package vip

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/netip"
	"time"

	"github.com/vishvananda/netns"
)

// ErrNoLink is returned, wrapped, when the Manager's interface does not
// exist.
var ErrNoLink = errors.New("no such network interface")

// EventKind says what an Event reports.
type EventKind uint8

// The kinds of Event.
const (
	// AddrAdded: an address was added to the interface, or its flags
	// changed (for example an IPv6 address leaving the tentative state).
	AddrAdded EventKind = iota + 1
	// AddrRemoved: an address was removed from the interface.
	AddrRemoved
	// LinkChanged: the interface went operationally up or down, or was
	// deleted (Up is false then).
	LinkChanged
	// Resync: events may have been missed (the watch was just set up, the
	// kernel dropped notifications, or the interface was recreated); the
	// consumer should read the current state with List and LinkUp.
	Resync
)

func (k EventKind) String() string {
	switch k {
	case AddrAdded:
		return "AddrAdded"
	case AddrRemoved:
		return "AddrRemoved"
	case LinkChanged:
		return "LinkChanged"
	case Resync:
		return "Resync"
	default:
		return fmt.Sprintf("EventKind(%d)", uint8(k))
	}
}

// Event is a change on the watched interface.
type Event struct {
	Kind EventKind
	// Prefix is the address, for AddrAdded and AddrRemoved.
	Prefix netip.Prefix
	// Up is the operational state of the link (see Manager.LinkUp), for
	// LinkChanged.
	Up bool
}

func (e Event) String() string {
	switch e.Kind {
	case AddrAdded, AddrRemoved:
		return fmt.Sprintf("%s %s", e.Kind, e.Prefix)
	case LinkChanged:
		return fmt.Sprintf("%s up=%t", e.Kind, e.Up)
	default:
		return e.Kind.String()
	}
}

// An Option configures a Manager.
type Option func(*options)

type options struct {
	logger *slog.Logger
	ns     netns.NsHandle
	hasNS  bool
}

// WithLogger sets the logger. The default discards.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// WithNamespace makes the Manager act in the network namespace ns rather
// than in the namespace of the calling thread. The Manager does not take
// ownership: ns must stay open until the Manager is closed. Mostly for
// tests.
func WithNamespace(ns netns.NsHandle) Option {
	return func(o *options) {
		o.ns = ns
		o.hasNS = true
	}
}

func buildOptions(opts []Option) options {
	o := options{logger: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// An AddrOption changes how AddFor and Renew add an address.
type AddrOption func(*addrOptions)

type addrOptions struct {
	label string
}

// Label gives an IPv4 address its label, as `ip address add … label
// eth0:1` does (ifconfig shows it as an alias). The label begins with
// the interface's name. Only Linux has labels: elsewhere adding an
// address with one fails. An empty label is none.
func Label(label string) AddrOption {
	return func(o *addrOptions) { o.label = label }
}

func buildAddrOptions(opts []AddrOption) addrOptions {
	var o addrOptions
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// checkPrefix rejects prefixes the kernel cannot hold as an interface
// address.
func checkPrefix(p netip.Prefix) error {
	if !p.IsValid() {
		return fmt.Errorf("invalid prefix %s", p)
	}
	if p.Addr().Is4In6() {
		return fmt.Errorf("%s is an IPv4-mapped IPv6 address", p)
	}
	return nil
}

// comparePrefix orders prefixes by address, then prefix length.
func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}

// infiniteLifetime is the lifetime, in seconds, of a permanent address,
// in the kernel's IFA_CACHEINFO as in Windows' MIB_UNICASTIPADDRESS_ROW.
const infiniteLifetime = math.MaxUint32

// lifetimeSeconds converts the lifetime of an address to what the kernel
// and Windows take: whole seconds, rounded up so that an address never
// lives shorter than asked, and at least one, since a lifetime of 0
// seconds would mean "already expired". 0 means permanent
// (infiniteLifetime); a lifetime too long to count in seconds is capped
// just below it.
func lifetimeSeconds(lifetime time.Duration) (uint32, error) {
	switch {
	case lifetime < 0:
		return 0, fmt.Errorf("negative lifetime %s", lifetime)
	case lifetime == 0:
		return infiniteLifetime, nil
	}
	secs := lifetime / time.Second
	if lifetime%time.Second != 0 {
		secs++
	}
	if secs >= infiniteLifetime {
		return infiniteLifetime - 1, nil
	}
	return uint32(secs), nil
}
