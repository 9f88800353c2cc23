package daemon

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/havip/havip/config"
	"github.com/havip/havip/election"
)

// fakeClock is a holder's clock that moves only when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// lifetimeHolder is testHolder with VIPs added for 1 s, a fake clock and
// the log in logs.
func lifetimeHolder(refresh time.Duration) (*holder, *fakeAddrs, *fakeAnnouncer, *fakeClock, *syncBuffer) {
	h, ip, ann := testHolder(refresh)
	clk := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	logs := &syncBuffer{}
	h.lifetime = time.Second
	h.now = clk.now
	h.log = slog.New(slog.NewTextHandler(logs, nil)).With("instance", h.inst.Name)
	return h, ip, ann, clk, logs
}

// syncBuffer is a log destination safe for the holder's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Acquire adds every VIP with the lifetime; Renew renews each of them
// once half of it has passed, and not before.
func TestHolderRenew(t *testing.T) {
	h, ip, _, clk, _ := lifetimeHolder(0)
	ctx := context.Background()
	if err := h.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	want := []string{"add 198.18.0.100/32 for 1s", "add fd00::100/128 for 1s"}
	if diff := cmp.Diff(want, ip.takeCalls()); diff != "" {
		t.Errorf("Acquire's calls (-want +got):\n%s", diff)
	}
	renewed := []string{"renew 198.18.0.100/32 for 1s", "renew fd00::100/128 for 1s"}
	steps := []struct {
		name    string
		advance time.Duration
		want    []string
	}{
		{"at once", 0, nil},
		{"more than half left", 490 * time.Millisecond, nil},
		{"due", 20 * time.Millisecond, renewed},
		{"just renewed", 0, nil},
		{"not due again", 490 * time.Millisecond, nil},
		{"due again", 10 * time.Millisecond, renewed},
		// Late (a slow tick), but within the lifetime: renewed.
		{"late", 900 * time.Millisecond, renewed},
	}
	for _, s := range steps {
		clk.advance(s.advance)
		if err := h.Renew(ctx); err != nil {
			t.Fatalf("%s: Renew: %v", s.name, err)
		}
		if diff := cmp.Diff(s.want, ip.takeCalls()); diff != "" {
			t.Errorf("%s: calls (-want +got):\n%s", s.name, diff)
		}
	}
}

// Renew must not wait for h.mu when nothing is due: ensure or a reload
// may hold it across system calls, and the election calls Renew on
// every heartbeat.
func TestHolderRenewNotDueDoesNotWait(t *testing.T) {
	h, _, _, clk, _ := lifetimeHolder(0)
	if err := h.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	clk.advance(100 * time.Millisecond)
	h.mu.Lock()
	defer h.mu.Unlock()
	done := make(chan error, 1)
	go func() { done <- h.Renew(context.Background()) }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Renew: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Renew waited for the holder's lock with nothing due")
	}
}

// With a lifetime of 0 the VIPs are permanent and Renew does nothing.
func TestHolderRenewPermanent(t *testing.T) {
	h, ip, _, clk, _ := lifetimeHolder(0)
	h.lifetime = 0
	if err := h.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	clk.advance(time.Hour)
	if err := h.Renew(context.Background()); err != nil {
		t.Errorf("Renew: %v", err)
	}
	want := []string{"add 198.18.0.100/32", "add fd00::100/128"}
	if diff := cmp.Diff(want, ip.takeCalls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	// A VIP someone removes is added back, permanently, however late.
	ip.drop(h.inst.VIPs[0])
	if got := h.ensure("eth0", map[netip.Prefix]bool{h.inst.VIPs[1]: true}); len(got) != 1 {
		t.Errorf("ensure re-added %v, want the removed VIP", got)
	}
}

// A renewal that comes after the lifetime ran out (the daemon was
// frozen) adds nothing back and reports the VIPs expired; ensure then
// leaves the kernel's removal alone and says so once; the refresh
// announcements stop.
func TestHolderRenewAfterExpiry(t *testing.T) {
	h, ip, ann, clk, logs := lifetimeHolder(5 * time.Millisecond)
	ctx := context.Background()
	if err := h.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, "refresh announcements", func() bool { n, _ := ann.get(); return n >= 3*2+4 })
	ip.takeCalls()

	clk.advance(2 * time.Second)
	// The kernel removed the VIPs.
	for _, p := range h.inst.VIPs {
		ip.drop(p)
	}
	err := h.Renew(ctx)
	if !errors.Is(err, errVIPsExpired) || !errors.Is(err, election.ErrLost) {
		t.Fatalf("Renew: %v, want errVIPsExpired wrapping election.ErrLost", err)
	}
	if want := "VIPs expired: VIPs lost: 198.18.0.100/32,fd00::100/128 on eth0 last renewed 2s ago, longer than their lifetime of 1s"; err.Error() != want {
		t.Errorf("Renew: %q, want %q", err, want)
	}
	for range 2 {
		if got := h.ensure("eth0", map[netip.Prefix]bool{}); len(got) != 0 {
			t.Errorf("ensure added %v back after the lifetime ran out", got)
		}
	}
	h.Reannounce()
	if err := h.Renew(ctx); !errors.Is(err, errVIPsExpired) {
		t.Errorf("Renew again: %v, want errVIPsExpired", err)
	}
	if calls := ip.takeCalls(); len(calls) != 0 {
		t.Errorf("calls after the lifetime ran out: %v", calls)
	}
	if have, _ := ip.snapshot(); len(have) != 0 {
		t.Errorf("VIPs back on the interface: %v", have)
	}
	n1, _ := ann.get()
	time.Sleep(50 * time.Millisecond)
	if n2, _ := ann.get(); n2 != n1 {
		t.Errorf("announcements went on after the lifetime ran out: %d then %d", n1, n2)
	}
	if n := strings.Count(logs.String(), "VIP lifetime ran out without renewal; not adding it back"); n != 1 {
		t.Errorf("the expiry was logged %d times, want once:\n%s", n, logs)
	}
	if !strings.Contains(logs.String(), "level=WARN msg=\"VIP lifetime ran out") {
		t.Errorf("the expiry is not a warning:\n%s", logs)
	}

	// Release still succeeds (nothing to remove), and a new Acquire
	// starts afresh.
	if err := h.Release(ctx); err != nil {
		t.Errorf("Release: %v", err)
	}
	if err := h.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	clk.advance(400 * time.Millisecond)
	if err := h.Renew(ctx); err != nil {
		t.Errorf("Renew after a new Acquire: %v", err)
	}
}

// A renewal that returns only after the lifetime ran out (the daemon was
// descheduled during the call) may have put back an address the kernel
// had removed: the holder takes the VIPs off again.
func TestHolderRenewReturnsTooLate(t *testing.T) {
	h, ip, _, clk, _ := lifetimeHolder(0)
	ctx := context.Background()
	if err := h.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	clk.advance(900 * time.Millisecond) // due, 50 ms left
	ip.takeCalls()
	ip.onRenew = func() { clk.advance(100 * time.Millisecond) }
	if err := h.Renew(ctx); !errors.Is(err, errVIPsExpired) {
		t.Fatalf("Renew: %v, want errVIPsExpired", err)
	}
	if have, _ := ip.snapshot(); len(have) != 0 {
		t.Errorf("VIPs left on the interface: %v", have)
	}
	want := []string{"renew 198.18.0.100/32 for 1s", "renew fd00::100/128 for 1s", "remove 198.18.0.100/32", "remove fd00::100/128"}
	if diff := cmp.Diff(want, ip.takeCalls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

// Before the lifetime runs out, a VIP someone removed is added back,
// with the lifetime; the deadline stays that of the VIPs not touched.
func TestHolderEnsureUsesLifetime(t *testing.T) {
	h, ip, _, clk, _ := lifetimeHolder(0)
	if err := h.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	v4 := h.inst.VIPs[0]
	clk.advance(500 * time.Millisecond)
	ip.drop(v4)
	ip.takeCalls()
	if got := h.ensure("eth0", map[netip.Prefix]bool{h.inst.VIPs[1]: true}); !slices.Equal(got, []netip.Prefix{v4}) {
		t.Errorf("ensure re-added %v, want %v", got, v4)
	}
	if diff := cmp.Diff([]string{"add 198.18.0.100/32 for 1s"}, ip.takeCalls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	clk.advance(500 * time.Millisecond) // past the first add's lifetime
	if err := h.Renew(context.Background()); !errors.Is(err, errVIPsExpired) {
		t.Errorf("Renew: %v, want errVIPsExpired", err)
	}
}

// Release tries every VIP; one that stays on the interface is named in
// the error and logged at ERROR, and "VIPs removed" is not logged.
func TestHolderReleaseFailingRemove(t *testing.T) {
	h, ip, _, _, logs := lifetimeHolder(0)
	if err := h.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	v4, v6 := h.inst.VIPs[0], h.inst.VIPs[1]
	ip.failRemove = map[netip.Prefix]error{v4: errors.New("removing 198.18.0.100/32 from eth0: operation not permitted")}
	err := h.Release(context.Background())
	if err == nil {
		t.Fatal("Release succeeded with a VIP left on the interface")
	}
	if want := "VIPs 198.18.0.100/32 still on eth0: removing 198.18.0.100/32 from eth0: operation not permitted"; err.Error() != want {
		t.Errorf("Release: %q, want %q", err, want)
	}
	if have, _ := ip.snapshot(); !slices.Equal(have, []netip.Prefix{v4}) {
		t.Errorf("after Release the interface has %v, want only %v (%v removed)", have, v4, v6)
	}
	if strings.Contains(logs.String(), "VIPs removed") {
		t.Errorf("\"VIPs removed\" logged with a VIP left:\n%s", logs)
	}
	if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "vip=198.18.0.100/32") {
		t.Errorf("no ERROR naming the VIP left:\n%s", logs)
	}
	if h.isMaster() {
		t.Error("holder still master after Release")
	}

	// When the addresses cannot even be listed, a failed removal counts
	// as a VIP left.
	ip.failList = errors.New("netlink: no buffer space")
	if err := h.Release(context.Background()); err == nil || !strings.Contains(err.Error(), "198.18.0.100/32") {
		t.Errorf("Release with List failing: %v, want an error naming 198.18.0.100/32", err)
	}
}

// leftGone tells the address watch when the VIPs a failed Release left
// behind are all gone, and only then.
func TestHolderLeftGone(t *testing.T) {
	h, ip, _, _, _ := lifetimeHolder(0)
	if err := h.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	v4, v6 := h.inst.VIPs[0], h.inst.VIPs[1]
	if h.leftGone("eth0", map[netip.Prefix]bool{}) {
		t.Error("leftGone while master")
	}
	ip.failRemove = map[netip.Prefix]error{v4: errors.New("operation not permitted")}
	if err := h.Release(context.Background()); err == nil {
		t.Fatal("Release succeeded with a VIP left on the interface")
	}
	if h.leftGone("eth0", map[netip.Prefix]bool{v4: true}) {
		t.Errorf("leftGone with %v still there", v4)
	}
	if !h.leftGone("eth0", map[netip.Prefix]bool{netip.MustParsePrefix("198.18.0.1/24"): true}) {
		t.Errorf("not leftGone once %v left (and %v was removed)", v4, v6)
	}
	ip.failRemove = nil
	if err := h.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	if h.leftGone("eth0", map[netip.Prefix]bool{}) {
		t.Error("leftGone after a Release that worked")
	}
}

// A VIP already gone counts as removed: whether Remove says nothing (the
// address was not there) or fails while the address is gone anyway.
// "VIPs removed" is logged only when a VIP was taken off, and names
// those.
func TestHolderReleaseMissingCountsAsRemoved(t *testing.T) {
	h, ip, _, _, logs := lifetimeHolder(0)
	ctx := context.Background()
	if err := h.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	v4, v6 := h.inst.VIPs[0], h.inst.VIPs[1]
	ip.drop(v4) // expired
	ip.drop(v6)
	ip.failRemove = map[netip.Prefix]error{v6: errors.New("removing fd00::100/128 from eth0: cannot assign requested address")}
	if err := h.Release(ctx); err != nil {
		t.Errorf("Release: %v", err)
	}
	if strings.Contains(logs.String(), "VIPs removed") {
		t.Errorf("\"VIPs removed\" logged with nothing on the interface:\n%s", logs)
	}

	// One of them there: it is the one named.
	ip.failRemove = nil
	if err := h.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	ip.drop(v6)
	if err := h.Release(ctx); err != nil {
		t.Errorf("Release: %v", err)
	}
	if n := strings.Count(logs.String(), `msg="VIPs removed" instance=web vip=198.18.0.100/32 interface=eth0`); n != 1 {
		t.Errorf("\"VIPs removed\" naming %s logged %d times, want once:\n%s", v4, n, logs)
	}
}

// A reload that adds VIPs adds them with the lifetime, unless the
// lifetime has run out.
func TestHolderUpdateUsesLifetime(t *testing.T) {
	h, ip, _, clk, _ := lifetimeHolder(0)
	if err := h.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	ip.takeCalls()
	extra := netip.MustParsePrefix("198.18.0.101/32")
	next := h.inst
	next.VIPs = append(slices.Clone(h.inst.VIPs), extra)
	if err := h.update(next, ip); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"add 198.18.0.101/32 for 1s"}, ip.takeCalls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}

	clk.advance(2 * time.Second)
	later := netip.MustParsePrefix("198.18.0.102/32")
	next.VIPs = append(slices.Clone(next.VIPs), later)
	if err := h.update(next, ip); err != nil {
		t.Fatal(err)
	}
	if calls := ip.takeCalls(); len(calls) != 0 {
		t.Errorf("update after the lifetime ran out: %v", calls)
	}
}

// The lifetime is part of cluster.timing, which needs a restart: a
// reload keeps the running value and says so.
func TestAddressLifetimeNeedsRestart(t *testing.T) {
	old := &config.Config{Cluster: config.Cluster{Timing: config.Timing{Profile: "default", AddressLifetime: time.Second}}}
	next := &config.Config{Cluster: config.Cluster{Timing: config.Timing{Profile: "default"}}}
	if diff := cmp.Diff([]string{"cluster.timing"}, Compare(old, next).NeedRestart); diff != "" {
		t.Errorf("NeedRestart (-want +got):\n%s", diff)
	}
	if got := keepRestartOnly(old, next).Cluster.Timing.AddressLifetime; got != time.Second {
		t.Errorf("after the reload the lifetime is %s, want the running 1s", got)
	}
}

// BenchmarkHolderRenewNotDue measures the call the election makes on
// every heartbeat while nothing is due.
func BenchmarkHolderRenewNotDue(b *testing.B) {
	h, _, _, _, _ := lifetimeHolder(0)
	h.now = time.Now
	if err := h.Acquire(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(h.close)
	for b.Loop() {
		if err := h.Renew(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}
