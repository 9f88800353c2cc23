package testbed

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options describe a topology.
type Options struct {
	// Prefix starts the name of every namespace of the topology. Empty
	// selects a unique one, RunPrefix() followed by a counter. Namespaces
	// already named with the prefix (left by a crashed run) are deleted
	// before the topology is built.
	Prefix string
	// Nodes is the number of node namespaces, 1..MaxNodes.
	Nodes int
	// IPv6 adds fd00:4856::/64 addresses next to the IPv4 ones.
	IPv6 bool
	// Logf, when set, receives one line per command that changes the
	// topology.
	Logf func(format string, args ...any)
}

// Host is one namespace joined to the switch: a node or the observer.
type Host struct {
	// Index is the node index, -1 for the observer.
	Index int
	// Name is "node<i>" (the havip node name NodeConfig uses) or "observer".
	Name string
	// NS is the network namespace; the host's interface in it is eth0.
	NS string
	// Addr is the IPv4 address of eth0 (a /24 in Subnet4).
	Addr netip.Addr
	// Addr6 is the IPv6 address of eth0 (a /64 in Subnet6); the zero Addr
	// when the topology has no IPv6.
	Addr6 netip.Addr
	// MAC is eth0's hardware address.
	MAC net.HardwareAddr
	// Port is the bridge-side end of the host's veth pair, in the switch
	// namespace.
	Port string
}

// Net is a running topology: a switch namespace with the bridge br0, node
// namespaces and an observer namespace.
type Net struct {
	// Prefix starts every namespace name of this topology.
	Prefix string
	// Switch is the namespace holding the bridge and the bridge ports.
	Switch string
	// Bridge is the bridge's name in Switch.
	Bridge string
	// Nodes are indexed by node number.
	Nodes []Host
	// Observer is a host with no daemon, used to look at the segment the
	// way a client would.
	Observer Host

	ipv6 bool
	logf func(format string, args ...any)

	mu         sync.Mutex
	namespaces []string // in creation order
	procs      []*Proc
	closed     bool

	faultMu sync.Mutex // serializes fault changes
	faults  faults
}

// opTimeout bounds every single ip or ping command the package runs on its
// own behalf.
const opTimeout = 20 * time.Second

var netCounter atomic.Int64

// RunPrefix is the namespace name prefix of every topology with a default
// Prefix created by this process: "hvt-<pid>-".
func RunPrefix() string { return fmt.Sprintf("hvt-%d-", os.Getpid()) }

// New builds a topology. On error everything already created is removed.
func New(ctx context.Context, opts Options) (*Net, error) {
	if opts.Nodes < 1 || opts.Nodes > MaxNodes {
		return nil, fmt.Errorf("testbed: %d nodes: want 1..%d", opts.Nodes, MaxNodes)
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return nil, fmt.Errorf("testbed: the ip command (iproute2) is needed: %w", err)
	}
	prefix := opts.Prefix
	if prefix == "" {
		prefix = fmt.Sprintf("%s%d", RunPrefix(), netCounter.Add(1))
	}
	if err := checkPrefix(prefix); err != nil {
		return nil, err
	}
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if err := Sweep(prefix + "-"); err != nil {
		return nil, err
	}
	n := &Net{
		Prefix: prefix,
		Switch: prefix + "-sw",
		Bridge: "br0",
		ipv6:   opts.IPv6,
		logf:   logf,
	}
	for i := range opts.Nodes {
		n.Nodes = append(n.Nodes, Host{
			Index: i,
			Name:  NodeName(i),
			NS:    fmt.Sprintf("%s-n%d", prefix, i),
			Addr:  NodeAddr(i),
			Port:  fmt.Sprintf("p%d", i),
		})
		if opts.IPv6 {
			n.Nodes[i].Addr6 = NodeAddr6(i)
		}
	}
	n.Observer = Host{Index: -1, Name: "observer", NS: prefix + "-obs", Addr: ObserverAddr(), Port: "pobs"}
	if opts.IPv6 {
		n.Observer.Addr6 = ObserverAddr6()
	}
	if err := n.build(ctx); err != nil {
		if cerr := n.Close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
		return nil, err
	}
	return n, nil
}

func (n *Net) build(ctx context.Context) error {
	if err := n.addNS(ctx, n.Switch); err != nil {
		return err
	}
	// The switch only forwards frames: no IPv6 of its own on the ports
	// (they become plain interfaces while cut).
	if err := n.sysctl(ctx, n.Switch, "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"); err != nil {
		return err
	}
	// No STP (ports forward at once) and no multicast snooping (neighbour
	// solicitations reach every port whatever MLD state the bridge saw).
	if err := n.ip(ctx, "-n", n.Switch, "link", "add", n.Bridge, "type", "bridge", "stp_state", "0", "mcast_snooping", "0"); err != nil {
		return err
	}
	for _, l := range []string{"lo", n.Bridge} {
		if err := n.ip(ctx, "-n", n.Switch, "link", "set", "dev", l, "up"); err != nil {
			return err
		}
	}
	for i := range n.Nodes {
		if err := n.attach(ctx, &n.Nodes[i]); err != nil {
			return err
		}
	}
	return n.attach(ctx, &n.Observer)
}

// attach creates h's namespace and veth pair, addresses eth0 and plugs the
// port into the bridge. The veth pair is created in the switch namespace
// with its peer directly in h's namespace: it never exists in the caller's.
func (n *Net) attach(ctx context.Context, h *Host) error {
	if err := n.addNS(ctx, h.NS); err != nil {
		return err
	}
	// Set before eth0 exists so that it inherits them, and again on eth0.
	if err := n.sysctl(ctx, h.NS, "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0"); err != nil {
		return err
	}
	if err := n.ip(ctx, "-n", n.Switch, "link", "add", h.Port, "type", "veth", "peer", "name", "eth0", "netns", h.NS); err != nil {
		return err
	}
	// eth0 exists and is still down: no DAD has started on it.
	if err := n.sysctl(ctx, h.NS, "net.ipv6.conf.eth0.accept_dad=0"); err != nil {
		return err
	}
	steps := [][]string{
		{"-n", n.Switch, "link", "set", "dev", h.Port, "master", n.Bridge},
		{"-n", n.Switch, "link", "set", "dev", h.Port, "up"},
		{"-n", h.NS, "link", "set", "dev", "lo", "up"},
		{"-n", h.NS, "addr", "add", netip.PrefixFrom(h.Addr, Subnet4.Bits()).String(), "dev", "eth0"},
	}
	if h.Addr6.IsValid() {
		steps = append(steps, []string{"-n", h.NS, "addr", "add", netip.PrefixFrom(h.Addr6, Subnet6.Bits()).String(), "dev", "eth0", "nodad"})
	}
	steps = append(steps, []string{"-n", h.NS, "link", "set", "dev", "eth0", "up"})
	for _, s := range steps {
		if err := n.ip(ctx, s...); err != nil {
			return err
		}
	}
	out, err := run(ctx, "ip", "-j", "-n", h.NS, "link", "show", "dev", "eth0")
	if err != nil {
		return err
	}
	links, err := parseLinks(out)
	if err != nil {
		return fmt.Errorf("reading eth0 of %s: %w", h.NS, err)
	}
	if len(links) != 1 || links[0].MAC == nil {
		return fmt.Errorf("reading eth0 of %s: no hardware address in %q", h.NS, out)
	}
	h.MAC = links[0].MAC
	return nil
}

func (n *Net) addNS(ctx context.Context, ns string) error {
	if err := n.ip(ctx, "netns", "add", ns); err != nil {
		return err
	}
	n.mu.Lock()
	n.namespaces = append(n.namespaces, ns)
	n.mu.Unlock()
	return nil
}

// sysctl sets keys ("net.ipv6.conf.eth0.accept_dad=0") inside ns, with the
// sysctl command when there is one, else by writing /proc/sys from a shell
// in the namespace.
func (n *Net) sysctl(ctx context.Context, ns string, settings ...string) error {
	n.logf("ip netns exec %s sysctl -w %s", ns, strings.Join(settings, " "))
	if _, err := exec.LookPath("sysctl"); err == nil {
		_, err := run(ctx, "ip", append([]string{"netns", "exec", ns, "sysctl", "-q", "-w"}, settings...)...)
		return err
	}
	for _, s := range settings {
		key, val, ok := strings.Cut(s, "=")
		if !ok {
			return fmt.Errorf("testbed: sysctl setting %q has no '='", s)
		}
		path := "/proc/sys/" + strings.ReplaceAll(key, ".", "/")
		if _, err := run(ctx, "ip", "netns", "exec", ns, "sh", "-c", `printf '%s\n' "$1" > "$2"`, "sh", val, path); err != nil {
			return err
		}
	}
	return nil
}

// ip runs one topology-changing ip command, logged.
func (n *Net) ip(ctx context.Context, args ...string) error {
	n.logf("ip %s", strings.Join(args, " "))
	_, err := run(ctx, "ip", args...)
	return err
}

// Node returns node i, panicking on a bad index like a slice would.
func (n *Net) Node(i int) Host { return n.Nodes[i] }

// NodeOfMAC returns the index of the node whose eth0 has mac, or -1.
func (n *Net) NodeOfMAC(mac net.HardwareAddr) int {
	for _, h := range n.Nodes {
		if mac != nil && h.MAC.String() == mac.String() {
			return h.Index
		}
	}
	return -1
}

// Cut detaches node i's port from the bridge: the node keeps its carrier but
// its frames go nowhere and nothing reaches it.
func (n *Net) Cut(i int) error {
	return n.portCmd(i, "nomaster")
}

// Restore attaches node i's port to the bridge again after Cut.
func (n *Net) Restore(i int) error {
	return n.portCmd(i, "master", n.Bridge)
}

// LinkDown sets node i's bridge port down, which takes the carrier away from
// the node's eth0.
func (n *Net) LinkDown(i int) error {
	return n.portCmd(i, "down")
}

// LinkUp sets node i's bridge port up again after LinkDown.
func (n *Net) LinkUp(i int) error {
	return n.portCmd(i, "up")
}

func (n *Net) portCmd(i int, args ...string) error {
	if i < 0 || i >= len(n.Nodes) {
		return fmt.Errorf("testbed: no node %d", i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	return n.ip(ctx, append([]string{"-n", n.Switch, "link", "set", "dev", n.Nodes[i].Port}, args...)...)
}

// Close ends every process started with Start that is still running (by
// its PID, SIGKILL) and deletes every namespace of the topology. It is safe
// to call more than once.
func (n *Net) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	procs := n.procs
	namespaces := n.namespaces
	n.mu.Unlock()

	var errs []error
	for _, p := range procs {
		if p.Exited() {
			continue
		}
		if err := p.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
			errs = append(errs, err)
		}
		if _, err := p.Wait(10 * time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*opTimeout)
	defer cancel()
	// Nodes and observer first, the switch last.
	for i := len(namespaces) - 1; i >= 0; i-- {
		if err := n.ip(ctx, "netns", "delete", namespaces[i]); err != nil {
			errs = append(errs, err)
		}
	}
	if err := Sweep(n.Prefix + "-"); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// run runs one command in the caller's namespace and returns its standard
// output; a failure carries the standard error.
func run(ctx context.Context, name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, &CmdError{Argv: append([]string{name}, args...), Stderr: stderr.String(), Err: err}
	}
	return out, nil
}

// CmdError is a command that failed: it did not start, or exited non-zero.
// errors.As finds the *exec.ExitError in it.
type CmdError struct {
	Argv   []string
	Stderr string
	Err    error
}

func (e *CmdError) Error() string {
	msg := fmt.Sprintf("%s: %v", strings.Join(e.Argv, " "), e.Err)
	if s := strings.TrimSpace(e.Stderr); s != "" {
		msg += ": " + s
	}
	return msg
}

func (e *CmdError) Unwrap() error { return e.Err }

// ExitCode is the exit code of a command that ran and failed, 0 for nil,
// -1 when err is not an exit (the command did not start, or a signal ended
// it).
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}
