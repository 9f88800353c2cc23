package main

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestTailBefore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node0.log")
	log := "=== start 1 ===\n" +
		"time=2026-12-06T00:00:01Z level=INFO msg=a\n" +
		"time=2026-12-06T00:00:02Z level=INFO msg=b\n" +
		"a line without a time\n" +
		"time=2026-12-06T00:00:03.5Z level=INFO msg=c\n" +
		"time=2026-12-06T00:00:05Z level=INFO msg=d\n"
	if err := os.WriteFile(path, []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	got := tailBefore(path, time.Date(2026, 12, 6, 0, 0, 4, 0, time.UTC), 2)
	want := []string{"time=2026-12-06T00:00:02Z level=INFO msg=b", "time=2026-12-06T00:00:03.5Z level=INFO msg=c"}
	if !slices.Equal(got, want) {
		t.Errorf("tailBefore = %q, want %q", got, want)
	}
	vs := []violation{{From: time.Date(2026, 12, 6, 0, 0, 1, 500, time.UTC)}}
	if tails := readTails(vs, []string{path}); len(tails) != 1 || !slices.Equal(tails[0], []string{"node0: time=2026-12-06T00:00:01Z level=INFO msg=a"}) {
		t.Errorf("readTails = %q", tails)
	}
}
