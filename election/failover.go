package election

import "time"

// noteMaster records when the master this node knew for the instance went
// away (it left, died or released, and no other node replaced it), so a
// takeover can report how long it took from there. next is the master of
// the new verdict; self is this node's name.
func (in *instance) noteMaster(next, self string, now time.Time) {
	prev := in.master
	switch {
	case next != "" && next != self:
		// Another node is (still) master: nothing to time.
		in.masterLost = time.Time{}
	case prev != "" && prev != self && in.masterLost.IsZero():
		in.masterLost = now
	}
}
