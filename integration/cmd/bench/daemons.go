package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/havip/havip/internal/testbed"
)

// setup is one daemon at one setting: havip with a timing profile, or
// keepalived (VRRPv3) with an advert interval.
type setup struct {
	kind    string // "havip" or "keepalived"
	setting string // timing profile, or advert_int in seconds
}

func (s setup) String() string { return s.kind + "/" + s.setting }

// cluster is one topology with one daemon per node.
type cluster struct {
	b     *bench
	s     setup
	z     size
	net   *testbed.Net
	dir   string
	procs []*testbed.Proc
	logs  []string
}

func (b *bench) newCluster(ctx context.Context, s setup, z size) (*cluster, error) {
	tb, err := testbed.New(ctx, testbed.Options{Nodes: z.nodes})
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(b.work, strings.ReplaceAll(s.String(), "/", "-")+"-"+z.short()+"-")
	if err != nil {
		tb.Close()
		return nil, err
	}
	c := &cluster{b: b, s: s, z: z, net: tb, dir: dir, procs: make([]*testbed.Proc, z.nodes)}
	for i := range z.nodes {
		c.logs = append(c.logs, filepath.Join(dir, fmt.Sprintf("node%d.log", i)))
		if err := c.writeConfig(i); err != nil {
			c.close()
			return nil, err
		}
	}
	return c, nil
}

func (c *cluster) nodes() int { return len(c.net.Nodes) }

func (c *cluster) confPath(i int) string {
	ext := ".toml"
	if c.s.kind == "keepalived" {
		ext = ".conf"
	}
	return filepath.Join(c.dir, fmt.Sprintf("node%d%s", i, ext))
}

func (c *cluster) writeConfig(i int) error {
	if c.s.kind == "havip" {
		_, err := testbed.WriteNodeConfig(c.confPath(i), i, havipOpts(c.z, c.s.setting, c.dir))
		return err
	}
	return os.WriteFile(c.confPath(i), []byte(keepalivedConfig(c.z, i, c.s.setting)), 0o644)
}

// havipOpts is the havip configuration of every node of a cluster of
// size z: one instance per VIP, each with z.priority on every node.
func havipOpts(z size, timing, dir string) testbed.ClusterOpts {
	o := testbed.ClusterOpts{Nodes: z.nodes, Timing: timing, SocketDir: dir}
	for k := range z.instances {
		prio := make([]int, z.nodes)
		for i := range prio {
			prio[i] = z.priority(i, k)
		}
		o.Instances = append(o.Instances, testbed.InstanceOpts{
			Name: instanceName(k), VIPs: []netip.Addr{instanceVIP(k)}, Priority: prio, Preempt: true,
		})
	}
	return o
}

// keepalivedConfig is node i's keepalived.conf: one VRRPv3 instance per
// havip instance on eth0 (multicast adverts, which stay on the test
// bridge), each with its own virtual_router_id (51 upwards), every node
// starting as BACKUP and the highest priority winning, preemption on
// (keepalived's default).
func keepalivedConfig(z size, i int, advert string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `# keepalived configuration of benchmark node %d
global_defs {
	router_id node%d
	vrrp_version 3
	enable_script_security
}
`, i, i)
	for k := range z.instances {
		fmt.Fprintf(&b, `
vrrp_instance %s {
	state BACKUP
	interface eth0
	virtual_router_id %d
	priority %d
	advert_int %s
	virtual_ipaddress {
		%s dev eth0
	}
}
`, instanceName(k), 51+k, z.priority(i, k), advert, testbed.HostPrefix(instanceVIP(k)))
	}
	return b.String()
}

// start runs node i's daemon inside its namespace.
func (c *cluster) start(i int) error {
	if p := c.procs[i]; p != nil && !p.Exited() {
		return fmt.Errorf("node %d: daemon already runs (pid %d)", i, p.PID)
	}
	f, err := os.OpenFile(c.logs[i], os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	fmt.Fprintf(f, "=== %s: start ===\n", time.Now().Format(time.RFC3339Nano))
	var argv []string
	switch c.s.kind {
	case "havip":
		argv = []string{c.b.havip, "run", "--config", c.confPath(i)}
	default:
		argv = []string{c.b.keepalived, "-n", "-l", "-D", "-P", "-f", c.confPath(i),
			"-p", c.pidFile(i), "-r", c.vrrpPidFile(i)}
	}
	p, err := c.net.Start(c.net.Nodes[i].NS, argv, f, f)
	if err != nil {
		return err
	}
	c.procs[i] = p
	return nil
}

func (c *cluster) startAll() error {
	for i := range c.procs {
		if err := c.start(i); err != nil {
			return err
		}
	}
	return nil
}

// terminate sends SIGTERM to node i's daemon.
func (c *cluster) terminate(i int) error {
	return c.procs[i].Signal(syscall.SIGTERM)
}

// kill9 sends SIGKILL to node i's daemon and to every process it started
// (keepalived's VRRP child), and waits for the daemon to be reaped.
func (c *cluster) kill9(i int) error {
	p := c.procs[i]
	kids := children(p.PID)
	if err := p.Kill(); err != nil {
		return err
	}
	for _, k := range kids {
		// By PID, only children of our own daemon.
		if kp, err := os.FindProcess(k); err == nil {
			_ = kp.Kill()
		}
	}
	if _, err := p.Wait(10 * time.Second); err != nil {
		return err
	}
	// The children are reaped by whoever adopted them; a zombie still
	// counts as running for keepalived's pid-file check.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		alive := 0
		for _, k := range kids {
			if _, err := readStat(k); err == nil {
				alive++
			}
		}
		if alive == 0 {
			break
		}
	}
	if c.s.kind == "keepalived" {
		// What a supervisor's fresh runtime directory gives the restart.
		for _, f := range []string{c.pidFile(i), c.vrrpPidFile(i)} {
			_ = os.Remove(f)
		}
	}
	return nil
}

func (c *cluster) pidFile(i int) string {
	return filepath.Join(c.dir, fmt.Sprintf("node%d.pid", i))
}

func (c *cluster) vrrpPidFile(i int) string {
	return filepath.Join(c.dir, fmt.Sprintf("node%d-vrrp.pid", i))
}

// waitExit waits for node i's daemon to exit after terminate.
func (c *cluster) waitExit(i int, d time.Duration) error {
	_, err := c.procs[i].Wait(d)
	return err
}

// close stops every daemon (SIGTERM, SIGKILL after 5 s) and removes the
// topology.
func (c *cluster) close() {
	for _, p := range c.procs {
		if p != nil && !p.Exited() {
			_, _, _ = p.Stop(5 * time.Second)
		}
	}
	if err := c.net.Close(); err != nil {
		c.b.logf("removing the topology: %v", err)
	}
}

// tail returns the last lines of node i's log, for error reports.
func (c *cluster) tail(i, lines int) string {
	data, err := os.ReadFile(c.logs[i])
	if err != nil {
		return err.Error()
	}
	l := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

// findKeepalived returns keepalived's path, installing Debian's package
// with apt-get when it is missing. The package's own service is never
// started: policy-rc.d refuses it during the install.
func findKeepalived(ctx context.Context, logf func(string, ...any)) (string, error) {
	if p, err := exec.LookPath("keepalived"); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		if p := filepath.Join(dir, "keepalived"); isExec(p) {
			return p, nil
		}
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		return "", errors.New("keepalived is not installed and there is no apt-get to install it")
	}
	logf("installing keepalived with apt-get")
	const policy = "/usr/sbin/policy-rc.d"
	if _, err := os.Stat(policy); errors.Is(err, os.ErrNotExist) {
		if err := os.WriteFile(policy, []byte("#!/bin/sh\nexit 101\n"), 0o755); err == nil {
			defer os.Remove(policy)
		}
	}
	for _, args := range [][]string{{"update", "-q"}, {"install", "-y", "-q", "--no-install-recommends", "keepalived"}} {
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("apt-get %s: %w\n%s", strings.Join(args, " "), err, out)
		}
	}
	for _, p := range []string{"/usr/sbin/keepalived", "/sbin/keepalived"} {
		if isExec(p) {
			return p, nil
		}
	}
	return exec.LookPath("keepalived")
}

func isExec(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}
