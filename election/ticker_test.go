package election

import (
	"testing"
	"time"
)

// TestTickerTicksAndStops checks the loop's ticker: it ticks repeatedly,
// a slow reader gets one tick for several periods (not a backlog), and
// after Stop no tick arrives.
func TestTickerTicksAndStops(t *testing.T) {
	forTickers(t, testTicksAndStops)
}

// forTickers runs test on newTicker's ticker and on the Go timer one
// (which other systems use, and Linux when a timerfd cannot be made).
func forTickers(t *testing.T, test func(*testing.T, func(time.Duration) ticker)) {
	t.Run("newTicker", func(t *testing.T) { test(t, newTicker) })
	t.Run("goTicker", func(t *testing.T) {
		test(t, func(d time.Duration) ticker { return newGoTicker(d) })
	})
}

func testTicksAndStops(t *testing.T, newTicker func(time.Duration) ticker) {
	tk := newTicker(2 * time.Millisecond)
	for i := range 3 {
		select {
		case <-tk.C():
		case <-time.After(5 * time.Second):
			t.Fatalf("tick %d never came", i)
		}
	}
	time.Sleep(50 * time.Millisecond) // many periods unread
	n := 0
	for drained := false; !drained; {
		select {
		case <-tk.C():
			n++
		default:
			drained = true
		}
	}
	if n > 1 {
		t.Errorf("%d ticks queued after a pause, want at most 1", n)
	}
	tk.Stop()
	time.Sleep(20 * time.Millisecond)
	for drained := false; !drained; {
		select {
		case <-tk.C():
		default:
			drained = true
		}
	}
	select {
	case <-tk.C():
		t.Error("tick after Stop")
	case <-time.After(50 * time.Millisecond):
	}
}

// TestTickerDelay: Delay puts the next tick off, and the period is
// unchanged after it.
func TestTickerDelay(t *testing.T) { forTickers(t, testDelay) }

func testDelay(t *testing.T, newTicker func(time.Duration) ticker) {
	tk := newTicker(5 * time.Millisecond)
	defer tk.Stop()
	<-tk.C()
	tk.Delay(time.Hour)
	// A tick delivered before the Delay may still be queued.
	time.Sleep(20 * time.Millisecond)
	select {
	case <-tk.C():
	default:
	}
	select {
	case <-tk.C():
		t.Fatal("tick within 200ms of a Delay of an hour")
	case <-time.After(200 * time.Millisecond):
	}
	tk.Delay(time.Millisecond)
	for i := range 3 {
		select {
		case <-tk.C():
		case <-time.After(5 * time.Second):
			t.Fatalf("tick %d after a short Delay never came", i)
		}
	}
}
