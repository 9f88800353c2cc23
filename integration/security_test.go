package integration

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/havip/havip/internal/testbed"
)

// TestEncryptionAndLabel runs a keyed two-node cluster (nodes 0 and 1) next
// to two strangers that know its peers and try to join it: node 2 with
// another key, node 3 with the right key but another cluster name. Both
// strangers have a higher priority, so a stranger let in would take over.
func TestEncryptionAndLabel(t *testing.T) {
	c := newCluster(t, 4, false)
	vip := testbed.VIP4(0)
	keyA := filepath.Join(c.dir, "cluster.key")
	keyB := filepath.Join(c.dir, "other.key")
	for _, k := range []string{keyA, keyB} {
		if err := testbed.WriteSecretKey(k); err != nil {
			t.Fatal(err)
		}
	}

	trusted := c.opts(web(true, 150, 100))
	trusted.Members = []int{0, 1}
	trusted.SecretKeyFile = keyA
	c.configureNode(0, trusted)
	c.configureNode(1, trusted)

	// The strangers list every node as a peer and need no quorum, so each
	// ends as master of its own one-node cluster.
	stranger := c.opts(web(true, 0, 0, 200, 200))
	stranger.Quorum = "off"
	wrongKey := stranger
	wrongKey.SecretKeyFile = keyB
	c.configureNode(2, wrongKey)
	wrongName := stranger
	wrongName.SecretKeyFile = keyA
	wrongName.Name = "another-cluster"
	c.configureNode(3, wrongName)
	c.startAll()

	// members checks node i's member list: exactly the other nodes of its
	// own cluster, by name.
	clusterOf := map[int][]int{0: {0, 1}, 1: {0, 1}, 2: {2}, 3: {3}}
	members := func(i int, s *status) error {
		var got []string
		for _, m := range s.Members {
			if m.Name != testbed.NodeName(i) {
				got = append(got, m.Name)
			}
		}
		var want []string
		for _, j := range clusterOf[i] {
			if j != i {
				want = append(want, testbed.NodeName(j))
			}
		}
		if !sameSet(got, want) {
			return fmt.Errorf("members %v, want %v", got, want)
		}
		return nil
	}
	check := func(i int, s *status) error {
		if err := members(i, s); err != nil {
			return err
		}
		master := clusterOf[i][0]
		if i >= 2 {
			master = i
		}
		return expectRole("web", master)(i, s)
	}

	c.waitStatus(allNodes(4), check)
	c.waitHolders(vip, 0, 2, 3)

	// Give the strangers time to retry their joins: nothing changes.
	err := testbed.Consistently(t.Context(), 5*time.Second, func() error {
		got, err := c.net.HoldersOf(vip)
		if err != nil {
			return err
		}
		if !slices.Equal(got, []int{0, 2, 3}) {
			return fmt.Errorf("holders of %s are %v, want [0 2 3] (node 0 for the real cluster, each stranger for itself)", vip, got)
		}
		for _, i := range allNodes(4) {
			s, err := c.status(i)
			if err != nil {
				return err
			}
			if err := check(i, s); err != nil {
				return fmt.Errorf("node %d: %w", i, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
