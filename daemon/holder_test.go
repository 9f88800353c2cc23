package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/havip/havip/config"
	"github.com/havip/havip/vip"
)

type fakeAddrs struct {
	mu    sync.Mutex
	have  []netip.Prefix
	calls []string
	fail  error
	// failRemove makes Remove of a VIP fail, leaving it in place.
	failRemove map[netip.Prefix]error
	// failList makes List fail.
	failList error
	// onRenew, if set, runs at each Renew (a test's clock moves on).
	onRenew func()
}

func (f *fakeAddrs) Name() string { return "eth0" }

// call records a call, with the lifetime when there is one and the
// number of options (a label) when there are some.
func (f *fakeAddrs) call(verb string, p netip.Prefix, lifetime time.Duration, opts []vip.AddrOption) {
	c := verb + " " + p.String()
	if lifetime > 0 {
		c += " for " + lifetime.String()
	}
	if len(opts) > 0 {
		c += fmt.Sprintf(" with %d options", len(opts))
	}
	f.calls = append(f.calls, c)
}

func (f *fakeAddrs) AddFor(p netip.Prefix, lifetime time.Duration, opts ...vip.AddrOption) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.call("add", p, lifetime, opts)
	if f.fail != nil {
		return f.fail
	}
	if !slices.Contains(f.have, p) {
		f.have = append(f.have, p)
	}
	return nil
}

// Renew puts back an address that is gone, as the kernel's replace does.
func (f *fakeAddrs) Renew(p netip.Prefix, lifetime time.Duration, opts ...vip.AddrOption) error {
	f.mu.Lock()
	f.call("renew", p, lifetime, opts)
	if !slices.Contains(f.have, p) {
		f.have = append(f.have, p)
	}
	hook := f.onRenew
	f.mu.Unlock()
	if hook != nil {
		hook()
	}
	return nil
}

// Remove of an address that is not there is not an error, as with
// vip.Manager.
func (f *fakeAddrs) Remove(p netip.Prefix) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "remove "+p.String())
	if err := f.failRemove[p]; err != nil {
		return err
	}
	f.have = slices.DeleteFunc(f.have, func(q netip.Prefix) bool { return q == p })
	return nil
}

func (f *fakeAddrs) List() ([]netip.Prefix, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failList != nil {
		return nil, f.failList
	}
	return slices.Clone(f.have), nil
}

// drop removes an address behind the holder's back (the kernel's
// expiry, or someone else).
func (f *fakeAddrs) drop(p netip.Prefix) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.have = slices.DeleteFunc(f.have, func(q netip.Prefix) bool { return q == p })
}

func (f *fakeAddrs) takeCalls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	f.calls = nil
	return c
}

func (f *fakeAddrs) snapshot() ([]netip.Prefix, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.have), slices.Clone(f.calls)
}

type fakeAnnouncer struct {
	mu     sync.Mutex
	rounds int
	closed bool
}

func (a *fakeAnnouncer) Announce(netip.Addr) error {
	a.mu.Lock()
	a.rounds++
	a.mu.Unlock()
	return nil
}

func (a *fakeAnnouncer) Burst(ctx context.Context, addrs []netip.Addr, count int, interval time.Duration) (int, error) {
	sent := 0
	for i := 0; i < count; i++ {
		if i > 0 {
			select {
			case <-ctx.Done():
				return sent, ctx.Err()
			case <-time.After(interval):
			}
		}
		for _, v := range addrs {
			a.Announce(v)
			sent++
		}
	}
	return sent, nil
}

func (a *fakeAnnouncer) Close() error {
	a.mu.Lock()
	a.closed = true
	a.mu.Unlock()
	return nil
}

func (a *fakeAnnouncer) get() (int, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.rounds, a.closed
}

func testHolder(refresh time.Duration) (*holder, *fakeAddrs, *fakeAnnouncer) {
	inst := config.Instance{
		Name: "web", Interface: "eth0",
		VIPs:     []netip.Prefix{netip.MustParsePrefix("198.18.0.100/32"), netip.MustParsePrefix("fd00::100/128")},
		Announce: config.Announce{Count: 3, Interval: 5 * time.Millisecond, Refresh: refresh},
	}
	ip := &fakeAddrs{}
	ann := &fakeAnnouncer{}
	h := newHolder(inst, ip, 0, slog.New(slog.DiscardHandler))
	h.open = func(string, *slog.Logger) (announcer, error) { return ann, nil }
	return h, ip, ann
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestHolderAcquireRelease(t *testing.T) {
	h, ip, ann := testHolder(0)
	ctx := context.Background()
	if err := h.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	have, _ := ip.snapshot()
	if diff := cmp.Diff(h.inst.VIPs, have, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("VIPs after Acquire (-want +got):\n%s", diff)
	}
	// 3 rounds of 2 VIPs.
	eventually(t, "the burst", func() bool { n, _ := ann.get(); return n == 6 })
	if got := h.sent.Load(); got != 6 {
		t.Errorf("sent = %d, want 6", got)
	}
	if err := h.Release(ctx); err != nil {
		t.Fatal(err)
	}
	have, calls := ip.snapshot()
	if len(have) != 0 {
		t.Errorf("VIPs left after Release: %v", have)
	}
	want := []string{"add 198.18.0.100/32", "add fd00::100/128", "remove 198.18.0.100/32", "remove fd00::100/128"}
	if diff := cmp.Diff(want, calls); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

func TestHolderRefreshStopsOnRelease(t *testing.T) {
	h, _, ann := testHolder(10 * time.Millisecond)
	if err := h.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "refresh announcements", func() bool { n, _ := ann.get(); return n >= 10 })
	if err := h.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	n1, _ := ann.get()
	time.Sleep(50 * time.Millisecond)
	if n2, _ := ann.get(); n2 != n1 {
		t.Errorf("announcements went on after Release: %d then %d", n1, n2)
	}
	h.close()
	if _, closed := ann.get(); !closed {
		t.Error("announcer not closed by close")
	}
}

func TestHolderAcquireError(t *testing.T) {
	h, ip, _ := testHolder(0)
	ip.fail = errors.New("boom")
	if err := h.Acquire(context.Background()); err == nil {
		t.Fatal("Acquire succeeded with a failing interface")
	}
	if h.isMaster() {
		t.Error("holder claims master after a failed Acquire")
	}
}

func TestHolderEnsureReaddsOnlyWhileMaster(t *testing.T) {
	h, ip, ann := testHolder(0)
	v4 := h.inst.VIPs[0]
	if got := h.ensure("eth0", map[netip.Prefix]bool{}); len(got) != 0 {
		t.Fatalf("backup re-added %v", got)
	}
	if err := h.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the first burst", func() bool { n, _ := ann.get(); return n == 6 })
	ip.Remove(v4) // someone else deletes it
	got := h.ensure("eth0", map[netip.Prefix]bool{h.inst.VIPs[1]: true})
	if diff := cmp.Diff([]netip.Prefix{v4}, got, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("re-added (-want +got):\n%s", diff)
	}
	if have, _ := ip.snapshot(); !slices.Contains(have, v4) {
		t.Error("VIP not back on the interface")
	}
	eventually(t, "a new burst", func() bool { n, _ := ann.get(); return n == 12 })
}

func TestHolderRemoveStale(t *testing.T) {
	h, ip, _ := testHolder(0)
	other := netip.MustParsePrefix("198.18.0.10/24")
	ip.have = []netip.Prefix{other, h.inst.VIPs[1]}
	if err := h.removeStale(); err != nil {
		t.Fatal(err)
	}
	have, _ := ip.snapshot()
	if len(have) != 1 || have[0] != other {
		t.Errorf("after removeStale: %v, want only %v", have, other)
	}
}

type namedAddrs struct {
	*fakeAddrs
	name string
}

func (n namedAddrs) Name() string { return n.name }

func TestHolderUpdate(t *testing.T) {
	h, ip, ann := testHolder(0)
	v4, v6 := h.inst.VIPs[0], h.inst.VIPs[1]
	extra := netip.MustParsePrefix("198.18.0.101/32")

	// A backup only takes the new configuration.
	next := h.inst
	next.VIPs = []netip.Prefix{v4}
	if err := h.update(next, ip); err != nil {
		t.Fatal(err)
	}
	if _, calls := ip.snapshot(); len(calls) != 0 {
		t.Fatalf("a backup touched the interface: %v", calls)
	}

	if err := h.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the first burst", func() bool { n, _ := ann.get(); return n == 3 })

	// Priority only: nothing on the wire.
	next.Priority = 42
	if err := h.update(next, ip); err != nil {
		t.Fatal(err)
	}
	// v6 and extra added, v4 kept: only the two new ones are announced.
	next.VIPs = []netip.Prefix{v4, v6, extra}
	if err := h.update(next, ip); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a burst of the new VIPs", func() bool { n, _ := ann.get(); return n == 3+2*3 })
	have, calls := ip.snapshot()
	if diff := cmp.Diff([]string{"add 198.18.0.100/32", "add fd00::100/128", "add 198.18.0.101/32"}, calls); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	if len(have) != 3 {
		t.Errorf("interface has %v", have)
	}

	// v4 dropped: removed, nothing announced.
	next.VIPs = []netip.Prefix{v6, extra}
	if err := h.update(next, ip); err != nil {
		t.Fatal(err)
	}
	if have, _ := ip.snapshot(); slices.Contains(have, v4) {
		t.Error("dropped VIP still on the interface")
	}
	time.Sleep(50 * time.Millisecond)
	if n, _ := ann.get(); n != 9 {
		t.Errorf("%d announcements after dropping a VIP, want 9", n)
	}

	// Another interface: everything moves and is announced.
	other := namedAddrs{&fakeAddrs{}, "eth1"}
	next.Interface = "eth1"
	if err := h.update(next, other); err != nil {
		t.Fatal(err)
	}
	if have, _ := ip.snapshot(); len(have) != 0 {
		t.Errorf("old interface still has %v", have)
	}
	if have, _ := other.snapshot(); len(have) != 2 {
		t.Errorf("new interface has %v, want 2 VIPs", have)
	}
	eventually(t, "a burst on the new interface", func() bool { n, _ := ann.get(); return n == 9+2*3 })
}

// lifetimeAddrs is a fakeAddrs that tells its addresses' lifetimes, as
// the kernel does: permanentLifetime unless lifetimes says otherwise.
type lifetimeAddrs struct {
	*fakeAddrs
	lifetimes map[netip.Prefix]time.Duration
}

func (l lifetimeAddrs) Lifetimes() (map[netip.Prefix]time.Duration, error) {
	have, _ := l.snapshot()
	out := map[netip.Prefix]time.Duration{}
	for _, p := range have {
		out[p] = permanentLifetime
		if left, ok := l.lifetimes[p]; ok {
			out[p] = left
		}
	}
	return out, nil
}

// TestHolderRemoveStaleKeepsHostsOwn: at start-up, an address equal to
// a VIP with a prefix stays when it is the host's own — it outlives what
// havip adds its VIPs for (permanent, a DHCP lease) — and goes when it
// lives as havip adds it. With address_lifetime 0 havip's own are
// permanent: then only one with a lifetime is the host's. A host
// address (/32) is havip's either way.
func TestHolderRemoveStaleKeepsHostsOwn(t *testing.T) {
	primary := netip.MustParsePrefix("192.0.2.2/24") // permanent
	leased := netip.MustParsePrefix("192.0.2.3/24")  // a DHCP lease
	left := netip.MustParsePrefix("192.0.2.60/24")   // as havip adds it
	host := netip.MustParsePrefix("192.0.2.22/32")   // permanent
	tests := []struct {
		lifetime time.Duration
		want     []netip.Prefix
	}{
		{time.Second, []netip.Prefix{primary, leased}},
		{0, []netip.Prefix{leased, left}},
	}
	for _, tt := range tests {
		t.Run(tt.lifetime.String(), func(t *testing.T) {
			ip := &fakeAddrs{have: []netip.Prefix{primary, leased, left, host}}
			la := lifetimeAddrs{ip, map[netip.Prefix]time.Duration{leased: 86390 * time.Second, left: time.Second}}
			inst := config.Instance{Name: "web", Interface: "eth0", VIPs: []netip.Prefix{primary, leased, left, host}}
			var logs syncBuffer
			h := newHolder(inst, la, tt.lifetime, slog.New(slog.NewTextHandler(&logs, nil)))
			if err := h.removeStale(); err != nil {
				t.Fatal(err)
			}
			have, _ := ip.snapshot()
			if diff := cmp.Diff(tt.want, have, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
				t.Errorf("left on the interface (-want +got):\n%s", diff)
			}
			kept := `msg="not removing an address equal to a VIP: it is the host's own, not one havip added" instance=web vip=` + tt.want[0].String() + " interface=eth0"
			if !strings.Contains(logs.String(), kept) {
				t.Errorf("the kept address is not logged as %q:\n%s", kept, logs.String())
			}
		})
	}
}

// TestHolderReleaseKeepsHostsOwn: a release after a failed Acquire
// leaves an address equal to a VIP it did not add alone when it is the
// host's own; a VIP this holder added it removes, whatever it looks
// like.
func TestHolderReleaseKeepsHostsOwn(t *testing.T) {
	v4 := netip.MustParsePrefix("198.18.0.100/32")
	primary := netip.MustParsePrefix("192.0.2.2/24")
	ip := &fakeAddrs{have: []netip.Prefix{primary}, fail: errors.New("file exists")}
	la := lifetimeAddrs{ip, nil}
	inst := config.Instance{Name: "web", Interface: "eth0", VIPs: []netip.Prefix{v4, primary}, Announce: config.Announce{Count: 1, Interval: time.Millisecond}}
	h := newHolder(inst, la, time.Second, slog.New(slog.DiscardHandler))
	h.open = func(string, *slog.Logger) (announcer, error) { return &fakeAnnouncer{}, nil }
	t.Cleanup(h.close)
	ctx := context.Background()
	if err := h.Acquire(ctx); err == nil {
		t.Fatal("Acquire succeeded")
	}
	if err := h.Release(ctx); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if have, _ := ip.snapshot(); !slices.Equal(have, []netip.Prefix{primary}) {
		t.Errorf("after the release of a failed Acquire: %v, want %v left", have, primary)
	}

	// Added by this holder, it is havip's VIP and goes.
	ip.fail = nil
	if err := h.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	if err := h.Release(ctx); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if have, _ := ip.snapshot(); len(have) != 0 {
		t.Errorf("after releasing what it added: %v, want nothing", have)
	}
}
