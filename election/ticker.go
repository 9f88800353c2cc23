package election

import "time"

// ticker is the part of time.Ticker the election loop uses.
type ticker interface {
	C() <-chan time.Time
	Stop()
}

// goTicker is a time.Ticker.
type goTicker struct{ t *time.Ticker }

func (g goTicker) C() <-chan time.Time { return g.t.C }
func (g goTicker) Stop()               { g.t.Stop() }
