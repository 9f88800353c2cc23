package vip_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/havip/havip/internal/nstest"
	"github.com/havip/havip/vip"
)

const timeout = 5 * time.Second

// setup makes a namespace with a veth pair a<->b, both up, and a Manager
// for a acting in that namespace.
func setup(t *testing.T) (*nstest.NS, *vip.Manager) {
	t.Helper()
	ns := nstest.New(t)
	ns.Veth(t, "a", "b")
	m := vip.New("a", vip.WithNamespace(ns.NsHandle()))
	t.Cleanup(func() { m.Close() })
	return ns, m
}

// kernelAddrs lists the addresses on link name as the kernel has them.
func kernelAddrs(t *testing.T, ns *nstest.NS, name string) []netlink.Addr {
	t.Helper()
	l, err := ns.Handle().LinkByName(name)
	if err != nil {
		t.Fatalf("looking up %s: %v", name, err)
	}
	addrs, err := ns.Handle().AddrList(l, netlink.FAMILY_ALL)
	if err != nil {
		t.Fatalf("listing addresses of %s: %v", name, err)
	}
	return addrs
}

// findAddrs returns the kernel's entries for p on link name.
func findAddrs(t *testing.T, ns *nstest.NS, name string, p netip.Prefix) []netlink.Addr {
	t.Helper()
	var found []netlink.Addr
	for _, a := range kernelAddrs(t, ns, name) {
		ones, _ := a.Mask.Size()
		if a.IP.Equal(p.Addr().AsSlice()) && ones == p.Bits() {
			found = append(found, a)
		}
	}
	return found
}

func setLink(t *testing.T, ns *nstest.NS, name string, up bool) {
	t.Helper()
	l, err := ns.Handle().LinkByName(name)
	if err != nil {
		t.Fatalf("looking up %s: %v", name, err)
	}
	if up {
		err = ns.Handle().LinkSetUp(l)
	} else {
		err = ns.Handle().LinkSetDown(l)
	}
	if err != nil {
		t.Fatalf("setting %s up=%t: %v", name, up, err)
	}
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t *testing.T, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true after %s (last error: %v)", what, timeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

var (
	v4 = netip.MustParsePrefix("10.0.0.5/32")
	v6 = netip.MustParsePrefix("fd00::5/128")
)

func TestAddTwice(t *testing.T) {
	for _, p := range []netip.Prefix{v4, v6} {
		t.Run(p.String(), func(t *testing.T) {
			ns, m := setup(t)
			for i := range 2 {
				if err := m.Add(p); err != nil {
					t.Fatalf("Add #%d: %v", i+1, err)
				}
			}
			found := findAddrs(t, ns, "a", p)
			if len(found) != 1 {
				t.Fatalf("%s is on a %d times, want once: %v", p, len(found), found)
			}
			if found[0].Scope != unix.RT_SCOPE_UNIVERSE {
				t.Errorf("scope = %d, want %d (global)", found[0].Scope, unix.RT_SCOPE_UNIVERSE)
			}
			if ok, err := m.Has(p); err != nil || !ok {
				t.Errorf("Has(%s) = %t, %v; want true, nil", p, ok, err)
			}
		})
	}
}

func TestAddIPv6NotTentative(t *testing.T) {
	ns, m := setup(t)
	if err := m.Add(v6); err != nil {
		t.Fatal(err)
	}
	found := findAddrs(t, ns, "a", v6)
	if len(found) != 1 {
		t.Fatalf("%s is on a %d times, want once", v6, len(found))
	}
	flags := found[0].Flags
	if flags&unix.IFA_F_TENTATIVE != 0 {
		t.Errorf("flags %#x include IFA_F_TENTATIVE", flags)
	}
	if flags&unix.IFA_F_NODAD == 0 {
		t.Errorf("flags %#x lack IFA_F_NODAD", flags)
	}
}

func TestRemoveTwice(t *testing.T) {
	for _, p := range []netip.Prefix{v4, v6} {
		t.Run(p.String(), func(t *testing.T) {
			ns, m := setup(t)
			if err := m.Add(p); err != nil {
				t.Fatal(err)
			}
			for i := range 2 {
				if err := m.Remove(p); err != nil {
					t.Fatalf("Remove #%d: %v", i+1, err)
				}
			}
			if found := findAddrs(t, ns, "a", p); len(found) != 0 {
				t.Fatalf("%s still on a: %v", p, found)
			}
			if ok, err := m.Has(p); err != nil || ok {
				t.Errorf("Has(%s) = %t, %v; want false, nil", p, ok, err)
			}
		})
	}
}

func TestMissingLink(t *testing.T) {
	ns := nstest.New(t)
	m := vip.New("nope0", vip.WithNamespace(ns.NsHandle()))
	t.Cleanup(func() { m.Close() })

	if err := m.Remove(v4); err != nil {
		t.Errorf("Remove on a missing link: %v, want nil", err)
	}
	err := m.Add(v4)
	if !errors.Is(err, vip.ErrNoLink) {
		t.Errorf("Add on a missing link: %v, want ErrNoLink", err)
	}
	if want := "adding 10.0.0.5/32 to nope0: "; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Add error %q does not start with %q", err, want)
	}
	if up, err := m.LinkUp(); up || !errors.Is(err, vip.ErrNoLink) {
		t.Errorf("LinkUp = %t, %v; want false, ErrNoLink", up, err)
	}
	if _, err := m.List(); !errors.Is(err, vip.ErrNoLink) {
		t.Errorf("List: %v, want ErrNoLink", err)
	}
	if _, err := m.HardwareAddr(); !errors.Is(err, vip.ErrNoLink) {
		t.Errorf("HardwareAddr: %v, want ErrNoLink", err)
	}
}

func TestInvalidPrefix(t *testing.T) {
	_, m := setup(t)
	for _, p := range []netip.Prefix{{}, netip.MustParsePrefix("::ffff:10.0.0.5/128")} {
		if err := m.Add(p); err == nil {
			t.Errorf("Add(%s) succeeded, want an error", p)
		}
	}
}

func TestList(t *testing.T) {
	_, m := setup(t)
	want := []netip.Prefix{
		netip.MustParsePrefix("10.0.0.5/32"),
		netip.MustParsePrefix("10.0.0.6/32"),
		netip.MustParsePrefix("fd00::5/128"),
	}
	for _, p := range want {
		if err := m.Add(p); err != nil {
			t.Fatal(err)
		}
	}
	got, err := m.List()
	if err != nil {
		t.Fatal(err)
	}
	// The kernel also gives a an IPv6 link-local address; keep the others.
	var others []netip.Prefix
	for _, p := range got {
		if !p.Addr().IsLinkLocalUnicast() {
			others = append(others, p)
		}
	}
	if diff := cmp.Diff(want, others, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
}

func TestHardwareAddr(t *testing.T) {
	ns, m := setup(t)
	l, err := ns.Handle().LinkByName("a")
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.HardwareAddr()
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != l.Attrs().HardwareAddr.String() || len(got) != 6 {
		t.Errorf("HardwareAddr = %s, want %s", got, l.Attrs().HardwareAddr)
	}
}

func TestLinkUp(t *testing.T) {
	ns, m := setup(t)
	wantUp := func(want bool) func() (bool, error) {
		return func() (bool, error) {
			up, err := m.LinkUp()
			return err == nil && up == want, err
		}
	}
	steps := []struct {
		name string
		link string
		up   bool
		want bool
	}{
		{"peer down", "b", false, false},
		{"peer up", "b", true, true},
		{"own down", "a", false, false},
		{"own up", "a", true, true},
	}
	eventually(t, "a up at start", wantUp(true))
	for _, s := range steps {
		setLink(t, ns, s.link, s.up)
		eventually(t, fmt.Sprintf("after %s, LinkUp = %t", s.name, s.want), wantUp(s.want))
	}
}

// watch runs Watch on m until the test ends and returns its events.
func watch(t *testing.T, m *vip.Manager) <-chan vip.Event {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	events := make(chan vip.Event, 64)
	done := make(chan error, 1)
	go func() { done <- m.Watch(ctx, events) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Watch: %v", err)
			}
		case <-time.After(timeout):
			t.Errorf("Watch did not return %s after its context ended", timeout)
		}
	})
	waitEvent(t, events, "the first Resync", func(e vip.Event) bool { return e.Kind == vip.Resync })
	return events
}

// waitEvent reads events until one matches, skipping the others.
func waitEvent(t *testing.T, events <-chan vip.Event, what string, match func(vip.Event) bool) {
	t.Helper()
	deadline := time.After(timeout)
	var seen []string
	for {
		select {
		case e := <-events:
			if match(e) {
				return
			}
			seen = append(seen, e.String())
		case <-deadline:
			t.Fatalf("no %s within %s; saw %v", what, timeout, seen)
		}
	}
}

func TestWatch(t *testing.T) {
	ns, m := setup(t)
	eventually(t, "a up at start", func() (bool, error) { return m.LinkUp() })
	events := watch(t, m)

	is := func(kind vip.EventKind, p netip.Prefix) func(vip.Event) bool {
		return func(e vip.Event) bool { return e.Kind == kind && e.Prefix == p }
	}
	link := func(up bool) func(vip.Event) bool {
		return func(e vip.Event) bool { return e.Kind == vip.LinkChanged && e.Up == up }
	}

	for _, p := range []netip.Prefix{v4, v6} {
		if err := m.Add(p); err != nil {
			t.Fatal(err)
		}
		waitEvent(t, events, "AddrAdded "+p.String(), is(vip.AddrAdded, p))

		// Someone else deletes the address.
		l, err := ns.Handle().LinkByName("a")
		if err != nil {
			t.Fatal(err)
		}
		addr := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}}
		if err := ns.Handle().AddrDel(l, addr); err != nil {
			t.Fatal(err)
		}
		waitEvent(t, events, "AddrRemoved "+p.String(), is(vip.AddrRemoved, p))
	}

	// An address on the other end is not reported.
	other := netip.MustParsePrefix("10.0.0.9/32")
	if err := vip.New("b", vip.WithNamespace(ns.NsHandle())).Add(other); err != nil {
		t.Fatal(err)
	}

	setLink(t, ns, "b", false)
	waitEvent(t, events, "LinkChanged down after peer down", link(false))
	setLink(t, ns, "b", true)
	waitEvent(t, events, "LinkChanged up after peer up", link(true))
	setLink(t, ns, "a", false)
	waitEvent(t, events, "LinkChanged down after own down", link(false))
	setLink(t, ns, "a", true)
	waitEvent(t, events, "LinkChanged up after own up", link(true))

	// Nothing about b's address came through.
	for {
		select {
		case e := <-events:
			if e.Prefix == other {
				t.Errorf("event for b's address: %s", e)
			}
			continue
		default:
		}
		break
	}
}

func TestWatchRecreatedLink(t *testing.T) {
	ns, m := setup(t)
	eventually(t, "a up at start", func() (bool, error) { return m.LinkUp() })
	events := watch(t, m)

	l, err := ns.Handle().LinkByName("a")
	if err != nil {
		t.Fatal(err)
	}
	if err := ns.Handle().LinkDel(l); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, events, "LinkChanged down after delete", func(e vip.Event) bool {
		return e.Kind == vip.LinkChanged && !e.Up
	})
	waitEvent(t, events, "Resync after delete", func(e vip.Event) bool { return e.Kind == vip.Resync })

	ns.Veth(t, "a", "b")
	waitEvent(t, events, "Resync after create", func(e vip.Event) bool { return e.Kind == vip.Resync })
	waitEvent(t, events, "LinkChanged up on the new link", func(e vip.Event) bool {
		return e.Kind == vip.LinkChanged && e.Up
	})
	if err := m.Add(v4); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, events, "AddrAdded on the new link", func(e vip.Event) bool {
		return e.Kind == vip.AddrAdded && e.Prefix == v4
	})
}

func TestWatchStopsWhenBlocked(t *testing.T) {
	_, m := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	events := make(chan vip.Event) // never read
	done := make(chan error, 1)
	go func() { done <- m.Watch(ctx, events) }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Watch: %v, want nil", err)
		}
	case <-time.After(timeout):
		t.Fatalf("Watch blocked on a full channel after its context ended")
	}
}

// A Manager made without WithNamespace keeps one netlink socket, opened
// in the namespace of the thread that made it: it acts there whichever
// thread calls it, concurrent calls share it, and Close waits for them.
// A Manager made with WithNamespace fails once closed, rather than act
// in the caller's namespace.
func TestManagerSocket(t *testing.T) {
	ns := nstest.New(t)
	ns.Veth(t, "a", "b")
	var m *vip.Manager
	if err := ns.Do(func() error { m = vip.New("a"); return nil }); err != nil {
		t.Fatal(err)
	}
	p := netip.MustParsePrefix("192.0.2.10/32")
	// Called from this goroutine, on any thread: the socket is the
	// namespace's.
	if err := m.AddFor(p, time.Minute); err != nil {
		t.Fatalf("AddFor: %v", err)
	}
	if len(findAddrs(t, ns, "a", p)) != 1 {
		t.Fatalf("%s not on a in the test namespace", p)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 4 {
		wg.Add(1)
		// In the namespace: the requests that come after Close open
		// a socket of their own in the calling thread's namespace.
		go func() {
			defer wg.Done()
			errs <- ns.Do(func() error {
				for range 50 {
					if err := m.Renew(p, time.Minute); err != nil {
						return err
					}
					if _, err := m.List(); err != nil {
						return err
					}
				}
				return nil
			})
		}()
	}
	m.Close()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent use: %v", err)
		}
	}
	if err := ns.Do(func() error { return m.Remove(p) }); err != nil {
		t.Fatalf("Remove after Close, in the namespace: %v", err)
	}
	if got := findAddrs(t, ns, "a", p); len(got) != 0 {
		t.Fatalf("%s still on a: %v", p, got)
	}

	nm := vip.New("a", vip.WithNamespace(ns.NsHandle()))
	if err := nm.AddFor(p, time.Minute); err != nil {
		t.Fatalf("AddFor: %v", err)
	}
	nm.Close()
	if err := nm.Remove(p); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Remove after Close = %v, want net.ErrClosed", err)
	}
	if len(findAddrs(t, ns, "a", p)) != 1 {
		t.Fatalf("%s gone after a closed Manager's Remove", p)
	}
}
