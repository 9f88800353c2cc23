package testbed

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// PollInterval is how often WaitUntil and Consistently check.
const PollInterval = 20 * time.Millisecond

// WaitUntil calls cond every PollInterval until it returns nil, and fails
// with cond's last error when timeout passes or ctx ends first.
func WaitUntil(ctx context.Context, timeout time.Duration, cond func() error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t := time.NewTicker(PollInterval)
	defer t.Stop()
	for {
		err := cond()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("not reached within %v: %w", timeout, err)
			}
			return fmt.Errorf("%w (last: %w)", ctx.Err(), err)
		case <-t.C:
		}
	}
}

// Consistently calls cond every PollInterval for d and fails with cond's
// first error.
func Consistently(ctx context.Context, d time.Duration, cond func() error) error {
	// Taken before the timeout starts, so that the timeout firing means d
	// has passed.
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	t := time.NewTicker(PollInterval)
	defer t.Stop()
	for {
		if err := cond(); err != nil {
			return fmt.Errorf("after %v: %w", time.Since(start).Round(time.Millisecond), err)
		}
		select {
		case <-ctx.Done():
			if time.Since(start) >= d {
				return nil
			}
			return fmt.Errorf("stopped after %v of %v: %w", time.Since(start).Round(time.Millisecond), d, ctx.Err())
		case <-t.C:
		}
	}
}
