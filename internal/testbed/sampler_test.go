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

func TestSamplerSpans(t *testing.T) {
	s := &Sampler{}
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	// [0] until 20, [0 1] until 30, [1] until 50, [] until 60, [1] to 80.
	for _, x := range []struct {
		ms      int
		holders []int
	}{
		{0, []int{0}}, {10, []int{0}}, {20, []int{0, 1}}, {25, []int{0, 1}}, {30, []int{1}},
		{50, []int{}}, {60, []int{1}}, {70, []int{1}}, {80, []int{1}},
	} {
		s.record(at(x.ms), x.holders, nil)
	}
	r := s.Report()
	spans := r.Spans()
	if len(spans) != 5 || !spans[0].To.Equal(at(20)) || !spans[4].From.Equal(at(60)) || !spans[4].To.Equal(at(80)) {
		t.Fatalf("spans %+v", spans)
	}
	only1 := func(h []int) bool { return len(h) == 1 && h[0] == 1 }
	two := func(h []int) bool { return len(h) >= 2 }
	none := func(h []int) bool { return len(h) == 0 }
	for _, c := range []struct {
		since  int
		ok     func([]int) bool
		want   int
		wantOK bool
	}{
		{0, only1, 30, true},
		{35, only1, 35, true}, // already so at 35
		{50, only1, 60, true},
		{80, only1, 80, true}, // the last sample
		{81, only1, 0, false}, // after the last sample
		{0, two, 20, true},
		{30, two, 0, false},
		{20, none, 50, true},
	} {
		got, ok := r.FirstWhere(at(c.since), c.ok)
		if ok != c.wantOK || ok && !got.Equal(at(c.want)) {
			t.Errorf("FirstWhere(%d) = %v, %t; want %d, %t", c.since, got.Sub(t0), ok, c.want, c.wantOK)
		}
	}
	ms := func(d int) time.Duration { return time.Duration(d) * time.Millisecond }
	if d := r.TimeWhere(at(0), at(80), two); d != ms(10) {
		t.Errorf("two holders for %v, want 10ms", d)
	}
	if d := r.TimeWhere(at(0), at(80), only1); d != ms(40) {
		t.Errorf("node 1 alone for %v, want 40ms", d)
	}
	if d := r.TimeWhere(at(22), at(55), func(h []int) bool { return len(h) != 1 }); d != ms(13) {
		t.Errorf("not one holder in [22, 55) for %v, want 13ms", d)
	}
}
