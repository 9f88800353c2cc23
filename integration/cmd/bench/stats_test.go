package main

import (
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func ms(v ...int) []time.Duration {
	out := make([]time.Duration, len(v))
	for i, x := range v {
		out[i] = time.Duration(x) * time.Millisecond
	}
	return out
}

func TestSummarize(t *testing.T) {
	tests := []struct {
		name string
		in   []time.Duration
		want summary
	}{
		{"empty", nil, summary{}},
		{"one", ms(7), summary{N: 1, Median: 7 * time.Millisecond, P95: 7 * time.Millisecond, Max: 7 * time.Millisecond}},
		{"even", ms(4, 1, 3, 2), summary{N: 4, Median: 2500 * time.Microsecond, P95: 4 * time.Millisecond, Max: 4 * time.Millisecond}},
		{"ten", ms(10, 9, 8, 7, 6, 5, 4, 3, 2, 1), summary{N: 10, Median: 5500 * time.Microsecond, P95: 10 * time.Millisecond, Max: 10 * time.Millisecond}},
		{"twenty", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20), summary{N: 20, Median: 10500 * time.Microsecond, P95: 19 * time.Millisecond, Max: 20 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, summarize(tt.in)); diff != "" {
				t.Errorf("summarize(%v) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
	if r := ratio(time.Second, 0); !math.IsNaN(r) {
		t.Errorf("ratio(1s, 0) = %v, want NaN", r)
	}
}

func TestParseStat(t *testing.T) {
	// The command name may hold spaces and parentheses.
	s := "1234 (a) b) S 77 1234 1234 0 -1 4194560 100 0 0 0 250 31 0 0 20 0 5 0 12345 1000000 300 18446744073709551615\n"
	got, err := parseStat(s)
	if err != nil {
		t.Fatal(err)
	}
	if want := (stat{ppid: 77, utime: 250, stime: 31}); got != want {
		t.Errorf("parseStat = %+v, want %+v", got, want)
	}
	if _, err := parseStat("1234 (x"); err == nil {
		t.Error("parseStat of a truncated line succeeded")
	}
	rss, err := parseRSS("Name:\thavip\nVmPeak:\t  9000 kB\nVmRSS:\t   12345 kB\n")
	if err != nil || rss != 12345 {
		t.Errorf("parseRSS = %d, %v; want 12345", rss, err)
	}
}

func TestParseSwitches(t *testing.T) {
	got := parseSwitches("Name:\thavip\nvoluntary_ctxt_switches:\t120\nnonvoluntary_ctxt_switches:\t7\n")
	if got != 127 {
		t.Errorf("parseSwitches = %d, want 127", got)
	}
	if got := parseSwitches("Name:\thavip\n"); got != 0 {
		t.Errorf("parseSwitches without the lines = %d, want 0", got)
	}
}
