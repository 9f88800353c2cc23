//go:build !linux

package election

import "time"

// newTicker ticks every d (a time.Ticker; Linux has a lighter one).
func newTicker(d time.Duration) ticker { return goTicker{time.NewTicker(d)} }
