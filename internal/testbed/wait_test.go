package testbed

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestWaitUntil(t *testing.T) {
	n := 0
	err := WaitUntil(context.Background(), 5*time.Second, func() error {
		if n++; n < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	if err != nil || n != 3 {
		t.Fatalf("WaitUntil = %v after %d calls, want nil after 3", err, n)
	}

	err = WaitUntil(context.Background(), 50*time.Millisecond, func() error { return errors.New("still bad") })
	if err == nil || !strings.Contains(err.Error(), "still bad") {
		t.Fatalf("WaitUntil = %v, want the last condition error", err)
	}
}

func TestConsistently(t *testing.T) {
	if err := Consistently(context.Background(), 60*time.Millisecond, func() error { return nil }); err != nil {
		t.Fatalf("Consistently = %v", err)
	}
	n := 0
	err := Consistently(context.Background(), 5*time.Second, func() error {
		if n++; n == 2 {
			return errors.New("broke")
		}
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "broke") || n != 2 {
		t.Fatalf("Consistently = %v after %d calls, want the error of call 2", err, n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Consistently(ctx, time.Second, func() error { return nil }); err == nil {
		t.Fatal("Consistently with a cancelled context succeeded")
	}
}
