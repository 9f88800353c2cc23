package daemon

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/havip/havip/config"
)

// A holder whose VIPs are on two interfaces: 198.18.0.100/32 on the
// instance's eth0, 198.18.1.100/24 on eth1 with a label.

var (
	onEth0 = netip.MustParsePrefix("198.18.0.100/32")
	onEth1 = netip.MustParsePrefix("198.18.1.100/24")
)

// ifAnnouncers hands out one fake announcer per interface.
type ifAnnouncers struct {
	mu   sync.Mutex
	anns map[string]*fakeAnnouncer
}

func (a *ifAnnouncers) open(ifname string, _ *slog.Logger) (announcer, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.anns[ifname] == nil {
		a.anns[ifname] = &fakeAnnouncer{}
	}
	return a.anns[ifname], nil
}

func (a *ifAnnouncers) rounds(ifname string) int {
	a.mu.Lock()
	ann := a.anns[ifname]
	a.mu.Unlock()
	if ann == nil {
		return 0
	}
	n, _ := ann.get()
	return n
}

func placesHolder(t *testing.T) (*holder, *fakeAddrs, namedAddrs, *ifAnnouncers) {
	t.Helper()
	inst := config.Instance{
		Name: "web", Interface: "eth0",
		VIPs:     []netip.Prefix{onEth0, onEth1},
		Places:   map[netip.Prefix]config.VIPPlace{onEth1: {Interface: "eth1", Label: "eth1:web"}},
		Announce: config.Announce{Count: 2, Interval: time.Millisecond},
	}
	eth0, eth1 := &fakeAddrs{}, namedAddrs{&fakeAddrs{}, "eth1"}
	anns := &ifAnnouncers{anns: map[string]*fakeAnnouncer{}}
	h := newHolder(inst, eth0, time.Second, slog.New(slog.DiscardHandler))
	h.setLinks(func(ifname string) addrs {
		if ifname != "eth1" {
			t.Errorf("holder asked for the manager of %s", ifname)
		}
		return eth1
	})
	h.open = anns.open
	t.Cleanup(h.close)
	return h, eth0, eth1, anns
}

// TestHolderPlaces adds, renews, announces, restores and removes each VIP
// on its own interface, with its label.
func TestHolderPlaces(t *testing.T) {
	h, eth0, eth1, anns := placesHolder(t)
	clk := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	h.now = clk.now
	ctx := context.Background()
	if err := h.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"add 198.18.0.100/32 for 1s"}, eth0.takeCalls()); diff != "" {
		t.Errorf("eth0 (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"add 198.18.1.100/24 for 1s with 1 options"}, eth1.takeCalls()); diff != "" {
		t.Errorf("eth1 (-want +got):\n%s", diff)
	}
	// Each interface announces its own VIP: 2 rounds of 1.
	eventually(t, "a burst on each interface", func() bool { return anns.rounds("eth0") == 2 && anns.rounds("eth1") == 2 })

	clk.advance(600 * time.Millisecond)
	if err := h.Renew(ctx); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"renew 198.18.1.100/24 for 1s with 1 options"}, eth1.takeCalls()); diff != "" {
		t.Errorf("eth1 renewal (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"renew 198.18.0.100/32 for 1s"}, eth0.takeCalls()); diff != "" {
		t.Errorf("eth0 renewal (-want +got):\n%s", diff)
	}

	// eth0's watch sees eth0's addresses only: eth1's VIP is not
	// missing there.
	if got := h.ensure("eth0", map[netip.Prefix]bool{onEth0: true}); len(got) != 0 {
		t.Errorf("ensure on eth0 re-added %v", got)
	}
	eth1.drop(onEth1)
	if got := h.ensure("eth1", map[netip.Prefix]bool{}); !slices.Equal(got, []netip.Prefix{onEth1}) {
		t.Errorf("ensure on eth1 re-added %v, want %v", got, onEth1)
	}
	if diff := cmp.Diff([]string{"add 198.18.1.100/24 for 1s with 1 options"}, eth1.takeCalls()); diff != "" {
		t.Errorf("eth1 restore (-want +got):\n%s", diff)
	}
	if len(eth0.takeCalls()) != 0 {
		t.Error("restoring eth1's VIP touched eth0")
	}

	if err := h.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if have, _ := eth0.snapshot(); len(have) != 0 {
		t.Errorf("eth0 still has %v", have)
	}
	if have, _ := eth1.snapshot(); len(have) != 0 {
		t.Errorf("eth1 still has %v", have)
	}
}

// TestHolderPlacesFailedRelease: a VIP left on eth1 by a failed removal
// keeps the release failed until it is gone from eth1, whichever
// interface's watch asks.
func TestHolderPlacesFailedRelease(t *testing.T) {
	h, eth0, eth1, _ := placesHolder(t)
	ctx := context.Background()
	if err := h.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	eth1.failRemove = map[netip.Prefix]error{onEth1: errors.New("injected")}
	if err := h.Release(ctx); err == nil {
		t.Fatal("Release succeeded with eth1's VIP left")
	}
	if h.leftGone("eth0", map[netip.Prefix]bool{}) {
		t.Error("leftGone while eth1 still has its VIP")
	}
	if h.leftGone("eth1", map[netip.Prefix]bool{onEth1: true}) {
		t.Error("leftGone from eth1's watch while it has the VIP")
	}
	eth1.drop(onEth1)
	if !h.leftGone("eth0", map[netip.Prefix]bool{}) {
		t.Error("not leftGone once the kernel removed eth1's VIP")
	}
	eth1.failRemove = nil
	if err := h.Release(ctx); err != nil {
		t.Errorf("Release again: %v", err)
	}
	if have, _ := eth0.snapshot(); len(have) != 0 {
		t.Errorf("eth0 still has %v", have)
	}
}

// TestHolderPlacesRemoveStale removes the VIPs an earlier run left on
// each interface, and only them.
func TestHolderPlacesRemoveStale(t *testing.T) {
	h, eth0, eth1, _ := placesHolder(t)
	// The host's own address, and the VIPs each on the other interface
	// (not havip's: left alone).
	own := netip.MustParsePrefix("198.18.1.1/24")
	eth0.have = []netip.Prefix{onEth0, onEth1}
	eth1.have = []netip.Prefix{own, onEth1, onEth0}
	if err := h.removeStale(); err != nil {
		t.Fatal(err)
	}
	if have, _ := eth0.snapshot(); !slices.Equal(have, []netip.Prefix{onEth1}) {
		t.Errorf("eth0 has %v, want only %v", have, onEth1)
	}
	if have, _ := eth1.snapshot(); !slices.Equal(have, []netip.Prefix{own, onEth0}) {
		t.Errorf("eth1 has %v, want %v and %v", have, own, onEth0)
	}
}

// TestHolderPlacesUpdate moves a VIP between interfaces and changes a
// label while master: each moved VIP is removed where it was and added
// and announced where it goes; the others stay.
func TestHolderPlacesUpdate(t *testing.T) {
	h, eth0, eth1, anns := placesHolder(t)
	if err := h.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the first bursts", func() bool { return anns.rounds("eth0") == 2 && anns.rounds("eth1") == 2 })
	eth0.takeCalls()
	eth1.takeCalls()

	next := h.inst
	next.Places = map[netip.Prefix]config.VIPPlace{onEth1: {Interface: "eth1", Label: "eth1:db"}}
	if err := h.update(next, eth0); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"remove 198.18.1.100/24", "add 198.18.1.100/24 for 1s with 1 options"}, eth1.takeCalls()); diff != "" {
		t.Errorf("eth1 after a new label (-want +got):\n%s", diff)
	}
	if calls := eth0.takeCalls(); len(calls) != 0 {
		t.Errorf("a new label on eth1 touched eth0: %v", calls)
	}
	eventually(t, "a burst of the relabelled VIP", func() bool { return anns.rounds("eth1") == 4 })

	next.Places = nil
	if err := h.update(next, eth0); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"remove 198.18.1.100/24"}, eth1.takeCalls()); diff != "" {
		t.Errorf("eth1 after the move (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"add 198.18.1.100/24 for 1s"}, eth0.takeCalls()); diff != "" {
		t.Errorf("eth0 after the move (-want +got):\n%s", diff)
	}
	eventually(t, "a burst of the moved VIP on eth0", func() bool { return anns.rounds("eth0") == 4 })
	if n := anns.rounds("eth1"); n != 4 {
		t.Errorf("%d announcements on eth1, want no more than 4", n)
	}
	anns.mu.Lock()
	old := anns.anns["eth1"]
	anns.mu.Unlock()
	if _, closed := old.get(); !closed {
		t.Error("the announcer of eth1, no longer used, is still open")
	}
}
