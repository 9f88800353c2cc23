package testbed

import (
	"testing"
	"time"
)

func TestSamplerRecord(t *testing.T) {
	s := &Sampler{}
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	for _, x := range []struct {
		ms      int
		holders []int
	}{
		{0, []int{0}}, {5, []int{0}}, {10, []int{0, 1}}, {15, []int{0, 1}}, {20, []int{1}}, {40, []int{1}}, {45, []int{0, 1}},
	} {
		s.record(at(x.ms), x.holders, nil)
	}
	r := s.Report()
	if r.Samples != 7 || r.Period != 7500*time.Microsecond || r.MaxGap != 20*time.Millisecond {
		t.Errorf("samples %d, period %v, max gap %v; want 7, 7.5ms, 20ms", r.Samples, r.Period, r.MaxGap)
	}
	if len(r.Changes) != 4 {
		t.Errorf("%d changes, want 4: %v", len(r.Changes), r.Changes)
	}
	if len(r.Overlaps) != 2 {
		t.Fatalf("overlaps %v, want 2 (one still open)", r.Overlaps)
	}
	o := r.Overlaps[0]
	if o.Min() != 5*time.Millisecond || o.Max() != 15*time.Millisecond {
		t.Errorf("first overlap %v..%v, want 5ms..15ms", o.Min(), o.Max())
	}
	if open := r.Overlaps[1]; open.Max() != 0 || !open.First.Equal(at(45)) {
		t.Errorf("open overlap %+v", open)
	}
}

func TestPingStatsOutage(t *testing.T) {
	t0 := time.Unix(1000, 0)
	tests := []struct {
		s    PingStats
		want time.Duration
	}{
		{PingStats{Sent: 10}, 0},
		{PingStats{Sent: 10, Lost: 3, FirstLost: t0, Recovered: t0.Add(30 * time.Millisecond)}, 30 * time.Millisecond},
		// The sender fell behind: the span counts, not the echoes.
		{PingStats{Sent: 10, Lost: 2, FirstLost: t0, Recovered: t0.Add(50 * time.Millisecond)}, 50 * time.Millisecond},
		{PingStats{Sent: 10, Lost: 4, FirstLost: t0}, 40 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := tt.s.Outage(10 * time.Millisecond); got != tt.want {
			t.Errorf("%+v: outage %v, want %v", tt.s, got, tt.want)
		}
	}
}
