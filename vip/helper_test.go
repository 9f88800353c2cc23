package vip

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeHelper is an IP Helper API in memory: interfaces by name, their
// addresses keyed by address alone (as Windows keys them), and the
// registered notification queue.
type fakeHelper struct {
	mu     sync.Mutex
	ifaces map[string]*fakeIface
	q      *changeQueue
	calls  []string
	// failCreate, if set, is returned by CreateUnicast.
	failCreate error
}

type fakeIface struct {
	info  ifaceInfo
	addrs map[netip.Addr]int // address → prefix length
	dup   map[netip.Addr]bool
	lft   map[netip.Addr]uint32 // address → lifetime in seconds
}

func newFakeHelper() *fakeHelper {
	return &fakeHelper{ifaces: map[string]*fakeIface{}}
}

func (f *fakeHelper) addIface(name string, index uint32, up bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ifaces[name] = &fakeIface{
		info: ifaceInfo{
			Index:        index,
			Up:           up,
			HardwareAddr: net.HardwareAddr{0x02, 0, 0, 0, 0, byte(index)},
		},
		addrs: map[netip.Addr]int{},
		dup:   map[netip.Addr]bool{},
		lft:   map[netip.Addr]uint32{},
	}
}

func (f *fakeHelper) byIndex(index uint32) *fakeIface {
	for _, i := range f.ifaces {
		if i.info.Index == index {
			return i
		}
	}
	return nil
}

func (f *fakeHelper) Interface(name string) (ifaceInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i, ok := f.ifaces[name]
	if !ok {
		return ifaceInfo{}, ErrNoLink
	}
	return i.info, nil
}

func (f *fakeHelper) Addresses(index uint32) ([]addrInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := f.byIndex(index)
	if i == nil {
		return nil, ErrNoLink
	}
	var out []addrInfo
	for a, bits := range i.addrs {
		out = append(out, addrInfo{Prefix: netip.PrefixFrom(a, bits), Duplicate: i.dup[a]})
	}
	return out, nil
}

// markDuplicate makes an address fail duplicate address detection, as
// when another machine answers for it, and notifies.
func (f *fakeHelper) markDuplicate(name string, a netip.Addr) {
	f.mu.Lock()
	i := f.ifaces[name]
	i.dup[a] = true
	q := f.q
	f.mu.Unlock()
	q.put(ipChange{Kind: changeAddrChanged, Index: i.info.Index, Addr: a})
}

func (f *fakeHelper) CreateUnicast(index uint32, p netip.Prefix, lifetime uint32) error {
	f.mu.Lock()
	f.calls = append(f.calls, "create "+p.String())
	i := f.byIndex(index)
	var err error
	switch {
	case f.failCreate != nil:
		err = f.failCreate
	case i == nil:
		err = ErrNoLink
	default:
		if _, ok := i.addrs[p.Addr()]; ok {
			err = errAddrExists
		} else {
			i.addrs[p.Addr()] = p.Bits()
			i.lft[p.Addr()] = lifetime
		}
	}
	q := f.q
	f.mu.Unlock()
	if err == nil && q != nil {
		q.put(ipChange{Kind: changeAddrAdded, Index: index, Addr: p.Addr()})
	}
	return err
}

func (f *fakeHelper) SetLifetime(index uint32, p netip.Prefix, lifetime uint32) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf("set %s %d", p, lifetime))
	i := f.byIndex(index)
	if i == nil {
		return ErrNoLink
	}
	bits, ok := i.addrs[p.Addr()]
	switch {
	case !ok:
		return errAddrNotFound
	case bits != p.Bits():
		return fmt.Errorf("%w (/%d)", ErrAddrConflict, bits)
	}
	i.lft[p.Addr()] = lifetime
	return nil
}

// lifetime returns the lifetime the address a has on the interface.
func (f *fakeHelper) lifetime(name string, a netip.Addr) uint32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ifaces[name].lft[a]
}

func (f *fakeHelper) DeleteUnicast(index uint32, p netip.Prefix) error {
	f.mu.Lock()
	f.calls = append(f.calls, "delete "+p.Addr().String())
	i := f.byIndex(index)
	var err error
	switch {
	case i == nil:
		err = ErrNoLink
	default:
		if _, ok := i.addrs[p.Addr()]; !ok {
			err = errAddrNotFound
		} else {
			delete(i.addrs, p.Addr())
			delete(i.lft, p.Addr())
		}
	}
	q := f.q
	f.mu.Unlock()
	if err == nil && q != nil {
		q.put(ipChange{Kind: changeAddrDeleted, Index: index, Addr: p.Addr()})
	}
	return err
}

func (f *fakeHelper) Notify(q *changeQueue) (func(), error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.q = q
	return func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.q = nil
	}, nil
}

// setLink changes an interface's link state, as unplugging the cable or
// disabling the adapter does, and notifies.
func (f *fakeHelper) setLink(name string, up bool) {
	f.mu.Lock()
	i := f.ifaces[name]
	i.info.Up = up
	q := f.q
	f.mu.Unlock()
	q.put(ipChange{Kind: changeInterface, Index: i.info.Index})
}

// removeIface deletes an interface and notifies.
func (f *fakeHelper) removeIface(name string) {
	f.mu.Lock()
	i := f.ifaces[name]
	delete(f.ifaces, name)
	q := f.q
	f.mu.Unlock()
	q.put(ipChange{Kind: changeInterface, Index: i.info.Index})
}

func (f *fakeHelper) notifying() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.q != nil
}

func (f *fakeHelper) takeCalls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	f.calls = nil
	return c
}

func newTestHelperManager(f *fakeHelper) *helperManager {
	m := newHelperManager("Ethernet 2", f, slog.New(slog.DiscardHandler))
	return &m
}

var (
	vip4 = netip.MustParsePrefix("192.0.2.22/32")
	vip6 = netip.MustParsePrefix("2001:db8::22/128")
	own4 = netip.MustParsePrefix("192.0.2.11/24")
)

func TestHelperAddIdempotent(t *testing.T) {
	f := newFakeHelper()
	f.addIface("Ethernet 2", 7, true)
	m := newTestHelperManager(f)

	for range 2 {
		if err := m.Add(vip4); err != nil {
			t.Fatalf("Add(%s): %v", vip4, err)
		}
	}
	if err := m.Add(vip6); err != nil {
		t.Fatalf("Add(%s): %v", vip6, err)
	}
	got, err := m.List()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]netip.Prefix{vip4, vip6}, got, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
	// The second add found the address and made it permanent again.
	want := []string{"create 192.0.2.22/32", "create 192.0.2.22/32", "set 192.0.2.22/32 4294967295", "create 2001:db8::22/128"}
	if diff := cmp.Diff(want, f.takeCalls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

// An address the interface has with another prefix length (its own
// address given as a VIP) is neither replaced by Add nor removed by
// Remove: Windows would delete it by address alone.
func TestHelperOtherPrefixLength(t *testing.T) {
	f := newFakeHelper()
	f.addIface("Ethernet 2", 7, true)
	f.ifaces["Ethernet 2"].addrs[own4.Addr()] = 24
	m := newTestHelperManager(f)
	vip := netip.PrefixFrom(own4.Addr(), 32)

	err := m.Add(vip)
	if !errors.Is(err, ErrAddrConflict) {
		t.Errorf("Add(%s): %v, want ErrAddrConflict", vip, err)
	}
	if err := m.Remove(vip); err != nil {
		t.Errorf("Remove(%s): %v", vip, err)
	}
	if diff := cmp.Diff([]string{"create 192.0.2.11/32"}, f.takeCalls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	if has, err := m.Has(own4); err != nil || !has {
		t.Errorf("Has(%s) = %t, %v; the interface's own address must stay", own4, has, err)
	}
}

func TestHelperAddErrors(t *testing.T) {
	f := newFakeHelper()
	m := newTestHelperManager(f)
	if err := m.Add(vip4); !errors.Is(err, ErrNoLink) {
		t.Errorf("Add on a missing interface: %v, want ErrNoLink", err)
	}
	f.addIface("Ethernet 2", 7, true)
	denied := errors.New("Access is denied.")
	f.failCreate = denied
	err := m.Add(vip4)
	if !errors.Is(err, denied) {
		t.Errorf("Add: %v, want %v", err, denied)
	}
	if want := `adding 192.0.2.22/32 to Ethernet 2: Access is denied.`; err == nil || err.Error() != want {
		t.Errorf("Add: %v, want %q", err, want)
	}
	if err := m.Add(netip.MustParsePrefix("::ffff:192.0.2.1/128")); err == nil {
		t.Error("Add of an IPv4-mapped address succeeded")
	}
}

func TestHelperRemove(t *testing.T) {
	f := newFakeHelper()
	m := newTestHelperManager(f)
	// No interface: nothing to remove.
	if err := m.Remove(vip4); err != nil {
		t.Errorf("Remove on a missing interface: %v", err)
	}
	f.addIface("Ethernet 2", 7, true)
	if err := m.Add(vip4); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second finds nothing to remove
		if err := m.Remove(vip4); err != nil {
			t.Fatalf("Remove: %v", err)
		}
	}
	if has, err := m.Has(vip4); err != nil || has {
		t.Errorf("Has after Remove = %t, %v", has, err)
	}
}

func TestHelperLinkAndHardwareAddr(t *testing.T) {
	f := newFakeHelper()
	m := newTestHelperManager(f)
	if _, err := m.LinkUp(); !errors.Is(err, ErrNoLink) {
		t.Errorf("LinkUp on a missing interface: %v, want ErrNoLink", err)
	}
	f.addIface("Ethernet 2", 7, false)
	if up, err := m.LinkUp(); err != nil || up {
		t.Errorf("LinkUp = %t, %v; want false", up, err)
	}
	mac, err := m.HardwareAddr()
	if err != nil || mac.String() != "02:00:00:00:00:07" {
		t.Errorf("HardwareAddr = %s, %v", mac, err)
	}
}

// The start-up cleanup of the daemon is List, then Remove of each VIP
// found: the VIP goes, the interface's own address stays.
func TestHelperCleanup(t *testing.T) {
	f := newFakeHelper()
	f.addIface("Ethernet 2", 7, true)
	f.ifaces["Ethernet 2"].addrs[own4.Addr()] = 24
	f.ifaces["Ethernet 2"].addrs[vip4.Addr()] = 32 // left by a killed run
	m := newTestHelperManager(f)

	have, err := m.List()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range have {
		if p == vip4 || p == vip6 {
			if err := m.Remove(p); err != nil {
				t.Fatal(err)
			}
		}
	}
	got, err := m.List()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{own4.String()}, prefixStrings(got)); diff != "" {
		t.Errorf("after cleanup (-want +got):\n%s", diff)
	}
}

func prefixStrings(ps []netip.Prefix) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

// watch runs Watch and returns its events and a way to stop it.
func watch(t *testing.T, m *helperManager, f *fakeHelper) (<-chan Event, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	events := make(chan Event, 64)
	errc := make(chan error, 1)
	go func() { errc <- m.Watch(ctx, events) }()
	stop := func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("Watch: %v", err)
		}
		if f.notifying() {
			t.Error("Watch returned without cancelling its notifications")
		}
	}
	return events, stop
}

func next(t *testing.T, events <-chan Event) Event {
	t.Helper()
	select {
	case e := <-events:
		return e
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5s")
		return Event{}
	}
}

func expect(t *testing.T, events <-chan Event, want ...Event) {
	t.Helper()
	for _, w := range want {
		if got := next(t, events); got != w {
			t.Fatalf("event %s, want %s", got, w)
		}
	}
}

func TestHelperWatchExternalRemoval(t *testing.T) {
	f := newFakeHelper()
	f.addIface("Ethernet 2", 7, true)
	f.addIface("Ethernet 3", 8, true)
	m := newTestHelperManager(f)
	events, stop := watch(t, m, f)
	defer stop()

	expect(t, events, Event{Kind: Resync})
	if err := m.Add(vip4); err != nil {
		t.Fatal(err)
	}
	expect(t, events, Event{Kind: AddrAdded, Prefix: vip4})

	// Someone else removes the VIP (netsh, the adapter settings dialog),
	// and touches another interface, which is not reported.
	other := newTestHelperManager(f)
	other.ifname = "Ethernet 3"
	if err := other.Add(vip6); err != nil {
		t.Fatal(err)
	}
	if err := f.DeleteUnicast(7, vip4); err != nil {
		t.Fatal(err)
	}
	expect(t, events, Event{Kind: AddrRemoved, Prefix: vip4})
}

// A link change that Windows does not notify is found by the poll.
func TestHelperWatchPollsLink(t *testing.T) {
	f := newFakeHelper()
	f.addIface("Ethernet 2", 7, true)
	m := newTestHelperManager(f)
	m.poll = 10 * time.Millisecond
	events, stop := watch(t, m, f)
	defer stop()

	expect(t, events, Event{Kind: Resync})
	f.mu.Lock()
	f.ifaces["Ethernet 2"].info.Up = false // no notification
	f.mu.Unlock()
	expect(t, events, Event{Kind: LinkChanged, Up: false})
}

// An address that fails duplicate address detection is reported as
// changed (AddrAdded) with a warning in the log.
func TestHelperWatchDuplicate(t *testing.T) {
	f := newFakeHelper()
	f.addIface("Ethernet 2", 7, true)
	var logs bytes.Buffer
	m := newHelperManager("Ethernet 2", f, slog.New(slog.NewTextHandler(&logs, nil)))
	events, stop := watch(t, &m, f)

	expect(t, events, Event{Kind: Resync})
	if err := m.Add(vip4); err != nil {
		t.Fatal(err)
	}
	expect(t, events, Event{Kind: AddrAdded, Prefix: vip4})
	f.markDuplicate("Ethernet 2", vip4.Addr())
	expect(t, events, Event{Kind: AddrAdded, Prefix: vip4})
	stop()
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "duplicate address detection") {
		t.Errorf("no warning about the duplicate in the log:\n%s", logs.String())
	}
}

func TestHelperWatchLink(t *testing.T) {
	f := newFakeHelper()
	f.addIface("Ethernet 2", 7, true)
	m := newTestHelperManager(f)
	events, stop := watch(t, m, f)
	defer stop()

	expect(t, events, Event{Kind: Resync})
	f.setLink("Ethernet 2", false)
	expect(t, events, Event{Kind: LinkChanged, Up: false})
	f.setLink("Ethernet 2", false) // no change, no event
	f.setLink("Ethernet 2", true)
	expect(t, events, Event{Kind: LinkChanged, Up: true})

	// Deleted: down, then Resync; back under a new index: Resync.
	f.removeIface("Ethernet 2")
	expect(t, events, Event{Kind: LinkChanged, Up: false}, Event{Kind: Resync})
	f.addIface("Ethernet 2", 12, true)
	f.setLink("Ethernet 2", true)
	expect(t, events, Event{Kind: LinkChanged, Up: true}, Event{Kind: Resync})

	// Addresses of the new index are reported.
	if err := m.Add(vip6); err != nil {
		t.Fatal(err)
	}
	expect(t, events, Event{Kind: AddrAdded, Prefix: vip6})
}

func TestHelperWatchLostNotifications(t *testing.T) {
	f := newFakeHelper()
	f.addIface("Ethernet 2", 7, true)
	m := newTestHelperManager(f)
	q := newChangeQueue(2)
	for range 3 {
		q.put(ipChange{Kind: changeInterface})
	}
	if !q.lost.Load() {
		t.Fatal("a full queue did not mark itself lost")
	}

	// A watch whose queue overflows reads the interface again: Resync.
	events := make(chan Event, 64)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f.q = nil
	hm := &lossyHelper{fakeHelper: f}
	m.h = hm
	errc := make(chan error, 1)
	go func() { errc <- m.Watch(ctx, events) }()
	expect(t, events, Event{Kind: Resync})
	hm.overflow()
	expect(t, events, Event{Kind: Resync})
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// lossyHelper lets a test mark the watcher's queue lost.
type lossyHelper struct {
	*fakeHelper
	q  *changeQueue
	mu sync.Mutex
}

func (l *lossyHelper) Notify(q *changeQueue) (func(), error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.q = q
	return func() {}, nil
}

// overflow does what put does when the queue is full, then queues one
// more notification, as the next callback would.
func (l *lossyHelper) overflow() {
	l.mu.Lock()
	q := l.q
	l.mu.Unlock()
	q.lost.Store(true)
	q.put(ipChange{Kind: changeAddrChanged, Index: 7, Addr: vip4.Addr()})
}

func TestHelperWatchNotifyFails(t *testing.T) {
	m := newTestHelperManager(newFakeHelper())
	m.h = failingNotify{m.h}
	err := m.Watch(context.Background(), make(chan Event, 1))
	if want := "watching Ethernet 2: no notifications"; err == nil || err.Error() != want {
		t.Errorf("Watch: %v", err)
	}
}

type failingNotify struct{ ipHelper }

func (failingNotify) Notify(*changeQueue) (func(), error) {
	return nil, errors.New("no notifications")
}

// Lifetimes: AddFor creates the address with one, or sets it on an
// address already there; Renew sets it, and never creates an address
// that is gone; the interface's own address with another prefix length
// keeps its lifetime.
func TestHelperLifetime(t *testing.T) {
	f := newFakeHelper()
	m := newTestHelperManager(f)
	if err := m.Renew(vip4, time.Second); !errors.Is(err, ErrNoLink) {
		t.Errorf("Renew on a missing interface: %v, want ErrNoLink", err)
	}
	f.addIface("Ethernet 2", 7, true)
	f.ifaces["Ethernet 2"].addrs[own4.Addr()] = 24
	f.ifaces["Ethernet 2"].lft[own4.Addr()] = infiniteLifetime

	steps := []struct {
		name string
		do   func() error
		want uint32 // vip4's lifetime afterwards
	}{
		{"AddFor 1.5s rounds up", func() error { return m.AddFor(vip4, 1500*time.Millisecond) }, 2},
		{"AddFor again sets the lifetime", func() error { return m.AddFor(vip4, 3*time.Second) }, 3},
		{"Renew", func() error { return m.Renew(vip4, time.Second) }, 1},
		{"Renew below a second", func() error { return m.Renew(vip4, time.Millisecond) }, 1},
		{"Add makes it permanent", func() error { return m.Add(vip4) }, infiniteLifetime},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got := f.lifetime("Ethernet 2", vip4.Addr()); got != s.want {
			t.Errorf("%s: lifetime %d, want %d", s.name, got, s.want)
		}
	}
	want := []string{"create 192.0.2.22/32", "create 192.0.2.22/32", "set 192.0.2.22/32 3",
		"set 192.0.2.22/32 1", "set 192.0.2.22/32 1", "create 192.0.2.22/32", "set 192.0.2.22/32 4294967295"}
	if diff := cmp.Diff(want, f.takeCalls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}

	// A VIP that expired or was removed is not put back by Renew.
	err := m.Renew(vip6, time.Second)
	if !errors.Is(err, errAddrNotFound) {
		t.Errorf("Renew of a missing address: %v, want errAddrNotFound", err)
	}
	if want := "renewing 2001:db8::22/128 on Ethernet 2: address not found"; err == nil || err.Error() != want {
		t.Errorf("Renew: %v, want %q", err, want)
	}
	if has, _ := m.Has(vip6); has {
		t.Error("Renew created a missing address")
	}
	// The interface's own address, named as a VIP with another prefix
	// length, keeps its (infinite) lifetime.
	if err := m.Renew(netip.PrefixFrom(own4.Addr(), 32), time.Second); !errors.Is(err, ErrAddrConflict) {
		t.Errorf("Renew of the own address as /32: %v, want ErrAddrConflict", err)
	}
	if err := m.AddFor(netip.PrefixFrom(own4.Addr(), 32), time.Second); !errors.Is(err, ErrAddrConflict) {
		t.Errorf("AddFor of the own address as /32: %v, want ErrAddrConflict", err)
	}
	if got := f.lifetime("Ethernet 2", own4.Addr()); got != infiniteLifetime {
		t.Errorf("own address lifetime %d, want infinite", got)
	}
	if err := m.AddFor(vip6, -time.Second); err == nil {
		t.Error("AddFor with a negative lifetime succeeded")
	}
}
