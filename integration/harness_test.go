package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/havip/havip/internal/testbed"
)

// Deadlines are generous: the tests check what happens, not how fast.
const (
	settle    = 30 * time.Second // an election or a failover
	stopGrace = 5 * time.Second  // SIGTERM before SIGKILL in cleanups
	exitWait  = 15 * time.Second // a graceful stop the test asserts on
	cmdWait   = 10 * time.Second // one havip status / check
)

var (
	havipBin string
	buildErr error
	// runDir is the run's own temporary directory, removed at its end:
	// what the tests build goes there.
	runDir string
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "havip-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	runDir = dir

	root, _ := privileged()
	if root {
		// Namespaces of earlier runs that were killed before their
		// cleanups (a test timeout, for one).
		if err := testbed.SweepStale(); err != nil {
			fmt.Fprintln(os.Stderr, "removing stale test namespaces:", err)
		}
	}
	if bin := os.Getenv("HAVIP_BIN"); bin != "" {
		havipBin, buildErr = filepath.Abs(bin)
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		havipBin, buildErr = testbed.BuildHavip(ctx, dir, "havip_failpoints")
		cancel()
	}
	if buildErr != nil {
		fmt.Fprintln(os.Stderr, buildErr)
	}
	code := m.Run()
	if root {
		if err := testbed.SweepRun(); err != nil {
			fmt.Fprintln(os.Stderr, "removing test namespaces:", err)
			code = 1
		}
	}
	return code
}

// requireHavip fails the test when the binary could not be built.
func requireHavip(t *testing.T) {
	t.Helper()
	if buildErr != nil {
		t.Fatal(buildErr)
	}
}

// privileged reports whether this process can build namespaces, and why
// not.
func privileged() (bool, string) {
	if os.Geteuid() != 0 {
		return false, "needs root: builds network namespaces, veth pairs and a bridge"
	}
	for _, cmd := range []string{"ip", "ping"} {
		if _, err := exec.LookPath(cmd); err != nil {
			return false, fmt.Sprintf("needs the %s command: %v", cmd, err)
		}
	}
	return true, ""
}

// requireNamespaces skips the test unless it can build namespaces.
func requireNamespaces(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: skipping the network namespace tests")
	}
	if ok, why := privileged(); !ok {
		t.Skip(why)
	}
	requireHavip(t)
}

// cluster is one topology with a havip daemon per node.
type cluster struct {
	t     *testing.T
	net   *testbed.Net
	dir   string
	nodes []*daemon
}

type daemon struct {
	ns      string
	config  string
	socket  string
	logPath string
	proc    *testbed.Proc
	starts  int
	// env is added to the daemon's environment (NAME=value).
	env []string
}

// newCluster builds a topology of n nodes; nothing runs on it yet. The
// cleanups stop every daemon (SIGTERM, SIGKILL after stopGrace), print the
// logs and the addresses when the test failed, and remove the namespaces.
func newCluster(t *testing.T, n int, ipv6 bool) *cluster {
	t.Helper()
	requireNamespaces(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tb, err := testbed.New(ctx, testbed.Options{Nodes: n, IPv6: ipv6})
	if err != nil {
		t.Fatalf("building the topology: %v", err)
	}
	t.Cleanup(func() {
		if err := tb.Close(); err != nil {
			t.Errorf("removing the topology: %v", err)
		}
	})
	c := &cluster{t: t, net: tb, dir: t.TempDir()}
	for i := range n {
		c.nodes = append(c.nodes, &daemon{
			ns:      tb.Nodes[i].NS,
			config:  filepath.Join(c.dir, fmt.Sprintf("node%d.toml", i)),
			socket:  testbed.SocketPath(c.dir, i),
			logPath: filepath.Join(c.dir, fmt.Sprintf("node%d.log", i)),
		})
	}
	t.Cleanup(c.shutdown)
	return c
}

// opts returns the cluster options every test starts from: all nodes are
// members, fast timing, no key.
func (c *cluster) opts(instances ...testbed.InstanceOpts) testbed.ClusterOpts {
	return testbed.ClusterOpts{
		Nodes:     len(c.nodes),
		Timing:    "fast",
		SocketDir: c.dir,
		Instances: instances,
	}
}

// configure writes every node's configuration.
func (c *cluster) configure(o testbed.ClusterOpts) {
	c.t.Helper()
	for i := range c.nodes {
		c.configureNode(i, o)
	}
}

// configureNode writes node i's configuration.
func (c *cluster) configureNode(i int, o testbed.ClusterOpts) {
	c.t.Helper()
	o.SocketDir = c.dir
	if _, err := testbed.WriteNodeConfig(c.nodes[i].config, i, o); err != nil {
		c.t.Fatal(err)
	}
}

// start runs havip run on node i, its output appended to the node's log.
func (c *cluster) start(i int) {
	c.t.Helper()
	d := c.nodes[i]
	if d.proc != nil && !d.proc.Exited() {
		c.t.Fatalf("node %d: havip already runs (pid %d)", i, d.proc.PID)
	}
	f, err := os.OpenFile(d.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		c.t.Fatal(err)
	}
	defer f.Close()
	d.starts++
	fmt.Fprintf(f, "=== %s: havip run, start %d ===\n", time.Now().Format(time.RFC3339Nano), d.starts)
	argv := []string{havipBin, "run", "--config", d.config}
	if len(d.env) > 0 {
		argv = append(append([]string{"env"}, d.env...), argv...)
	}
	p, err := c.net.Start(d.ns, argv, f, f)
	if err != nil {
		c.t.Fatal(err)
	}
	d.proc = p
}

func (c *cluster) startAll() {
	c.t.Helper()
	for i := range c.nodes {
		c.start(i)
	}
}

// running fails the test unless node i's daemon runs.
func (c *cluster) running(i int) *testbed.Proc {
	c.t.Helper()
	p := c.nodes[i].proc
	if p == nil || p.Exited() {
		c.t.Fatalf("node %d: havip is not running", i)
	}
	return p
}

// stop sends SIGTERM to node i's daemon and returns its exit code; the test
// fails when it does not exit within exitWait.
func (c *cluster) stop(i int) int {
	c.t.Helper()
	p := c.running(i)
	if err := p.Signal(syscall.SIGTERM); err != nil {
		c.t.Fatalf("node %d: SIGTERM: %v", i, err)
	}
	st, err := p.Wait(exitWait)
	if err != nil {
		if kerr := p.Kill(); kerr == nil {
			_, _ = p.Wait(exitWait)
		}
		c.t.Fatalf("node %d: after SIGTERM: %v", i, err)
	}
	return st.ExitCode()
}

// kill9 sends SIGKILL to node i's daemon and waits for it to be gone.
func (c *cluster) kill9(i int) {
	c.t.Helper()
	p := c.running(i)
	if err := p.Kill(); err != nil {
		c.t.Fatalf("node %d: SIGKILL: %v", i, err)
	}
	if _, err := p.Wait(exitWait); err != nil {
		c.t.Fatalf("node %d: after SIGKILL: %v", i, err)
	}
}

// shutdown stops every daemon still running and, when the test failed,
// prints which addresses the nodes had at the time and what they logged.
func (c *cluster) shutdown() {
	var addrs []string
	if c.t.Failed() {
		for i, d := range c.nodes {
			line := fmt.Sprintf("node %d (%s, %s): ", i, d.ns, c.net.Nodes[i].MAC)
			if l, err := c.net.NodeEth0(i); err != nil {
				line += err.Error()
			} else {
				var as []string
				for _, a := range l.Addrs {
					as = append(as, a.Prefix.String())
				}
				line += fmt.Sprintf("eth0 %v, carrier %t", as, l.Carrier())
			}
			addrs = append(addrs, line)
		}
	}

	var procs []*testbed.Proc
	for _, d := range c.nodes {
		if d.proc != nil && d.proc.Signal(syscall.SIGTERM) == nil {
			procs = append(procs, d.proc)
		}
	}
	deadline := time.Now().Add(stopGrace)
	for _, p := range procs {
		if _, err := p.Wait(time.Until(deadline)); err == nil {
			continue
		}
		c.t.Logf("pid %d did not exit %v after SIGTERM: killing it", p.PID, stopGrace)
		if err := p.Kill(); err == nil {
			_, _ = p.Wait(exitWait)
		}
	}
	if !c.t.Failed() {
		return
	}
	c.t.Logf("at the failure:\n%s", strings.Join(addrs, "\n"))
	for i, d := range c.nodes {
		data, err := os.ReadFile(d.logPath)
		switch {
		case errors.Is(err, os.ErrNotExist):
			c.t.Logf("node %d: never started", i)
		case err != nil:
			c.t.Logf("node %d: reading the log: %v", i, err)
		default:
			c.t.Logf("node %d log:\n%s", i, data)
		}
	}
}

// status is the part of havip status --json the tests read.
type status struct {
	Node      string           `json:"node"`
	Instances []instanceStatus `json:"instances"`
	Members   []memberStatus   `json:"members"`
}

type instanceStatus struct {
	Name   string   `json:"name"`
	State  string   `json:"state"`
	Master string   `json:"master"`
	VIPs   []string `json:"vips"`
	Since  string   `json:"since"`
}

type memberStatus struct {
	Name     string `json:"name"`
	Addr     string `json:"addr"`
	State    string `json:"state"`
	Priority int    `json:"priority"`
}

func (s *status) instance(name string) (instanceStatus, error) {
	for _, in := range s.Instances {
		if in.Name == name {
			return in, nil
		}
	}
	return instanceStatus{}, fmt.Errorf("%s: no instance %q in status", s.Node, name)
}

func (s *status) member(name string) (memberStatus, bool) {
	for _, m := range s.Members {
		if m.Name == name {
			return m, true
		}
	}
	return memberStatus{}, false
}

// havip runs the binary with args inside node i's namespace.
func (c *cluster) havip(i int, args ...string) (stdout, stderr []byte, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), cmdWait)
	defer cancel()
	return c.net.ExecFull(ctx, c.nodes[i].ns, append([]string{havipBin}, args...)...)
}

// status runs havip status --json on node i.
func (c *cluster) status(i int) (*status, error) {
	out, _, err := c.havip(i, "status", "--json", "--socket", c.nodes[i].socket)
	if err != nil {
		return nil, fmt.Errorf("node %d: %w", i, err)
	}
	var s status
	if err := json.Unmarshal(out, &s); err != nil {
		return nil, fmt.Errorf("node %d: havip status --json: %w: %s", i, err, out)
	}
	if want := testbed.NodeName(i); s.Node != want {
		return nil, fmt.Errorf("node %d: status says node %q, want %q", i, s.Node, want)
	}
	return &s, nil
}

// waitStatus polls havip status on the given nodes until check accepts
// every one of them.
func (c *cluster) waitStatus(nodes []int, check func(i int, s *status) error) {
	c.t.Helper()
	err := testbed.WaitUntil(context.Background(), settle, func() error {
		for _, i := range nodes {
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
		c.t.Fatal(err)
	}
}

// waitHolders waits until exactly the nodes want have vip on eth0.
func (c *cluster) waitHolders(vip netip.Addr, want ...int) {
	c.t.Helper()
	if err := c.net.WaitHolders(context.Background(), vip, settle, want...); err != nil {
		c.t.Fatal(err)
	}
}

// waitHeldBy waits until node i has vip on eth0, whoever else has it.
func (c *cluster) waitHeldBy(vip netip.Addr, i int) {
	c.t.Helper()
	err := testbed.WaitUntil(context.Background(), settle, func() error {
		got, err := c.net.HoldersOf(vip)
		if err != nil {
			return err
		}
		if !slices.Contains(got, i) {
			return fmt.Errorf("holders of %s are %v, want node %d among them", vip, got, i)
		}
		return nil
	})
	if err != nil {
		c.t.Fatal(err)
	}
}

// keepHolders checks for d that exactly the nodes want hold vip.
func (c *cluster) keepHolders(d time.Duration, vip netip.Addr, want ...int) {
	c.t.Helper()
	err := testbed.Consistently(context.Background(), d, func() error {
		got, err := c.net.HoldersOf(vip)
		if err != nil {
			return err
		}
		if !slices.Equal(got, want) {
			return fmt.Errorf("holders of %s are %v, want %v", vip, got, want)
		}
		return nil
	})
	if err != nil {
		c.t.Fatal(err)
	}
}

// waitObserverReaches waits until the observer's ping of vip is answered
// and its neighbour entry is node i's MAC.
func (c *cluster) waitObserverReaches(vip netip.Addr, i int) {
	c.t.Helper()
	err := testbed.WaitUntil(context.Background(), settle, func() error {
		return c.net.ObserverReaches(vip, i)
	})
	if err != nil {
		c.t.Fatal(err)
	}
}

// expectRole is a waitStatus check for instance name: MASTER on node
// master, BACKUP on the others, and master named everywhere.
func expectRole(name string, master int) func(i int, s *status) error {
	return func(i int, s *status) error {
		in, err := s.instance(name)
		if err != nil {
			return err
		}
		want := "BACKUP"
		if i == master {
			want = "MASTER"
		}
		if in.State != want {
			return fmt.Errorf("instance %s: state %q, want %q", name, in.State, want)
		}
		if m := testbed.NodeName(master); in.Master != m {
			return fmt.Errorf("instance %s: master %q, want %q", name, in.Master, m)
		}
		return nil
	}
}

// vipStrings is how status lists VIPs: "198.18.0.100/32", "fd00::1/128".
func vipStrings(vips ...netip.Addr) []string {
	out := make([]string, len(vips))
	for i, v := range vips {
		out[i] = testbed.HostPrefix(v).String()
	}
	return out
}

// sameSet compares string lists ignoring order.
func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func nodesExcept(n int, except ...int) []int {
	var out []int
	for i := range n {
		if !slices.Contains(except, i) {
			out = append(out, i)
		}
	}
	return out
}

func allNodes(n int) []int { return nodesExcept(n) }

// waitFor polls cond until it returns nil, for up to settle.
func waitFor(cond func() error) error {
	return testbed.WaitUntil(context.Background(), settle, cond)
}
