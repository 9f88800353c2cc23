package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/havip/havip/internal/testbed"
)

// fullStatus is the part of havip status --json the health tests read,
// beyond what status has.
type fullStatus struct {
	Node        string `json:"node"`
	Maintenance bool   `json:"maintenance"`
	Instances   []struct {
		Name              string `json:"name"`
		State             string `json:"state"`
		Master            string `json:"master"`
		Reason            string `json:"reason"`
		EffectivePriority int    `json:"effective_priority"`
		Penalty           int    `json:"penalty"`
		Switchover        string `json:"switchover"`
		Since             string `json:"since"`
		LastTransition    *struct {
			From, To, Reason, At string
		} `json:"last_transition"`
		Checks []struct {
			Type    string `json:"type"`
			Name    string `json:"name"`
			Healthy bool   `json:"healthy"`
			Detail  string `json:"detail"`
			Runs    int    `json:"runs"`
		} `json:"checks"`
	} `json:"instances"`
}

func (c *cluster) fullStatus(i int) (*fullStatus, error) {
	out, _, err := c.havip(i, "status", "--json", "--socket", c.nodes[i].socket)
	if err != nil {
		return nil, fmt.Errorf("node %d: %w", i, err)
	}
	var s fullStatus
	if err := json.Unmarshal(out, &s); err != nil {
		return nil, fmt.Errorf("node %d: %w: %s", i, err, out)
	}
	return &s, nil
}

// flagScript is a track script that fails while the file
// <dir>/<node name>.fail exists, checked every 100ms.
func flagScript(dir string, weight, rise, fall int) string {
	return fmt.Sprintf(`
[[instance.track_script]]
name = "app"
command = ['/bin/sh', '-c', 'test ! -e "$0/$HAVIP_NODE.fail"', '%s']
interval = "100ms"
timeout = "1s"
rise = %d
fall = %d
weight = %d
`, dir, rise, fall, weight)
}

// setFlag makes node i's flag script fail (true) or pass (false).
func (c *cluster) setFlag(i int, fail bool) {
	c.t.Helper()
	p := filepath.Join(c.dir, testbed.NodeName(i)+".fail")
	if fail {
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			c.t.Fatal(err)
		}
	} else if err := os.Remove(p); err != nil {
		c.t.Fatal(err)
	}
}

// expectState is a waitStatus check: instance name is in state want.
func expectState(name, want string) func(i int, s *status) error {
	return func(i int, s *status) error {
		in, err := s.instance(name)
		if err != nil {
			return err
		}
		if in.State != want {
			return fmt.Errorf("instance %s: state %q, want %q", name, in.State, want)
		}
		return nil
	}
}

func TestTrackScriptFault(t *testing.T) {
	c := newCluster(t, 2, false)
	vip := testbed.VIP4(0)
	inst := web(true, 150, 100)
	inst.Extra = flagScript(c.dir, 0, 2, 2)
	c.configure(c.opts(inst))
	c.startAll()
	c.waitHolders(vip, 0)

	c.setFlag(0, true)
	c.waitHolders(vip, 1)
	c.waitStatus([]int{0}, expectState("web", "FAULT"))
	s, err := c.fullStatus(0)
	if err != nil {
		t.Fatal(err)
	}
	in := s.Instances[0]
	if !strings.Contains(in.Reason, "track script app failed") || in.EffectivePriority != 0 {
		t.Errorf("node 0: reason %q, effective priority %d; want the script named and 0", in.Reason, in.EffectivePriority)
	}
	if in.LastTransition == nil || in.LastTransition.To != "FAULT" || !strings.Contains(in.LastTransition.Reason, "track script app") {
		t.Errorf("node 0: last transition %+v, want to FAULT because of the script", in.LastTransition)
	}
	i := slices.IndexFunc(in.Checks, func(ch struct {
		Type    string `json:"type"`
		Name    string `json:"name"`
		Healthy bool   `json:"healthy"`
		Detail  string `json:"detail"`
		Runs    int    `json:"runs"`
	}) bool {
		return ch.Type == "track_script"
	})
	if i < 0 || in.Checks[i].Healthy || in.Checks[i].Runs < 2 || !strings.Contains(in.Checks[i].Detail, "exit status 1") {
		t.Errorf("node 0: checks %+v, want the script failed with exit status 1", in.Checks)
	}
	table, _, err := c.havip(0, "status", "--socket", c.nodes[0].socket)
	if err != nil || !strings.Contains(string(table), "track_script app") || !strings.Contains(string(table), "FAILED") {
		t.Errorf("havip status table does not show the failed check (err %v):\n%s", err, table)
	}

	// Healthy again: back to BACKUP, and the ranking (preempt) gives it
	// the VIP again.
	c.setFlag(0, false)
	c.waitHolders(vip, 0)
	c.waitStatus(allNodes(2), expectRole("web", 0))
}

func TestTrackScriptWeight(t *testing.T) {
	c := newCluster(t, 2, false)
	vip := testbed.VIP4(0)
	inst := web(true, 150, 100)
	inst.Extra = flagScript(c.dir, 60, 1, 1)
	c.configure(c.opts(inst))
	c.startAll()
	c.waitHolders(vip, 0)

	// 150 - 60 = 90 < 100: node 1 ranks first, node 0 stays eligible.
	c.setFlag(0, true)
	c.waitHolders(vip, 1)
	c.waitStatus(allNodes(2), expectRole("web", 1))
	s, err := c.fullStatus(0)
	if err != nil {
		t.Fatal(err)
	}
	if in := s.Instances[0]; in.EffectivePriority != 90 || in.Penalty != 60 {
		t.Errorf("node 0: effective priority %d, penalty %d; want 90 and 60", in.EffectivePriority, in.Penalty)
	}
	c.setFlag(0, false)
	c.waitHolders(vip, 0)
}

func TestTrackInterface(t *testing.T) {
	c := newCluster(t, 2, false)
	vip := testbed.VIP4(0)
	if err := c.net.AddVeth(0, "eth1", "eth1-peer"); err != nil {
		t.Fatal(err)
	}
	o := c.opts(web(true, 150, 100))
	c.configureNode(1, o)
	o.Instances[0].Extra = `track_interfaces = ["eth1"]`
	c.configureNode(0, o)
	c.startAll()
	c.waitHolders(vip, 0)

	if err := c.net.SetLink(0, "eth1", false); err != nil {
		t.Fatal(err)
	}
	c.waitHolders(vip, 1)
	c.waitStatus([]int{0}, func(i int, s *status) error {
		if err := expectState("web", "FAULT")(i, s); err != nil {
			return err
		}
		return nil
	})
	s, err := c.fullStatus(0)
	if err != nil {
		t.Fatal(err)
	}
	if r := s.Instances[0].Reason; !strings.Contains(r, "eth1 down") {
		t.Errorf("node 0: reason %q, want eth1 named", r)
	}

	if err := c.net.SetLink(0, "eth1", true); err != nil {
		t.Fatal(err)
	}
	c.waitHolders(vip, 0)
	c.waitStatus(allNodes(2), expectRole("web", 0))
}

// TestFaultSourcesCombine: a failing script and a tracked link down at
// once; clearing one keeps FAULT, clearing both ends it.
func TestFaultSourcesCombine(t *testing.T) {
	c := newCluster(t, 2, false)
	vip := testbed.VIP4(0)
	if err := c.net.AddVeth(0, "eth1", "eth1-peer"); err != nil {
		t.Fatal(err)
	}
	o := c.opts(web(true, 150, 100))
	c.configureNode(1, o)
	o.Instances[0].Extra = "track_interfaces = [\"eth1\"]\n" + flagScript(c.dir, 0, 1, 1)
	c.configureNode(0, o)
	c.startAll()
	c.waitHolders(vip, 0)

	c.setFlag(0, true)
	if err := c.net.SetLink(0, "eth1", false); err != nil {
		t.Fatal(err)
	}
	c.waitHolders(vip, 1)
	c.waitStatus([]int{0}, expectState("web", "FAULT"))
	c.setFlag(0, false)
	// Still down: stays in FAULT.
	time.Sleep(500 * time.Millisecond)
	c.waitStatus([]int{0}, expectState("web", "FAULT"))
	s, err := c.fullStatus(0)
	if err != nil {
		t.Fatal(err)
	}
	if r := s.Instances[0].Reason; !strings.Contains(r, "eth1 down") || strings.Contains(r, "track script") {
		t.Errorf("node 0: reason %q, want only the link", r)
	}
	if err := c.net.SetLink(0, "eth1", true); err != nil {
		t.Fatal(err)
	}
	c.waitHolders(vip, 0)
}

func TestNotifyHooks(t *testing.T) {
	c := newCluster(t, 2, false)
	vip := testbed.VIP4(0)
	hook := fmt.Sprintf(`['/bin/sh', '-c', 'echo "$2 $HAVIP_STATE $HAVIP_NODE $1 $3 $HAVIP_VIPS" >> "$0/$HAVIP_NODE.notify"', '%s']`, c.dir)
	inst := web(true, 150, 100)
	inst.Extra = flagScript(c.dir, 0, 1, 1) + fmt.Sprintf("[instance.notify]\nmaster = %s\nbackup = %s\nfault = %s\n", hook, hook, hook)
	c.configure(c.opts(inst))
	c.startAll()
	c.waitHolders(vip, 0)
	c.setFlag(0, true)
	c.waitHolders(vip, 1)
	c.waitStatus([]int{0}, expectState("web", "FAULT"))
	c.setFlag(0, false)
	c.waitHolders(vip, 0)

	want := []string{"MASTER", "FAULT", "BACKUP", "MASTER"}
	file := filepath.Join(c.dir, "node0.notify")
	var lines []string
	err := waitFor(func() error {
		data, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		lines = strings.Split(strings.TrimSpace(string(data)), "\n")
		var states []string
		for _, l := range lines {
			f := strings.Fields(l)
			if len(f) != 6 {
				return fmt.Errorf("hook line %q: want 6 fields", l)
			}
			if f[0] != f[1] || f[2] != "node0" || f[3] != "web" || f[4] != "198.18.0.100/32" || f[5] != f[4] {
				return fmt.Errorf("hook line %q: arguments and environment disagree", l)
			}
			states = append(states, f[0])
		}
		// Start-up may pass through BACKUP before MASTER.
		if len(states) > 0 && states[0] == "BACKUP" {
			states = states[1:]
		}
		if !slices.Equal(states, want) {
			return fmt.Errorf("hooks ran for %v, want %v", states, want)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, strings.Join(lines, "\n"))
	}
	// Node 1 went BACKUP, MASTER, BACKUP.
	data, err := os.ReadFile(filepath.Join(c.dir, "node1.notify"))
	if err != nil {
		t.Fatal(err)
	}
	var states []string
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		states = append(states, strings.Fields(l)[0])
	}
	if !slices.Equal(states, []string{"BACKUP", "MASTER", "BACKUP"}) {
		t.Errorf("node 1 hooks ran for %v, want BACKUP MASTER BACKUP", states)
	}
}

// logTime returns the time of the first line of node i's log after from
// that matches re.
func (c *cluster) logTime(i int, from time.Time, re *regexp.Regexp) (time.Time, error) {
	data, err := os.ReadFile(c.nodes[i].logPath)
	if err != nil {
		return time.Time{}, err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		ts, ok := strings.CutPrefix(line, "time=")
		if !ok {
			continue
		}
		ts, _, _ = strings.Cut(ts, " ")
		at, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil || at.Before(from.Truncate(time.Millisecond)) {
			continue
		}
		if re.MatchString(line) {
			return at, nil
		}
	}
	return time.Time{}, fmt.Errorf("node %d: no log line matching %s after %s", i, re, from.Format(time.RFC3339Nano))
}

// takeoverTime measures, from the logs, how long after node from's line
// matching cause node to became MASTER of web.
func (c *cluster) takeoverTime(start time.Time, from int, cause string, to int) time.Duration {
	c.t.Helper()
	t0, err := c.logTime(from, start, regexp.MustCompile(cause))
	if err != nil {
		c.t.Fatal(err)
	}
	t1, err := c.logTime(to, start, regexp.MustCompile(`msg=transition .*instance=web .*state=MASTER`))
	if err != nil {
		c.t.Fatal(err)
	}
	return t1.Sub(t0)
}

// handedOver checks that a handover came from the old holder's release,
// not from detecting a failure: the new master still sees the old one as
// an alive member. (The time it took is logged, never asserted: these
// machines are shared and noisy.)
func handedOver(t *testing.T, c *cluster, newMaster, oldMaster int) {
	t.Helper()
	s, err := c.status(newMaster)
	if err != nil {
		t.Fatal(err)
	}
	m, ok := s.member(testbed.NodeName(oldMaster))
	if !ok || m.State != "alive" {
		t.Errorf("node %d sees node %d as %+v after the handover, want alive (a release, not a failure)", newMaster, oldMaster, m)
	}
}

func TestMaintenance(t *testing.T) {
	c := newCluster(t, 2, false)
	vip := testbed.VIP4(0)
	c.configure(c.opts(web(true, 150, 100)))
	c.startAll()
	c.waitHolders(vip, 0)
	c.waitStatus(allNodes(2), expectRole("web", 0))

	start := time.Now()
	out, stderr, err := c.havip(0, "maintenance", "on", "--socket", c.nodes[0].socket)
	if err != nil {
		t.Fatalf("havip maintenance on: %v: %s", err, stderr)
	}
	if !strings.Contains(string(out), "maintenance on") {
		t.Errorf("havip maintenance on printed %q", out)
	}
	c.waitHolders(vip, 1)
	took := c.takeoverTime(start, 0, `msg=maintenance .*on=true`, 1)
	t.Logf("maintenance on node 0 -> node 1 MASTER: %v (gossip interval 20ms)", took)
	handedOver(t, c, 1, 0)
	c.waitStatus(allNodes(2), expectRole("web", 1))
	s, err := c.fullStatus(0)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Maintenance || s.Instances[0].EffectivePriority != 0 {
		t.Errorf("node 0: maintenance %t, effective priority %d; want true and 0", s.Maintenance, s.Instances[0].EffectivePriority)
	}
	table, _, _ := c.havip(0, "status", "--socket", c.nodes[0].socket)
	if !strings.Contains(string(table), "MAINTENANCE") {
		t.Errorf("havip status does not say MAINTENANCE:\n%s", table)
	}

	// It survives a restart.
	if code := c.stop(0); code != 0 {
		t.Fatalf("node 0 exited %d", code)
	}
	c.start(0)
	c.waitStatus([]int{0}, func(i int, s *status) error { return expectRole("web", 1)(i, s) })
	c.keepHolders(time.Second, vip, 1)
	if s, err := c.fullStatus(0); err != nil || !s.Maintenance {
		t.Fatalf("node 0 after a restart: maintenance %v (err %v), want true", s != nil && s.Maintenance, err)
	}

	_, stderr, err = c.havip(0, "maintenance", "off", "--socket", c.nodes[0].socket)
	if err != nil {
		t.Fatalf("havip maintenance off: %v: %s", err, stderr)
	}
	c.waitHolders(vip, 0)
	c.waitStatus(allNodes(2), expectRole("web", 0))

	_, _, err = c.havip(0, "maintenance", "sideways", "--socket", c.nodes[0].socket)
	if code := testbed.ExitCode(err); code != 2 {
		t.Errorf("havip maintenance sideways: exit %d, want 2", code)
	}
}

func TestSwitchover(t *testing.T) {
	c := newCluster(t, 3, false)
	vip := testbed.VIP4(0)
	c.configure(c.opts(web(true, 150, 100, 50)))
	c.startAll()
	c.waitHolders(vip, 0)
	c.waitStatus(allNodes(3), expectRole("web", 0))

	// Asked on a node that is not involved.
	start := time.Now()
	out, stderr, err := c.havip(1, "switchover", "--to", "node2", "--socket", c.nodes[1].socket)
	if err != nil {
		t.Fatalf("havip switchover --to node2: %v: %s", err, stderr)
	}
	if !strings.Contains(string(out), "node2") {
		t.Errorf("havip switchover printed %q", out)
	}
	c.waitHolders(vip, 2)
	took := c.takeoverTime(start, 1, `msg=switchover .*instance=web peer=node2`, 2)
	t.Logf("switchover asked on node 1 -> node 2 MASTER: %v (gossip interval 20ms)", took)
	handedOver(t, c, 2, 0)
	// The choice holds against preemption.
	c.keepHolders(time.Second, vip, 2)
	c.waitStatus(allNodes(3), expectRole("web", 2))

	// Refused: unknown node, and a node that is not alive.
	_, stderr, err = c.havip(0, "switchover", "--to", "node9", "--socket", c.nodes[0].socket)
	if code := testbed.ExitCode(err); code != 1 || !strings.Contains(string(stderr), "node9") {
		t.Errorf("switchover to node9: exit %d, stderr %q; want 1 and the node named", code, stderr)
	}
	if code := c.stop(1); code != 0 {
		t.Fatalf("node 1 exited %d", code)
	}
	c.waitStatus([]int{0}, func(i int, s *status) error {
		if m, ok := s.member("node1"); ok && m.State == "alive" {
			return fmt.Errorf("node1 still alive")
		}
		return nil
	})
	_, stderr, err = c.havip(0, "switchover", "--to", "node1", "--socket", c.nodes[0].socket)
	if code := testbed.ExitCode(err); code != 1 || !strings.Contains(string(stderr), "node1") {
		t.Errorf("switchover to a stopped node: exit %d, stderr %q; want 1 and the node named", code, stderr)
	}
	c.keepHolders(500*time.Millisecond, vip, 2)

	// Without --to: the best other node.
	_, stderr, err = c.havip(2, "switchover", "--socket", c.nodes[2].socket)
	if err != nil {
		t.Fatalf("havip switchover: %v: %s", err, stderr)
	}
	c.waitHolders(vip, 0)
}

func TestSwitchoverNeedsInstance(t *testing.T) {
	c := newCluster(t, 2, false)
	db := testbed.InstanceOpts{Name: "db", VIPs: []netip.Addr{testbed.VIP4(1)}, Priority: []int{100, 150}, Preempt: true}
	c.configure(c.opts(web(true, 150, 100), db))
	c.startAll()
	c.waitHolders(testbed.VIP4(0), 0)
	c.waitHolders(testbed.VIP4(1), 1)
	_, stderr, err := c.havip(0, "switchover", "--socket", c.nodes[0].socket)
	if code := testbed.ExitCode(err); code != 2 || !strings.Contains(string(stderr), "--instance") {
		t.Errorf("switchover with two instances: exit %d, stderr %q; want 2 and a hint", code, stderr)
	}
	_, stderr, err = c.havip(0, "switchover", "--instance", "db", "--socket", c.nodes[0].socket)
	if err != nil {
		t.Fatalf("switchover --instance db: %v: %s", err, stderr)
	}
	c.waitHolders(testbed.VIP4(1), 0)
	c.keepHolders(500*time.Millisecond, testbed.VIP4(0), 0)
}

func TestReloadPriority(t *testing.T) {
	c := newCluster(t, 2, false)
	vip, dbVIP := testbed.VIP4(0), testbed.VIP4(1)
	db := testbed.InstanceOpts{Name: "db", VIPs: []netip.Addr{dbVIP}, Priority: []int{150, 100}, Preempt: true}
	c.configure(c.opts(web(true, 150, 100), db))
	c.startAll()
	c.waitHolders(vip, 0)
	c.waitHolders(dbVIP, 0)
	c.waitStatus(allNodes(2), expectRole("db", 0))
	before, err := c.fullStatus(0)
	if err != nil {
		t.Fatal(err)
	}
	pid := c.running(1).PID

	// Node 1 raises its priority for web only.
	c.configureNode(1, c.opts(web(true, 150, 200), db))
	if err := c.running(1).Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	c.waitHolders(vip, 1)
	c.waitStatus(allNodes(2), expectRole("web", 1))
	if p := c.running(1); p.PID != pid {
		t.Errorf("node 1 PID %d after reload, was %d", p.PID, pid)
	}
	// db did not move or flap on node 0.
	c.keepHolders(500*time.Millisecond, dbVIP, 0)
	after, err := c.fullStatus(0)
	if err != nil {
		t.Fatal(err)
	}
	if before.Instances[1].Since != after.Instances[1].Since {
		t.Errorf("db changed state on node 0 (since %s, then %s)", before.Instances[1].Since, after.Instances[1].Since)
	}
	if _, err := c.logTime(1, time.Time{}, regexp.MustCompile(`msg="configuration reloaded".*changed=web `)); err != nil {
		t.Error(err)
	}

	// A VIP added to db by reload on its master: the VIP is added, the
	// existing one stays.
	db.VIPs = []netip.Addr{dbVIP, testbed.VIP4(2)}
	c.configureNode(0, c.opts(web(true, 150, 100), db))
	_, stderr, err := c.havip(0, "reload", "--socket", c.nodes[0].socket)
	if err != nil {
		t.Fatalf("havip reload: %v: %s", err, stderr)
	}
	c.waitHolders(testbed.VIP4(2), 0)
	c.keepHolders(300*time.Millisecond, dbVIP, 0)
	after2, err := c.fullStatus(0)
	if err != nil {
		t.Fatal(err)
	}
	if before.Instances[1].Since != after2.Instances[1].Since {
		t.Errorf("db changed state on node 0 when a VIP was added")
	}
}

func TestReloadBrokenFile(t *testing.T) {
	c := newCluster(t, 2, false)
	vip := testbed.VIP4(0)
	c.configure(c.opts(web(true, 150, 100)))
	c.startAll()
	c.waitHolders(vip, 0)
	good, err := os.ReadFile(c.nodes[0].config)
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(good), "priority = 150", "priority = 1500\nbogus_key = 1", 1)
	if err := os.WriteFile(c.nodes[0].config, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := c.running(0).Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	err = waitFor(func() error {
		_, err := c.logTime(0, start, regexp.MustCompile(`reload refused.*priority: must be 1..255, not 1500`))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	c.keepHolders(time.Second, vip, 0)
	c.waitStatus(allNodes(2), expectRole("web", 0))
	_, stderr, err := c.havip(0, "reload", "--socket", c.nodes[0].socket)
	if code := testbed.ExitCode(err); code != 1 || !strings.Contains(string(stderr), "bogus_key") {
		t.Errorf("havip reload of a broken file: exit %d, stderr %q; want 1 and the problem", code, stderr)
	}

	// A change that needs a restart is reported, and the rest applies.
	o := c.opts(web(true, 150, 100))
	o.Name = "renamed"
	c.configureNode(0, o)
	out, stderr, err := c.havip(0, "reload", "--socket", c.nodes[0].socket)
	if err != nil || !strings.Contains(string(out), "cluster.name") {
		t.Errorf("havip reload with a new cluster name: %v, %s%s; want cluster.name named as needing a restart", err, out, stderr)
	}
	c.keepHolders(500*time.Millisecond, vip, 0)
}

func TestMetrics(t *testing.T) {
	c := newCluster(t, 2, false)
	vip := testbed.VIP4(0)
	o := c.opts(web(true, 150, 100))
	o.StatusExtra = `metrics = "127.0.0.1:9650"`
	c.configure(o)
	c.startAll()
	c.waitHolders(vip, 0)
	c.waitStatus(allNodes(2), expectRole("web", 0))

	fams := c.metrics(0)
	wantGauge(t, fams, "havip_instance_state", map[string]string{"instance": "web", "state": "MASTER"}, 1)
	wantGauge(t, fams, "havip_instance_state", map[string]string{"instance": "web", "state": "BACKUP"}, 0)
	wantGauge(t, fams, "havip_instance_effective_priority", map[string]string{"instance": "web"}, 150)
	wantGauge(t, fams, "havip_instance_master", map[string]string{"instance": "web", "master": "node0"}, 1)
	wantGauge(t, fams, "havip_member_state", map[string]string{"member": "node1", "state": "alive"}, 1)
	if v := value(fams, "havip_transitions_total", map[string]string{"instance": "web", "to": "MASTER"}); v < 1 {
		t.Errorf("havip_transitions_total to MASTER = %v, want >= 1", v)
	}
	err := waitFor(func() error {
		if v := value(c.metrics(0), "havip_announcements_sent_total", map[string]string{"instance": "web"}); v < 5 {
			return fmt.Errorf("havip_announcements_sent_total = %v, want >= 5", v)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}

	// Node 0 leaves: node 1 takes over and times it.
	if code := c.stop(0); code != 0 {
		t.Fatalf("node 0 exited %d", code)
	}
	c.waitHolders(vip, 1)
	fams = c.metrics(1)
	wantGauge(t, fams, "havip_instance_state", map[string]string{"instance": "web", "state": "MASTER"}, 1)
	h := metric(fams, "havip_failover_duration_seconds", map[string]string{"instance": "web"})
	if h == nil || h.GetHistogram().GetSampleCount() != 1 {
		t.Fatalf("havip_failover_duration_seconds on node 1: %v, want one sample", h)
	}
	t.Logf("failover duration seen by node 1 (release seen -> MASTER): %.6fs", h.GetHistogram().GetSampleSum())
}

// metrics scrapes node i's /metrics from inside its namespace and parses
// it as Prometheus text.
func (c *cluster) metrics(i int) map[string]*dto.MetricFamily {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdWait)
	defer cancel()
	var body []byte
	err := testbed.WaitUntil(ctx, cmdWait, func() error {
		var err error
		body, err = c.net.HTTPGet(ctx, c.nodes[i].ns, "http://127.0.0.1:9650/metrics")
		return err
	})
	if err != nil {
		c.t.Fatal(err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		c.t.Fatalf("node %d: /metrics is not Prometheus text: %v", i, err)
	}
	return fams
}

func metric(fams map[string]*dto.MetricFamily, name string, labels map[string]string) *dto.Metric {
	f := fams[name]
	if f == nil {
		return nil
	}
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range labels {
			if have[k] != v {
				continue next
			}
		}
		return m
	}
	return nil
}

// value sums the matching series' values (gauges and counters).
func value(fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	f := fams[name]
	if f == nil {
		return -1
	}
	sum := 0.0
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range labels {
			if have[k] != v {
				continue next
			}
		}
		sum += m.GetGauge().GetValue() + m.GetCounter().GetValue()
	}
	return sum
}

func wantGauge(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string, want float64) {
	t.Helper()
	m := metric(fams, name, labels)
	if m == nil {
		t.Errorf("%s%v missing", name, labels)
		return
	}
	if got := m.GetGauge().GetValue(); got != want {
		t.Errorf("%s%v = %v, want %v", name, labels, got, want)
	}
}

// TestReloadChecksAndHooks adds a failing track script and a notify hook
// to a running master by SIGHUP, then takes the script away again.
func TestReloadChecksAndHooks(t *testing.T) {
	c := newCluster(t, 2, false)
	vip := testbed.VIP4(0)
	c.configure(c.opts(web(true, 150, 100)))
	c.startAll()
	c.waitHolders(vip, 0)
	pid := c.running(0).PID

	c.setFlag(0, true)
	hook := fmt.Sprintf(`['/bin/sh', '-c', 'echo "$2" >> "$0/$HAVIP_NODE.notify"', '%s']`, c.dir)
	inst := web(true, 150, 100)
	inst.Extra = flagScript(c.dir, 0, 1, 1) + fmt.Sprintf("[instance.notify]\nfault = %s\nbackup = %s\nmaster = %s\n", hook, hook, hook)
	c.configureNode(0, c.opts(inst))
	if err := c.running(0).Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	c.waitHolders(vip, 1)
	c.waitStatus([]int{0}, expectState("web", "FAULT"))

	// The script goes with the next reload; the hook stays and sees the
	// way back.
	inst.Extra = fmt.Sprintf("[instance.notify]\nfault = %s\nbackup = %s\nmaster = %s\n", hook, hook, hook)
	c.configureNode(0, c.opts(inst))
	if err := c.running(0).Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	c.waitHolders(vip, 0)
	c.waitStatus(allNodes(2), expectRole("web", 0))
	if p := c.running(0); p.PID != pid {
		t.Errorf("node 0 PID %d after reloads, was %d", p.PID, pid)
	}
	s, err := c.fullStatus(0)
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range s.Instances[0].Checks {
		if ch.Type == "track_script" {
			t.Errorf("track script still listed after it was removed: %+v", ch)
		}
	}
	err = waitFor(func() error {
		data, err := os.ReadFile(filepath.Join(c.dir, "node0.notify"))
		if err != nil {
			return err
		}
		if got := strings.Fields(string(data)); !slices.Equal(got, []string{"FAULT", "BACKUP", "MASTER"}) {
			return fmt.Errorf("hooks ran for %v, want FAULT BACKUP MASTER", got)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

// TestTrackScriptAtStart: a node whose check fails when it starts never
// takes the VIP, not even for the length of one run.
func TestTrackScriptAtStart(t *testing.T) {
	c := newCluster(t, 2, false)
	vip := testbed.VIP4(0)
	inst := web(true, 150, 100)
	inst.Extra = flagScript(c.dir, 0, 2, 2)
	c.configure(c.opts(inst))
	c.start(1)
	c.waitHolders(vip, 1)
	c.setFlag(0, true)
	c.start(0)
	c.waitStatus([]int{0}, expectState("web", "FAULT"))
	c.keepHolders(time.Second, vip, 1)
	if _, err := c.logTime(0, time.Time{}, regexp.MustCompile(`msg="VIPs added"`)); err == nil {
		t.Error("node 0 added the VIP while its check failed")
	}
	if _, err := c.logTime(0, time.Time{}, regexp.MustCompile(`msg=transition .*from=INIT state=FAULT`)); err != nil {
		t.Errorf("node 0 did not go from INIT straight to FAULT: %v", err)
	}
	c.setFlag(0, false)
	c.waitHolders(vip, 0)
}

// TestReloadAddRemove adds an instance to a running node and removes
// another one from it.
func TestReloadAddRemove(t *testing.T) {
	c := newCluster(t, 2, false)
	vip, dbVIP := testbed.VIP4(0), testbed.VIP4(1)
	db := testbed.InstanceOpts{Name: "db", VIPs: []netip.Addr{dbVIP}, Priority: []int{150, 100}, Preempt: true}
	c.configureNode(0, c.opts(web(true, 150, 100)))
	c.configureNode(1, c.opts(web(true, 150, 100), db))
	c.startAll()
	c.waitHolders(vip, 0)
	c.waitHolders(dbVIP, 1)

	// node0 gains db (and ranks first for it), keeps web.
	c.configureNode(0, c.opts(web(true, 150, 100), db))
	out, stderr, err := c.havip(0, "reload", "--socket", c.nodes[0].socket)
	if err != nil || !strings.Contains(string(out), "added db") {
		t.Fatalf("havip reload: %v: %s%s", err, out, stderr)
	}
	c.waitHolders(dbVIP, 0)
	c.waitStatus(allNodes(2), expectRole("db", 0))
	c.keepHolders(300*time.Millisecond, vip, 0)

	// node0 drops web: it releases, node1 takes it.
	c.configureNode(0, c.opts(db))
	out, stderr, err = c.havip(0, "reload", "--socket", c.nodes[0].socket)
	if err != nil || !strings.Contains(string(out), "removed web") {
		t.Fatalf("havip reload: %v: %s%s", err, out, stderr)
	}
	c.waitHolders(vip, 1)
	c.keepHolders(300*time.Millisecond, dbVIP, 0)
	s, err := c.fullStatus(0)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Instances) != 1 || s.Instances[0].Name != "db" {
		t.Errorf("node 0 lists %+v, want db alone", s.Instances)
	}
}

// TestTrackScriptWeightAtStart: a node that starts with a failing
// weighted check ranks with the lowered priority from its first
// decision, so it never takes the VIP.
func TestTrackScriptWeightAtStart(t *testing.T) {
	c := newCluster(t, 2, false)
	vip := testbed.VIP4(0)
	inst := web(true, 150, 100)
	inst.Extra = flagScript(c.dir, 60, 1, 1)
	c.configure(c.opts(inst))
	c.start(1)
	c.waitHolders(vip, 1)
	c.setFlag(0, true)
	c.start(0)
	c.waitStatus(allNodes(2), expectRole("web", 1))
	c.keepHolders(time.Second, vip, 1)
	if _, err := c.logTime(0, time.Time{}, regexp.MustCompile(`msg="VIPs added"`)); err == nil {
		t.Error("node 0 added the VIP while its weighted check failed")
	}
	s, err := c.fullStatus(0)
	if err != nil {
		t.Fatal(err)
	}
	if in := s.Instances[0]; in.EffectivePriority != 90 {
		t.Errorf("node 0: effective priority %d, want 90", in.EffectivePriority)
	}
	c.setFlag(0, false)
	c.waitHolders(vip, 0)
}
