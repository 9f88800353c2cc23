package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/havip/havip/internal/testbed"
)

// keepalivedPair is node i's keepalived.conf of a unicast pair with a
// track script and notify hooks, as it would run on the node (VRRPv3
// adverts every 100 ms, a /24 VIP on eth0, a PASS password); dir holds
// the scripts.
func keepalivedPair(i int, dir string) string {
	state, prio := "MASTER", 150
	if i != 0 {
		state, prio = "BACKUP", 100
	}
	return fmt.Sprintf(`! keepalived on test node %[1]d
global_defs {
    router_id %[2]s
    enable_script_security
}

vrrp_script chk_app {
    script "%[3]s/check.sh"
    interval 1
    fall 1
    rise 1
}

vrrp_instance VI_1 {
    state %[4]s
    interface eth0
    virtual_router_id 51
    priority %[5]d
    advert_int 0.1
    unicast_src_ip %[6]s
    unicast_peer {
        %[7]s
    }
    authentication {
        auth_type PASS
        auth_pass 42
    }
    virtual_ipaddress {
        %[8]s/24 dev eth0
    }
    track_script {
        chk_app
    }
    notify_master "%[3]s/notify.sh master"
    notify_backup "%[3]s/notify.sh backup"
    notify_fault "%[3]s/notify.sh fault"
}
`, i, testbed.NodeName(i), dir, state, prio, testbed.NodeAddr(i), testbed.NodeAddr(1-i), testbed.VIP4(0))
}

// importPair converts node i's keepalived configuration with havip
// import keepalived, then points its state directory and status socket
// into the test's directory (the two nodes share one file system).
func (c *cluster) importPair(i int, key string) {
	c.t.Helper()
	src := filepath.Join(c.dir, fmt.Sprintf("keepalived%d.conf", i))
	if err := os.WriteFile(src, []byte(keepalivedPair(i, c.dir)), 0o644); err != nil {
		c.t.Fatal(err)
	}
	d := c.nodes[i]
	_, report, err := c.havip(i, "import", "keepalived", src, "--secret-key-file", key, "--output", d.config)
	if err != nil {
		c.t.Fatalf("node %d: havip import keepalived: %v\n%s", i, err, report)
	}
	for _, want := range []string{
		src + ":19: vrrp_instance VI_1: advert_int: changed: advert_int 100ms",
		src + ":34: vrrp_instance VI_1: notify_master: changed: runs as [\"/bin/sh\", \"-c\", \"" + c.dir + "/notify.sh master\", \"notify\"]",
	} {
		if !bytes.Contains(report, []byte(want)) {
			c.t.Errorf("node %d: the report lacks %q:\n%s", i, want, report)
		}
	}
	var doc map[string]any
	data, err := os.ReadFile(d.config)
	if err != nil {
		c.t.Fatal(err)
	}
	if _, err := toml.Decode(string(data), &doc); err != nil {
		c.t.Fatalf("node %d: %v\n%s", i, err, data)
	}
	node, cluster := doc["node"].(map[string]any), doc["cluster"].(map[string]any)
	if cluster["timing"] != "fast" || node["bind"] != testbed.NodeBind(i).String() {
		c.t.Errorf("node %d: converted to timing %v, bind %v; want fast (advert_int 0.1) and %s", i, cluster["timing"], node["bind"], testbed.NodeBind(i))
	}
	node["state_dir"] = testbed.StateDir(c.dir, i)
	doc["status"] = map[string]any{"socket": d.socket}
	var b bytes.Buffer
	if err := toml.NewEncoder(&b).Encode(doc); err != nil {
		c.t.Fatal(err)
	}
	if err := os.WriteFile(d.config, b.Bytes(), 0o644); err != nil {
		c.t.Fatal(err)
	}
}

// hookLines returns the lines the notify hook wrote for node i.
func (c *cluster) hookLines(i int) []string {
	data, _ := os.ReadFile(filepath.Join(c.dir, testbed.NodeName(i)+".notify"))
	return strings.Split(strings.TrimSpace(string(data)), "\n")
}

// waitHook waits until node i's hook ran with line.
func (c *cluster) waitHook(i int, line string) {
	c.t.Helper()
	err := waitFor(func() error {
		if got := c.hookLines(i); !slices.Contains(got, line) {
			return fmt.Errorf("node %d: hook lines %q, want %q among them", i, got, line)
		}
		return nil
	})
	if err != nil {
		c.t.Fatal(err)
	}
}

// TestImportKeepalived converts the keepalived configurations of a
// unicast pair with havip import keepalived and runs them: the master is
// the node of priority 150, its track script failing moves the VIP to
// the other node, the notify hooks run with keepalived's arguments (and
// only those: havip's reach them in the environment), and a crashed
// master fails over.
func TestImportKeepalived(t *testing.T) {
	c := newCluster(t, 2, false)
	vip := testbed.VIP4(0)
	scripts := map[string]string{
		"check.sh":  "#!/bin/sh\ntest ! -e \"" + c.dir + "/$HAVIP_NODE.fail\"\n",
		"notify.sh": "#!/bin/sh\necho \"$* $HAVIP_INSTANCE $HAVIP_STATE $HAVIP_VIPS\" >> \"" + c.dir + "/$HAVIP_NODE.notify\"\n",
	}
	for name, text := range scripts {
		if err := os.WriteFile(filepath.Join(c.dir, name), []byte(text), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	key := filepath.Join(c.dir, "secret.key")
	if _, out, err := c.havip(0, "init", "--no-config", "--secret-key-file", key); err != nil {
		t.Fatalf("havip init: %v\n%s", err, out)
	}
	for i := range c.nodes {
		c.importPair(i, key)
	}
	c.startAll()
	c.waitHolders(vip, 0)
	c.waitStatus(allNodes(2), expectRole("VI_1", 0))
	// The VIP keeps keepalived's /24.
	vipPrefix := vip.String() + "/24"
	held := "VI_1 MASTER " + vipPrefix
	c.waitHook(0, "master "+held)

	// The track script fails on the master: FAULT there, the VIP moves.
	c.setFlag(0, true)
	c.waitHolders(vip, 1)
	c.waitStatus([]int{0}, expectState("VI_1", "FAULT"))
	c.waitHook(0, "fault VI_1 FAULT "+vipPrefix)
	c.waitHook(1, "master "+held)

	// Healthy again: the higher priority takes the VIP back (keepalived
	// preempts by default, and so does the converted instance).
	c.setFlag(0, false)
	c.waitHolders(vip, 0)
	c.waitHook(1, "backup VI_1 BACKUP "+vipPrefix)

	// The master crashes: the other node takes over.
	c.kill9(0)
	c.waitHolders(vip, 1)
	c.waitObserverReaches(vip, 1)
}

// TestImportCutover follows docs/keepalived.md's cutover on a pair: the
// keepalived master (here its address, added as keepalived adds it)
// keeps the VIP while the backup's havip starts drained from a state
// file written before its first start; the backup takes the VIP only
// after keepalived let it go and its maintenance ended.
func TestImportCutover(t *testing.T) {
	c := newCluster(t, 2, false)
	vip := testbed.VIP4(0)
	key := filepath.Join(c.dir, "secret.key")
	for _, name := range []string{"check.sh", "notify.sh"} {
		if err := os.WriteFile(filepath.Join(c.dir, name), []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if _, out, err := c.havip(0, "init", "--no-config", "--secret-key-file", key); err != nil {
		t.Fatalf("havip init: %v\n%s", err, out)
	}
	c.importPair(1, key)

	ctx := context.Background()
	keepalivedVIP := testbed.VIP4(0).String() + "/24"
	if out, err := c.net.Exec(ctx, c.nodes[0].ns, "ip", "address", "add", keepalivedVIP, "dev", "eth0"); err != nil {
		t.Fatalf("adding the keepalived master's VIP: %v: %s", err, out)
	}
	state := testbed.StateDir(c.dir, 1)
	if err := os.MkdirAll(state, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(state, "state.json"), []byte(`{"maintenance": true}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c.start(1)
	c.waitStatus([]int{1}, func(i int, s *status) error {
		if in, err := s.instance("VI_1"); err != nil || in.State == "INIT" {
			return fmt.Errorf("instance VI_1 not started: %v", err)
		}
		return nil
	})
	// Alone and drained, the backup never takes the VIP.
	c.keepHolders(3*time.Second, vip, 0)

	if out, err := c.net.Exec(ctx, c.nodes[0].ns, "ip", "address", "del", keepalivedVIP, "dev", "eth0"); err != nil {
		t.Fatalf("removing the keepalived master's VIP: %v: %s", err, out)
	}
	if _, out, err := c.havip(1, "maintenance", "off", "--socket", c.nodes[1].socket); err != nil {
		t.Fatalf("havip maintenance off: %v\n%s", err, out)
	}
	c.waitHolders(vip, 1)
	c.waitObserverReaches(vip, 1)
}
