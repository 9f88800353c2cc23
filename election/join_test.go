package election

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeJoins answers joins from a table: a peer listed in hang blocks
// until the test ends, one in fail fails, any other one answers.
type fakeJoins struct {
	hang, fail map[string]bool
	release    chan struct{}
	calls      atomic.Int32
}

func newFakeJoins(t *testing.T, hang, fail []string) *fakeJoins {
	f := &fakeJoins{hang: map[string]bool{}, fail: map[string]bool{}, release: make(chan struct{})}
	for _, p := range hang {
		f.hang[p] = true
	}
	for _, p := range fail {
		f.fail[p] = true
	}
	t.Cleanup(func() { close(f.release) })
	return f
}

func (f *fakeJoins) join(p string) error {
	f.calls.Add(1)
	switch {
	case f.hang[p]:
		<-f.release
		return errors.New("i/o timeout")
	case f.fail[p]:
		return errors.New(p + ": connection refused")
	}
	return nil
}

type joinOutcome struct {
	joined int
	err    error
}

// runJoinPeers runs joinPeers and waits for it: a minute is far beyond
// any straggle the tests give, so a call still waiting then waits for a
// peer that never answers.
func runJoinPeers(t *testing.T, ctx context.Context, f *fakeJoins, peers []string, straggle time.Duration) joinOutcome {
	t.Helper()
	done := make(chan joinOutcome, 1)
	go func() {
		joined, err := joinPeers(ctx, f.join, peers, straggle)
		done <- joinOutcome{joined, err}
	}()
	select {
	case o := <-done:
		return o
	case <-time.After(time.Minute):
		t.Fatalf("joinPeers(%v) still waiting after a minute: it waits for a peer that never answers", peers)
		return joinOutcome{}
	}
}

// A restarted node whose first configured peers are cut off joins the
// ones that answer without waiting out the others.
func TestJoinPeersDoesNotWaitForCutOffPeers(t *testing.T) {
	peers := []string{"cut1:7946", "cut2:7946", "up1:7946", "cut3:7946", "up2:7946"}
	f := newFakeJoins(t, []string{"cut1:7946", "cut2:7946", "cut3:7946"}, nil)
	o := runJoinPeers(t, context.Background(), f, peers, 20*time.Millisecond)
	if o.err != nil {
		t.Fatalf("joinPeers: %v; want success with two peers answering", o.err)
	}
	if o.joined != 2 {
		t.Errorf("joinPeers joined %d peers, want 2", o.joined)
	}
	if got := f.calls.Load(); got != int32(len(peers)) {
		t.Errorf("joinPeers tried %d peers, want all %d", got, len(peers))
	}
}

// When every peer answers or fails, joinPeers does not wait out the
// straggle time.
func TestJoinPeersReturnsWhenAllAnswered(t *testing.T) {
	peers := []string{"up1:7946", "down:7946", "up2:7946"}
	f := newFakeJoins(t, nil, []string{"down:7946"})
	o := runJoinPeers(t, context.Background(), f, peers, time.Hour)
	if o.err != nil || o.joined != 2 {
		t.Fatalf("joinPeers = %d, %v; want 2, nil", o.joined, o.err)
	}
}

// With no peer answering, the error names each failure.
func TestJoinPeersNoneReachable(t *testing.T) {
	peers := []string{"a:7946", "b:7946"}
	f := newFakeJoins(t, nil, peers)
	o := runJoinPeers(t, context.Background(), f, peers, time.Hour)
	if o.joined != 0 || o.err == nil {
		t.Fatalf("joinPeers = %d, %v; want 0 and an error", o.joined, o.err)
	}
	for _, p := range peers {
		if !strings.Contains(o.err.Error(), p) {
			t.Errorf("error %q does not name %s", o.err, p)
		}
	}
}

// A daemon told to stop while every peer hangs stops joining.
func TestJoinPeersStopsWithContext(t *testing.T) {
	peers := []string{"cut1:7946", "cut2:7946"}
	f := newFakeJoins(t, peers, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	o := runJoinPeers(t, ctx, f, peers, time.Hour)
	if o.joined != 0 || !errors.Is(o.err, context.Canceled) {
		t.Fatalf("joinPeers = %d, %v; want 0, context.Canceled", o.joined, o.err)
	}
}
