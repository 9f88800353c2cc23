package election

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestRank(t *testing.T) {
	got := Rank([]Candidate{
		{Node: "c", Priority: 100},
		{Node: "a", Priority: 100},
		{Node: "z", Priority: 0},
		{Node: "b", Priority: 150},
	})
	want := []Candidate{{Node: "b", Priority: 150}, {Node: "a", Priority: 100}, {Node: "c", Priority: 100}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Rank (-want +got):\n%s", diff)
	}
}

func TestDecide(t *testing.T) {
	now := time.Unix(1000, 0)
	base := func(s situation) situation {
		s.now = now
		s.quorum = true
		s.settled = true
		return s
	}
	tests := []struct {
		name string
		s    situation
		hold bool
		// master is the believed master
		master string
		// recheck after now
		recheck time.Duration
	}{
		{
			name:   "alone and eligible",
			s:      base(situation{self: Candidate{Node: "a", Priority: 100}}),
			hold:   true,
			master: "a",
		},
		{
			name:   "not eligible",
			s:      base(situation{self: Candidate{Node: "a", Priority: 0}}),
			master: "",
		},
		{
			name:   "highest priority takes it",
			s:      base(situation{self: Candidate{Node: "b", Priority: 150}, peers: []Candidate{{Node: "a", Priority: 100}}}),
			hold:   true,
			master: "b",
		},
		{
			name:   "lower priority waits",
			s:      base(situation{self: Candidate{Node: "b", Priority: 50}, peers: []Candidate{{Node: "a", Priority: 100}}}),
			master: "a",
		},
		{
			name:   "tie broken by name",
			s:      base(situation{self: Candidate{Node: "b", Priority: 100}, peers: []Candidate{{Node: "a", Priority: 100}}}),
			master: "a",
		},
		{
			name:   "higher priority does not take it from a holder",
			s:      base(situation{self: Candidate{Node: "b", Priority: 150}, peers: []Candidate{{Node: "a", Priority: 100, Holding: true}}, preempt: true}),
			master: "a",
		},
		{
			name:   "holder keeps it without preempt",
			s:      base(situation{self: Candidate{Node: "a", Priority: 100, Holding: true}, peers: []Candidate{{Node: "b", Priority: 150}}}),
			hold:   true,
			master: "a",
		},
		{
			name:   "holder preempted at once with no delay",
			s:      base(situation{self: Candidate{Node: "a", Priority: 100, Holding: true}, peers: []Candidate{{Node: "b", Priority: 150}}, preempt: true}),
			master: "b",
		},
		{
			name:    "holder keeps it while the preempt delay runs",
			s:       base(situation{self: Candidate{Node: "a", Priority: 100, Holding: true}, peers: []Candidate{{Node: "b", Priority: 150}}, preempt: true, preemptDelay: 5 * time.Second, higherSince: now.Add(-2 * time.Second)}),
			hold:    true,
			master:  "a",
			recheck: 3 * time.Second,
		},
		{
			name:   "holder releases when the preempt delay has run out",
			s:      base(situation{self: Candidate{Node: "a", Priority: 100, Holding: true}, peers: []Candidate{{Node: "b", Priority: 150}}, preempt: true, preemptDelay: 5 * time.Second, higherSince: now.Add(-5 * time.Second)}),
			master: "b",
		},
		{
			name:   "two holders: the lower-ranked releases",
			s:      base(situation{self: Candidate{Node: "b", Priority: 100, Holding: true}, peers: []Candidate{{Node: "a", Priority: 100, Holding: true}}}),
			master: "a",
		},
		{
			name:   "two holders: the higher-ranked keeps it",
			s:      base(situation{self: Candidate{Node: "a", Priority: 100, Holding: true}, peers: []Candidate{{Node: "b", Priority: 100, Holding: true}}}),
			hold:   true,
			master: "a",
		},
		{
			// It holds while not eligible: its release failed, and
			// its VIPs may still be on its interface.
			name:   "ineligible holder blocks until it releases",
			s:      base(situation{self: Candidate{Node: "b", Priority: 50}, peers: []Candidate{{Node: "a", Priority: 0, Holding: true}}}),
			hold:   false,
			master: "a",
		},
		{
			name:   "a holder keeps holding beside an ineligible one",
			s:      base(situation{self: Candidate{Node: "b", Priority: 50, Holding: true}, peers: []Candidate{{Node: "a", Priority: 0, Holding: true}}}),
			hold:   true,
			master: "b",
		},
		{
			name: "no quorum",
			s: func() situation {
				s := base(situation{self: Candidate{Node: "a", Priority: 100, Holding: true}})
				s.quorum = false
				return s
			}(),
			master: "",
		},
		{
			name: "not settled",
			s: func() situation {
				s := base(situation{self: Candidate{Node: "a", Priority: 100}})
				s.settled = false
				return s
			}(),
			master: "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := decide(tt.s)
			if v.hold != tt.hold {
				t.Errorf("hold = %v, want %v (reason %q)", v.hold, tt.hold, v.reason)
			}
			if v.master != tt.master {
				t.Errorf("master = %q, want %q", v.master, tt.master)
			}
			var rc time.Duration
			if !v.recheck.IsZero() {
				rc = v.recheck.Sub(now)
			}
			if rc != tt.recheck {
				t.Errorf("recheck in %v, want %v", rc, tt.recheck)
			}
			if v.reason == "" {
				t.Error("every decision must carry a reason")
			}
		})
	}
}
