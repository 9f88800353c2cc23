package vip

import (
	"bytes"
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/havip/havip/internal/nstest"
)

// TestWatchResubscribes overflows the address subscription's socket, so that
// the kernel drops notifications (ENOBUFS), and checks that Watch
// subscribes again, sends Resync and keeps reporting.
func TestWatchResubscribes(t *testing.T) {
	const timeout = 5 * time.Second
	ns := nstest.New(t)
	ns.Veth(t, "a", "b")
	var logs syncBuffer
	m := New("a", WithNamespace(ns.NsHandle()), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	t.Cleanup(func() { m.Close() })
	m.rcvbuf = 1 // the kernel raises it to its minimum, a few messages

	ctx, cancel := context.WithCancel(context.Background())
	events := make(chan Event)
	done := make(chan error, 1)
	go func() { done <- m.Watch(ctx, events) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(timeout):
			t.Errorf("Watch did not return after its context ended")
		}
	})

	next := func(what string, match func(Event) bool) {
		t.Helper()
		deadline := time.After(timeout)
		for {
			select {
			case e := <-events:
				if match(e) {
					return
				}
			case <-deadline:
				t.Fatalf("no %s within %s", what, timeout)
			}
		}
	}
	next("first Resync", func(e Event) bool { return e.Kind == Resync })

	// Nobody reads events now: Watch blocks, then the library's channel
	// fills, then the socket overflows.
	for i := range 250 {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), 32)
		if err := m.Add(p); err != nil {
			t.Fatal(err)
		}
	}
	next("Resync after the overflow", func(e Event) bool { return e.Kind == Resync })
	// The new subscription may overflow too while Watch waits to deliver
	// that Resync; read until things settle.
	for quiet := false; !quiet; {
		select {
		case <-events:
		case <-time.After(300 * time.Millisecond):
			quiet = true
		}
	}

	p := netip.MustParsePrefix("10.2.0.1/32")
	if err := m.Add(p); err != nil {
		t.Fatal(err)
	}
	next("AddrAdded after the new subscription", func(e Event) bool { return e.Kind == AddrAdded && e.Prefix == p })
	if !strings.Contains(logs.String(), "subscribing again") {
		t.Errorf("no resubscription logged:\n%s", logs.String())
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
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
