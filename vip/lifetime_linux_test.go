package vip_test

import (
	"math"
	"net/netip"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/havip/havip/vip"
)

// TestAddForExpires adds an IPv4 and an IPv6 VIP for one second, renews
// them every 300 ms for 2 s, then stops: the kernel must remove both by
// itself, and the watcher must report each removal. The bounds are
// generous (the machine is shared); the measured times are logged.
func TestAddForExpires(t *testing.T) {
	ns, m := setup(t)
	eventually(t, "a up at start", func() (bool, error) { return m.LinkUp() })
	events := watch(t, m)
	vips := []netip.Prefix{v4, v6}

	for _, p := range vips {
		if err := m.AddFor(p, time.Second); err != nil {
			t.Fatal(err)
		}
		if ok, err := m.Has(p); err != nil || !ok {
			t.Fatalf("Has(%s) = %t, %v after AddFor; want true, nil", p, ok, err)
		}
		found := findAddrs(t, ns, "a", p)
		if len(found) != 1 {
			t.Fatalf("%s is on a %d times, want once: %v", p, len(found), found)
		}
		if a := found[0]; a.ValidLft < 0 || a.ValidLft > 1 || a.PreferedLft < 0 || a.PreferedLft > 1 {
			t.Errorf("%s: valid_lft %d, preferred_lft %d; want at most 1", p, a.ValidLft, a.PreferedLft)
		}
	}

	// Renew every 300 ms for 2 s; each VIP must still be there before
	// each renewal. A check that comes so late that the lifetime may have
	// run out (the test was descheduled) proves nothing and is skipped.
	start := time.Now()
	last := start
	renewals := 0
	for time.Since(start) < 2*time.Second {
		time.Sleep(300 * time.Millisecond)
		gap := time.Since(last)
		for _, p := range vips {
			ok, err := m.Has(p)
			switch {
			case err != nil:
				t.Fatalf("Has(%s): %v", p, err)
			case !ok && gap < 800*time.Millisecond:
				t.Fatalf("%s gone %s after its last renewal, with a lifetime of 1s", p, gap)
			case !ok:
				t.Logf("%s gone, but the test slept %s between renewals; not checked", p, gap)
			}
		}
		for _, p := range vips {
			if err := m.Renew(p, time.Second); err != nil {
				t.Fatal(err)
			}
		}
		last = time.Now()
		renewals++
	}
	// The renewal keeps AddFor's flags.
	if found := findAddrs(t, ns, "a", v6); len(found) != 1 || found[0].Flags&unix.IFA_F_NODAD == 0 || found[0].Flags&unix.IFA_F_TENTATIVE != 0 {
		t.Errorf("%s after renewals: %v, want once with IFA_F_NODAD and not tentative", v6, found)
	}

	// Now nobody renews: the kernel removes both, and the watcher says so.
	gone := map[netip.Prefix]time.Duration{}
	removed := map[netip.Prefix]time.Duration{}
	added := 0
	goneBy := last.Add(2500 * time.Millisecond)
	reportedBy := last.Add(2500*time.Millisecond + timeout)
	for len(gone) < len(vips) || len(removed) < len(vips) {
		select {
		case e := <-events:
			switch {
			case !slices.Contains(vips, e.Prefix):
			case e.Kind == vip.AddrAdded:
				added++
			case e.Kind == vip.AddrRemoved:
				if _, seen := removed[e.Prefix]; !seen {
					removed[e.Prefix] = time.Since(last)
				}
			}
		case <-time.After(5 * time.Millisecond):
		}
		for _, p := range vips {
			if _, seen := gone[p]; seen {
				continue
			}
			if ok, err := m.Has(p); err == nil && !ok {
				gone[p] = time.Since(last)
			}
		}
		now := time.Now()
		if len(gone) < len(vips) && now.After(goneBy) {
			t.Fatalf("not every VIP gone 2.5s after the last renewal: gone %v", gone)
		}
		if now.After(reportedBy) {
			t.Fatalf("the watcher reported only these removals: %v (gone: %v)", removed, gone)
		}
	}
	// Both times are the kernel's removal, seen by polling and by the
	// watcher; either may come first.
	for _, p := range vips {
		t.Logf("%s: gone %s after the last of %d renewals, AddrRemoved after %s", p, gone[p].Round(time.Millisecond), renewals, removed[p].Round(time.Millisecond))
	}
	t.Logf("%d AddrAdded events for the VIPs (each add and renewal is an RTM_NEWADDR)", added)
	if gone[v4] < 900*time.Millisecond || gone[v6] < 900*time.Millisecond {
		t.Errorf("a VIP went before its lifetime of 1s: %v", gone)
	}
}

// TestAddForLifetimes checks the lifetimes the kernel records: rounded
// up to whole seconds, renewed, made permanent by Add, and that List,
// Has and Remove treat an address with a lifetime like any other (the
// daemon's start-up cleanup relies on it).
func TestAddForLifetimes(t *testing.T) {
	ns, m := setup(t)
	permanent := math.MaxUint32
	for _, p := range []netip.Prefix{v4, v6} {
		t.Run(p.String(), func(t *testing.T) {
			lft := func(what string, want int) {
				t.Helper()
				found := findAddrs(t, ns, "a", p)
				if len(found) != 1 {
					t.Fatalf("%s: %s is on a %d times, want once", what, p, len(found))
				}
				a := found[0]
				// The kernel reports what is left, in whole seconds.
				if a.ValidLft != a.PreferedLft || a.ValidLft > want || (want == permanent) != (a.ValidLft == permanent) || a.ValidLft < want-1 {
					t.Errorf("%s: valid_lft %d, preferred_lft %d; want %d", what, a.ValidLft, a.PreferedLft, want)
				}
				if p.Addr().Is6() && (a.Flags&unix.IFA_F_PERMANENT != 0) != (want == permanent) {
					t.Errorf("%s: flags %#x, IFA_F_PERMANENT set = %t, want %t", what, a.Flags, a.Flags&unix.IFA_F_PERMANENT != 0, want == permanent)
				}
			}
			if err := m.AddFor(p, 2500*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			lft("AddFor 2.5s", 3)
			if err := m.Renew(p, 10*time.Second); err != nil {
				t.Fatal(err)
			}
			lft("Renew 10s", 10)
			if err := m.Add(p); err != nil {
				t.Fatal(err)
			}
			lft("Add", permanent)
			if err := m.AddFor(p, 5*time.Second); err != nil {
				t.Fatal(err)
			}
			lft("AddFor 5s on a permanent address", 5)

			if ps, err := m.List(); err != nil || !slices.Contains(ps, p) {
				t.Errorf("List = %v, %v; want it to contain %s", ps, err, p)
			}
			if err := m.Remove(p); err != nil {
				t.Fatalf("Remove: %v", err)
			}
			if ok, err := m.Has(p); err != nil || ok {
				t.Errorf("Has(%s) = %t, %v after Remove; want false, nil", p, ok, err)
			}
		})
	}
	if err := m.AddFor(v4, -time.Second); err == nil {
		t.Error("AddFor with a negative lifetime succeeded")
	}
}
