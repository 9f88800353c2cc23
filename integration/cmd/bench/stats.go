package main

import (
	"math"
	"slices"
	"time"
)

// summary is the median, 95th percentile (nearest rank) and maximum of a
// set of durations.
type summary struct {
	N                int
	Median, P95, Max time.Duration
}

func summarize(ds []time.Duration) summary {
	if len(ds) == 0 {
		return summary{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return summary{N: len(s), Median: median(s), P95: nearestRank(s, 0.95), Max: s[len(s)-1]}
}

// median of sorted s: the mean of the two middle values for an even count.
func median(s []time.Duration) time.Duration {
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// nearestRank is the p-quantile of sorted s by the nearest-rank method.
func nearestRank(s []time.Duration, p float64) time.Duration {
	r := int(math.Ceil(p * float64(len(s))))
	return s[min(max(r, 1), len(s))-1]
}

// ratio is a/b, NaN when b is zero.
func ratio(a, b time.Duration) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}
