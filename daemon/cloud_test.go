package daemon

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/havip/havip/cloudbind"
	"github.com/havip/havip/config"
)

// fakeBinder is a cloud binder whose Bind blocks until released or fails
// on demand.
type fakeBinder struct {
	mu       sync.Mutex
	binds    int
	unbinds  int
	fail     error
	moved    bool
	block    chan struct{} // Bind waits on it when not nil
	inFlight bool
}

func (b *fakeBinder) Bind(ctx context.Context) (bool, error) {
	b.mu.Lock()
	b.binds++
	block, fail, moved := b.block, b.fail, b.moved
	b.moved = false
	b.inFlight = true
	b.mu.Unlock()
	defer func() { b.mu.Lock(); b.inFlight = false; b.mu.Unlock() }()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
	return moved, fail
}

func (b *fakeBinder) Check(context.Context) (bool, error) { return true, nil }

func (b *fakeBinder) Unbind(context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.unbinds++
	return nil
}

func (b *fakeBinder) counts() (int, int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.binds, b.unbinds
}

type fakeProvider struct{ b *fakeBinder }

func (p fakeProvider) Name() string                            { return config.ProviderHuaweiCloud }
func (p fakeProvider) Mode() string                            { return config.ModeExclusive }
func (p fakeProvider) Binder(config.Instance) cloudbind.Binder { return p.b }
func (p fakeProvider) Calls() int64                            { return 0 }

func cloudHolder(t *testing.T, b *fakeBinder, interval time.Duration) (*holder, *fakeAddrs, *fakeAnnouncer) {
	h, ip, ann := testHolder(0)
	p := fakeProvider{b}
	h.cloud = newCloudRunner(p, b, interval, h.log, h.reannounce)
	t.Cleanup(func() { h.cloud.wait(5 * time.Second) })
	return h, ip, ann
}

func TestCloudNeverDelaysAcquire(t *testing.T) {
	b := &fakeBinder{block: make(chan struct{})}
	h, ip, _ := cloudHolder(t, b, time.Hour)
	start := time.Now()
	if err := h.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("Acquire took %v with a cloud call hanging", d)
	}
	if have, _ := ip.snapshot(); len(have) != 2 {
		t.Errorf("VIPs %v, want both added before the cloud answers", have)
	}
	eventually(t, "the bind call", func() bool { n, _ := b.counts(); return n == 1 })
	// Step down while the call hangs: Release returns at once, the call
	// is cancelled, and the provider's release follows it.
	start = time.Now()
	if err := h.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("Release took %v with a cloud call hanging", d)
	}
	eventually(t, "the release", func() bool { return h.cloud.status().Result == "released" })
	if _, n := b.counts(); n != 1 {
		t.Errorf("%d provider releases, want 1", n)
	}
}

func TestCloudFailureKeepsVIPs(t *testing.T) {
	b := &fakeBinder{fail: errors.New("503 Service Unavailable")}
	h, ip, _ := cloudHolder(t, b, 20*time.Millisecond)
	if err := h.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a failed bind", func() bool { return h.cloud.status().Result == "error" })
	if have, _ := ip.snapshot(); len(have) != 2 || !h.isMaster() {
		t.Errorf("VIPs %v, master %v after a cloud failure; want both kept", have, h.isMaster())
	}
	st := h.cloud.status()
	if st.Agrees != nil || st.Error == "" {
		t.Errorf("status %+v, want an error and unknown agreement", st)
	}
	// It heals: the loop tries again.
	b.mu.Lock()
	b.fail = nil
	b.mu.Unlock()
	eventually(t, "a bound result", func() bool { return h.cloud.status().Result == "bound" })
	if st := h.cloud.status(); st.Agrees == nil || !*st.Agrees || !st.Bound {
		t.Errorf("status %+v, want bound and agreeing", st)
	}
	if err := h.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestCloudMoveAnnouncesAgain(t *testing.T) {
	b := &fakeBinder{}
	h, _, ann := cloudHolder(t, b, 20*time.Millisecond)
	if err := h.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the first burst", func() bool { n, _ := ann.get(); return n == 6 })
	eventually(t, "reconcile checks", func() bool { n, _ := b.counts(); return n >= 3 })
	if n, _ := ann.get(); n != 6 {
		t.Errorf("%d announcements after checks that moved nothing, want 6", n)
	}
	// Someone changes the binding: the next check moves it back and
	// announces again.
	b.mu.Lock()
	b.moved = true
	b.mu.Unlock()
	eventually(t, "a second burst", func() bool { n, _ := ann.get(); return n == 12 })
	if st := h.cloud.status(); st.Moves != 1 {
		t.Errorf("moves %d, want 1", st.Moves)
	}
	if err := h.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	n1, _ := b.counts()
	time.Sleep(60 * time.Millisecond)
	if n2, _ := b.counts(); n2 != n1 {
		t.Errorf("bind calls went on after Release: %d then %d", n1, n2)
	}
}

func TestCloudCheckedAtOnceWhenSplitBrainHeals(t *testing.T) {
	b := &fakeBinder{}
	h, _, _ := cloudHolder(t, b, time.Hour)
	if err := h.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the first bind", func() bool { n, _ := b.counts(); return n == 1 })
	// The election saw another holder and won: the binding is checked
	// now, not an hour later.
	h.Reannounce()
	eventually(t, "a check at once", func() bool { n, _ := b.counts(); return n == 2 })
	if err := h.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestCloudChangeNeedsRestart(t *testing.T) {
	old := &config.Config{Cloud: config.DefaultCloud()}
	next := &config.Config{Cloud: config.DefaultCloud()}
	next.Cloud.ReconcileInterval = time.Minute
	if d := Compare(old, next); len(d.NeedRestart) != 1 || d.NeedRestart[0] != "cloud" {
		t.Errorf("NeedRestart %q, want [cloud]", d.NeedRestart)
	}
	if got := keepRestartOnly(old, next); got.Cloud.ReconcileInterval != old.Cloud.ReconcileInterval {
		t.Errorf("the running cloud settings changed on reload: %v", got.Cloud.ReconcileInterval)
	}
}

func TestCloudRebindOnReload(t *testing.T) {
	b := &fakeBinder{}
	h, ip, _ := cloudHolder(t, b, time.Hour)
	if err := h.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the first bind", func() bool { n, _ := b.counts(); return n == 1 })
	in := h.inst
	in.VIPs = in.VIPs[:1]
	if err := h.update(in, ip); err != nil {
		t.Fatal(err)
	}
	// The fake provider hands out the same binder: the reload shows as a
	// check at once.
	eventually(t, "a bind of the new VIPs", func() bool { n, _ := b.counts(); return n == 2 })
	if err := h.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
}
