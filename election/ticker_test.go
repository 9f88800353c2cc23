package election

import (
	"testing"
	"time"
)

// TestTickerTicksAndStops checks the loop's ticker: it ticks repeatedly,
// a slow reader gets one tick for several periods (not a backlog), and
// after Stop no tick arrives.
func TestTickerTicksAndStops(t *testing.T) {
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
