package election

import (
	"testing"
	"time"
)

func TestNoteMaster(t *testing.T) {
	t0 := time.Unix(1000, 0)
	in := &instance{master: "b"}
	in.noteMaster("b", "a", t0)
	if !in.masterLost.IsZero() {
		t.Fatal("master unchanged, loss recorded")
	}
	// b goes; nobody is master yet.
	in.noteMaster("", "a", t0)
	in.master = ""
	if !in.masterLost.Equal(t0) {
		t.Fatalf("loss at %v, want %v", in.masterLost, t0)
	}
	// This node takes over later: the loss time stays the first one.
	in.noteMaster("a", "a", t0.Add(time.Second))
	if !in.masterLost.Equal(t0) {
		t.Fatalf("loss at %v, want %v", in.masterLost, t0)
	}
	// Another node becomes master instead: forgotten.
	in = &instance{master: "b"}
	in.noteMaster("a", "a", t0)
	if !in.masterLost.Equal(t0) {
		t.Fatal("direct takeover from b: loss not recorded")
	}
	in.master = "a"
	in.noteMaster("c", "a", t0)
	if !in.masterLost.IsZero() {
		t.Fatal("c is master: loss kept")
	}
}
