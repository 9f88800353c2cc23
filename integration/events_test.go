package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/havip/havip/internal/testbed"
)

// event is the part of `havip events --json` the test reads.
type event struct {
	Seq      uint64 `json:"seq"`
	At       string `json:"at"`
	Kind     string `json:"kind"`
	Instance string `json:"instance"`
	Member   string `json:"member"`
	Check    string `json:"check"`
	From     string `json:"from"`
	To       string `json:"to"`
	Reason   string `json:"reason"`
}

// decodeEvents reads JSON lines of events.
func decodeEvents(data []byte) ([]event, error) {
	var out []event
	dec := json.NewDecoder(bytes.NewReader(data))
	for dec.More() {
		var e event
		if err := dec.Decode(&e); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// findEvent returns the first event that matches want in its kind,
// subject and new state, and whose reason contains reason.
func findEvent(events []event, want event, reason string) (event, bool) {
	i := slices.IndexFunc(events, func(e event) bool {
		return e.Kind == want.Kind && e.Instance == want.Instance && e.Member == want.Member &&
			e.Check == want.Check && e.To == want.To && strings.Contains(e.Reason, reason)
	})
	if i < 0 {
		return event{}, false
	}
	return events[i], true
}

// TestEventsFollowsTheNode follows node 0's events with `havip events
// --follow --json` while its track script fails (its VIP moves to node
// 1) and node 1 then stops: the follower prints the script's verdict,
// the transition to FAULT with its reason and node 1's leaving as they
// happen; `havip events` lists the same events, each once, and Ctrl-C
// ends the follower with success.
func TestEventsFollowsTheNode(t *testing.T) {
	c := newCluster(t, 2, false)
	vip := testbed.VIP4(0)
	inst := web(true, 150, 100)
	inst.Extra = flagScript(c.dir, 0, 1, 1)
	c.configure(c.opts(inst))
	c.startAll()
	c.waitHolders(vip, 0)

	followed := filepath.Join(c.dir, "follow.jsonl")
	out, err := os.Create(followed)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	var errOut bytes.Buffer
	follower, err := c.net.Start(c.nodes[0].ns, []string{havipBin, "events", "--follow", "--json", "--socket", c.nodes[0].socket}, out, &errOut)
	if err != nil {
		t.Fatal(err)
	}

	c.setFlag(0, true)
	c.waitHolders(vip, 1)
	if code := c.stop(1); code != 0 {
		t.Fatalf("node 1 exited %d after SIGTERM", code)
	}
	peer := testbed.NodeName(1)
	wants := []struct {
		e      event
		reason string
	}{
		{event{Kind: "check", Instance: "web", Check: "track_script app", To: "failed"}, "exit status 1"},
		{event{Kind: "transition", Instance: "web", To: "FAULT"}, "track script app failed"},
		{event{Kind: "member", Member: peer, To: "left"}, ""},
	}
	var seen []event
	err = testbed.WaitUntil(t.Context(), settle, func() error {
		data, err := os.ReadFile(followed)
		if err != nil {
			return err
		}
		if seen, err = decodeEvents(data); err != nil {
			return fmt.Errorf("the follower's output: %w", err)
		}
		for _, w := range wants {
			if _, ok := findEvent(seen, w.e, w.reason); !ok {
				return fmt.Errorf("the follower has not printed %+v (reason with %q) yet", w.e, w.reason)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%v\nfollowed so far: %+v", err, seen)
	}
	if e, _ := findEvent(seen, event{Kind: "transition", Instance: "web", To: "MASTER"}, ""); e.At == "" {
		t.Errorf("no transition to MASTER with its time among %+v", seen)
	}

	// The follower printed the log once, in order: what the daemon's log
	// holds now, listed at once, is the same.
	listed, _, err := c.havip(0, "events", "--json", "--socket", c.nodes[0].socket)
	if err != nil {
		t.Fatal(err)
	}
	all, err := decodeEvents(listed)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range all {
		if e.Seq != uint64(i+1) {
			t.Fatalf("havip events lists seq %d at %d: %+v", e.Seq, i+1, all)
		}
	}
	if diff := cmp.Diff(all[:len(seen)], seen); diff != "" {
		t.Errorf("followed events differ from the listed ones (-listed +followed):\n%s", diff)
	}

	table, _, err := c.havip(0, "events", "--socket", c.nodes[0].socket)
	if err != nil || !strings.Contains(string(table), "web track_script app: ok -> failed: exit status 1") {
		t.Errorf("havip events (err %v) does not show the script's failure:\n%s", err, table)
	}

	if err := follower.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	st, err := follower.Wait(exitWait)
	if err != nil {
		t.Fatal(err)
	}
	if st.ExitCode() != 0 {
		t.Errorf("the follower exited %d after Ctrl-C, want 0; stderr: %s", st.ExitCode(), errOut.String())
	}
}
