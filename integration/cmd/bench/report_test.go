package main

import (
	"os/exec"
	"reflect"
	"strings"
	"testing"
)

func TestShellJoin(t *testing.T) {
	args := []string{"-nodes", "2,3", "-adverts", "", "-profiles", "fast,default", "-havip", "/opt/havip bin/it's", "-loss", "5"}
	got := shellJoin(args)
	want := `-nodes 2,3 -adverts "" -profiles fast,default -havip '/opt/havip bin/it'\''s' -loss 5`
	if got != want {
		t.Fatalf("shellJoin = %s, want %s", got, want)
	}
	// A shell reads the line back as the same arguments.
	out, err := exec.Command("sh", "-c", `for a in `+got+`; do printf '%s\n' "[$a]"; done`).Output()
	if err != nil {
		t.Fatal(err)
	}
	var back []string
	for _, l := range strings.Split(strings.TrimSuffix(string(out), "\n"), "\n") {
		back = append(back, strings.TrimSuffix(strings.TrimPrefix(l, "["), "]"))
	}
	if !reflect.DeepEqual(back, args) {
		t.Errorf("sh read back %q, want %q", back, args)
	}
}
