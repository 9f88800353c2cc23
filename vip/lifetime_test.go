package vip

import (
	"math"
	"testing"
	"time"
)

func TestLifetimeSeconds(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want uint32
	}{
		{0, infiniteLifetime},
		{time.Nanosecond, 1},
		{300 * time.Millisecond, 1},
		{time.Second, 1},
		{time.Second + time.Nanosecond, 2},
		{90 * time.Second, 90},
		{math.MaxInt64, infiniteLifetime - 1},
	}
	for _, tt := range tests {
		got, err := lifetimeSeconds(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("lifetimeSeconds(%s) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	if _, err := lifetimeSeconds(-time.Second); err == nil {
		t.Error("lifetimeSeconds(-1s) succeeded")
	}
}
