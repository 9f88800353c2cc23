//go:build !linux

package election

import "time"

// newTicker ticks every d (a Go timer; Linux has a lighter ticker).
func newTicker(d time.Duration) ticker { return newGoTicker(d) }
