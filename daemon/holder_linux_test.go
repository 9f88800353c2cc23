package daemon

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/havip/havip/config"
	"github.com/havip/havip/internal/nstest"
	"github.com/havip/havip/vip"
)

// TestHolderLifetimeOnKernel runs a holder on a real interface, in a
// namespace of its own, with VIPs added for 1 s and the address watch
// wired as the daemon wires it (resync, then ensure): while Renew is
// called, a VIP someone deletes comes back; once Renew stops, the kernel
// removes the VIPs, the watch sees it and the holder does not put them
// back, and Renew reports them expired.
func TestHolderLifetimeOnKernel(t *testing.T) {
	ns := nstest.New(t)
	ns.Veth(t, "a", "b")
	m := vip.New("a", vip.WithNamespace(ns.NsHandle()))
	t.Cleanup(func() { m.Close() })

	inst := config.Instance{
		Name: "web", Interface: "a",
		VIPs:     []netip.Prefix{netip.MustParsePrefix("198.18.0.100/32"), netip.MustParsePrefix("fd00::100/128")},
		Announce: config.Announce{Count: 1, Interval: time.Millisecond},
	}
	logs := &syncBuffer{}
	h := newHolder(inst, m, time.Second, slog.New(slog.NewTextHandler(logs, nil)))
	h.open = func(string, *slog.Logger) (announcer, error) { return &fakeAnnouncer{}, nil }
	t.Cleanup(h.close)
	d := &Daemon{log: slog.New(slog.DiscardHandler), cfg: &config.Config{Instances: []config.Instance{inst}},
		holders: map[string]*holder{inst.Name: h}}

	ctx, cancel := context.WithCancel(context.Background())
	events := make(chan vip.Event, 64)
	watched := make(chan error, 1)
	go func() { watched <- m.Watch(ctx, events) }()
	resynced := make(chan struct{})
	go func() {
		defer close(resynced)
		for {
			select {
			case <-ctx.Done():
				return
			case e := <-events:
				if e.Kind == vip.AddrRemoved || e.Kind == vip.Resync {
					d.resync("a", m)
				}
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-resynced
		if err := <-watched; err != nil {
			t.Errorf("Watch: %v", err)
		}
	})

	has := func(p netip.Prefix) bool {
		t.Helper()
		ok, err := m.Has(p)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if err := h.Acquire(ctx); err != nil {
		t.Fatal(err)
	}

	// Renew on 100 ms ticks for 1.5 s; halfway, someone deletes a VIP.
	v4 := inst.VIPs[0]
	start := time.Now()
	last := start
	deleted := false
	for time.Since(start) < 1500*time.Millisecond {
		time.Sleep(100 * time.Millisecond)
		if gap := time.Since(last); gap > 500*time.Millisecond {
			t.Skipf("the test was descheduled for %s between renewals; the lifetime is 1s", gap)
		}
		if err := h.Renew(ctx); err != nil {
			t.Fatalf("Renew after %s: %v", time.Since(start), err)
		}
		last = time.Now()
		if !deleted && time.Since(start) > 700*time.Millisecond {
			deleted = true
			l, err := ns.Handle().LinkByName("a")
			if err != nil {
				t.Fatal(err)
			}
			addr := &netlink.Addr{IPNet: &net.IPNet{IP: v4.Addr().AsSlice(), Mask: net.CIDRMask(32, 32)}}
			if err := ns.Handle().AddrDel(l, addr); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, p := range inst.VIPs {
		if !has(p) {
			t.Fatalf("%s not on the interface while renewed", p)
		}
	}
	if !strings.Contains(logs.String(), "added it back") {
		t.Errorf("the VIP deleted behind the holder's back was not added back:\n%s", logs)
	}

	// No more renewals: the kernel removes both, the watch tells the
	// holder, which adds nothing back.
	deadline := last.Add(2500 * time.Millisecond)
	for has(inst.VIPs[0]) || has(inst.VIPs[1]) {
		if time.Now().After(deadline) {
			t.Fatalf("VIPs still on the interface 2.5s after the last renewal")
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("VIPs gone %s after the last Renew call", time.Since(last).Round(time.Millisecond))
	time.Sleep(300 * time.Millisecond) // the watch's events, and any re-add, have come
	for _, p := range inst.VIPs {
		if has(p) {
			t.Errorf("%s put back after its lifetime ran out", p)
		}
	}
	if n := strings.Count(logs.String(), "VIP lifetime ran out without renewal; not adding it back"); n != 1 {
		t.Errorf("expiry logged %d times, want once:\n%s", n, logs)
	}
	if err := h.Renew(ctx); !errors.Is(err, errVIPsExpired) {
		t.Errorf("Renew: %v, want errVIPsExpired", err)
	}
	if err := h.Release(ctx); err != nil {
		t.Errorf("Release: %v", err)
	}
	if strings.Contains(logs.String(), `msg="VIPs removed"`) {
		t.Errorf("\"VIPs removed\" after releasing VIPs the kernel had removed:\n%s", logs)
	}
}

// TestHolderRemoveStaleOnKernel: at start-up, on a real interface, the
// kernel's lifetimes tell the host's own addresses from VIPs an earlier
// run left: the host's primary address (permanent) and a DHCP lease's
// stay although they equal VIPs with a prefix; a VIP with a prefix that
// lives as havip adds it, and a host address, go.
func TestHolderRemoveStaleOnKernel(t *testing.T) {
	ns := nstest.New(t)
	a, _ := ns.Veth(t, "a", "b")
	add := func(cidr string, lifetime int) netip.Prefix {
		t.Helper()
		ad, err := netlink.ParseAddr(cidr)
		if err != nil {
			t.Fatal(err)
		}
		ad.ValidLft, ad.PreferedLft = lifetime, lifetime
		if err := ns.Handle().AddrReplace(a, ad); err != nil {
			t.Fatalf("adding %s: %v", cidr, err)
		}
		return netip.MustParsePrefix(cidr)
	}
	primary := add("192.0.2.2/24", 0)
	leased := add("192.0.2.3/24", 86400)
	left := add("192.0.2.60/24", 5)
	host := add("192.0.2.22/32", 0)

	err := ns.Do(func() error {
		// The daemon's managers act in the process's namespace; here
		// that of this thread.
		m := vip.New("a")
		defer m.Close()
		inst := config.Instance{Name: "web", Interface: "a", VIPs: []netip.Prefix{primary, leased, left, host}}
		h := newHolder(inst, m, 5*time.Second, slog.New(slog.DiscardHandler))
		if err := h.removeStale(); err != nil {
			return err
		}
		have, err := m.List()
		if err != nil {
			return err
		}
		for _, p := range []netip.Prefix{primary, leased} {
			if !slices.Contains(have, p) {
				t.Errorf("the host's own %s was removed: %v left", p, have)
			}
		}
		for _, p := range []netip.Prefix{left, host} {
			if slices.Contains(have, p) {
				t.Errorf("the stale VIP %s was not removed: %v left", p, have)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
