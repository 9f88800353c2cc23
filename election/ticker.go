package election

import (
	"sync"
	"time"
)

// ticker is what the election loop needs of a time.Ticker, and Delay.
type ticker interface {
	C() <-chan time.Time
	// Delay puts the next tick off until first from now; the period
	// is unchanged after it.
	Delay(first time.Duration)
	Stop()
}

// goTicker is a ticker on a Go timer that re-arms itself each period
// (time.Ticker's Reset would change the period).
type goTicker struct {
	c       chan time.Time
	d       time.Duration
	mu      sync.Mutex
	t       *time.Timer
	next    time.Time // when the armed timer is due
	stopped bool
}

func newGoTicker(d time.Duration) *goTicker {
	g := &goTicker{c: make(chan time.Time, 1), d: d}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.next = time.Now().Add(d)
	g.t = time.AfterFunc(d, g.fire)
	return g
}

// fire delivers a tick, dropping it when the reader is not ready (as
// time.Ticker does), and arms the next. A firing that a Delay overtook
// (the timer ran out just before the Delay re-armed it) does neither.
func (g *goTicker) fire() {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := time.Now()
	if g.stopped || now.Before(g.next) {
		return
	}
	select {
	case g.c <- now:
	default:
	}
	g.next = now.Add(g.d)
	g.t.Reset(g.d)
}

func (g *goTicker) C() <-chan time.Time { return g.c }

func (g *goTicker) Delay(first time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.stopped {
		g.next = time.Now().Add(first)
		g.t.Reset(first)
	}
}

func (g *goTicker) Stop() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.stopped = true
	g.t.Stop()
}
