package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/havip/havip/config"
	"github.com/havip/havip/internal/testbed"
)

// A node's epoch orders its runs for its peers: a restarted node's
// metadata and heartbeats count only when its epoch is above the one they
// last saw from it. The epoch was the wall clock at start; a node whose
// clock stepped back between two starts was then ignored by its peers
// until they restarted too (a drained node stayed "priority 150" for
// them). Now each start takes the last run's epoch plus one when the
// clock is behind it (the state directory keeps it).
//
// The test cannot step the machine's clock, so it gives node 0 a state
// file whose last run started an hour ahead of now: to node 0 that is
// exactly a clock that stepped back an hour since. Node 0 starts, stops
// and starts again (both starts "behind" the recorded one), takes the VIP
// back (it preempts), and is then drained: its peers must follow each
// step.

// stateEpoch is the part of the state file the test reads and seeds.
type stateEpoch struct {
	Epoch uint64 `json:"epoch"`
}

func readEpoch(t *testing.T, dir string) uint64 {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, config.StateFile))
	if err != nil {
		t.Fatal(err)
	}
	var st stateEpoch
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatalf("%s: %v", config.StateFile, err)
	}
	return st.Epoch
}

func TestRestartWithClockBehind(t *testing.T) {
	c := newCluster(t, 3, false)
	vip := testbed.VIP4(0)
	o := c.opts(web(true, 150, 100, 50))
	o.Quorum = "majority"
	c.configure(o)

	dir := testbed.StateDir(c.dir, 0)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ahead := uint64(time.Now().Add(time.Hour).UnixNano())
	seed := fmt.Appendf(nil, `{"maintenance": false, "epoch": %d}`+"\n", ahead)
	if err := os.WriteFile(filepath.Join(dir, config.StateFile), seed, 0o644); err != nil {
		t.Fatal(err)
	}

	c.startAll()
	c.waitHolders(vip, 0)
	c.waitStatus(allNodes(3), expectRole("web", 0))
	first := readEpoch(t, dir)
	if first <= ahead {
		t.Fatalf("first start: epoch %d, want above the recorded %d", first, ahead)
	}

	// Stop node 0: node 1 takes over. Start it again with the clock still
	// an hour behind its recorded starts: its peers must take its new run
	// for what it is, so that node 0 (which preempts) holds again.
	if code := c.stop(0); code != 0 {
		t.Fatalf("node 0 exited %d after SIGTERM", code)
	}
	c.waitHolders(vip, 1)
	c.start(0)
	c.waitHolders(vip, 0)
	c.waitStatus(allNodes(3), expectRole("web", 0))
	if second := readEpoch(t, dir); second <= first {
		t.Fatalf("restart: epoch %d, want above the previous run's %d", second, first)
	}

	// Drain node 0: its peers must see it in maintenance with priority 0,
	// and node 1 takes over.
	if _, stderr, err := c.havip(0, "maintenance", "on", "--socket", c.nodes[0].socket); err != nil {
		t.Fatalf("havip maintenance on: %v: %s", err, stderr)
	}
	c.waitHolders(vip, 1)
	c.waitStatus(allNodes(3), expectRole("web", 1))
	c.waitStatus([]int{1, 2}, func(i int, s *status) error {
		m, ok := s.member(testbed.NodeName(0))
		if !ok {
			return fmt.Errorf("%s lists no member %s", s.Node, testbed.NodeName(0))
		}
		if m.State != "alive" || m.Priority != 0 {
			return fmt.Errorf("%s sees %s %s with priority %d, want alive with priority 0", s.Node, m.Name, m.State, m.Priority)
		}
		return nil
	})
}
