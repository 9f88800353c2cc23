package testbed

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// ClusterOpts describe the havip configuration NodeConfig writes for the
// nodes of a topology.
type ClusterOpts struct {
	// Name is cluster.name; "havip-test" when empty.
	Name string
	// Nodes is the number of configured members (nodes 0..Nodes-1) when
	// Members is nil.
	Nodes int
	// Members lists the node indexes configured as members; each node's
	// peers are the others.
	Members []int
	// SecretKeyFile is cluster.secret_key_file; empty writes
	// insecure = true instead.
	SecretKeyFile string
	// Quorum is cluster.quorum; empty leaves the daemon's default (auto).
	Quorum string
	// Timing is cluster.timing; "fast" when empty.
	Timing string
	// ClusterExtra is raw TOML appended inside the [cluster] table.
	ClusterExtra string
	// SocketDir holds the status sockets: node i's is SocketPath(SocketDir, i).
	// Each node's node.state_dir is StateDir(SocketDir, i), so no test
	// touches the default state directory of the machine.
	SocketDir string
	// StatusExtra is raw TOML appended inside the [status] table.
	StatusExtra string
	// Instances are written in order; a node with no priority for an
	// instance is left out of it.
	Instances []InstanceOpts
	// Extra is raw TOML appended at the end of the file (with its own table
	// headers).
	Extra string
}

// InstanceOpts describe one [[instance]].
type InstanceOpts struct {
	Name string
	// Interface is "eth0" when empty.
	Interface string
	VIPs      []netip.Addr
	// Priority is indexed by node; a missing or zero entry leaves that node
	// out of the instance.
	Priority []int
	// Preempt is always written.
	Preempt bool
	// PreemptDelay, AnnounceCount and AnnounceInterval are written when
	// not zero.
	PreemptDelay     time.Duration
	AnnounceCount    int
	AnnounceInterval time.Duration
	// Extra is raw TOML appended inside this [[instance]] table.
	Extra string
}

// SocketPath is node i's status socket in dir.
func SocketPath(dir string, i int) string {
	return filepath.Join(dir, NodeName(i)+".sock")
}

// StateDir is node i's state directory in dir.
func StateDir(dir string, i int) string {
	return filepath.Join(dir, NodeName(i)+".state")
}

// PriorityOf returns node i's priority, 0 when the node is not in the
// instance.
func (o InstanceOpts) PriorityOf(i int) int {
	if i < 0 || i >= len(o.Priority) {
		return 0
	}
	return o.Priority[i]
}

// members returns the configured member indexes in order.
func (c ClusterOpts) members() []int {
	if c.Members != nil {
		m := slices.Clone(c.Members)
		slices.Sort(m)
		return slices.Compact(m)
	}
	m := make([]int, c.Nodes)
	for i := range m {
		m[i] = i
	}
	return m
}

// NodeConfig renders node i's havip configuration (TOML) following the
// contract in DESIGN.md: [node] name "node<i>" bound to NodeBind(i);
// [cluster] with the other members as peers; one [[instance]] per instance
// node i has a priority in; [status] socket in SocketDir.
func NodeConfig(i int, c ClusterOpts) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }

	w("# havip configuration of test node %d", i)
	w("[node]")
	w("name = %s", tomlString(NodeName(i)))
	w("bind = %s", tomlString(NodeBind(i).String()))
	if c.SocketDir != "" {
		w("state_dir = %s", tomlString(StateDir(c.SocketDir, i)))
	}
	w("")

	name := c.Name
	if name == "" {
		name = "havip-test"
	}
	var peers []string
	for _, m := range c.members() {
		if m != i {
			peers = append(peers, NodeBind(m).String())
		}
	}
	timing := c.Timing
	if timing == "" {
		timing = "fast"
	}
	w("[cluster]")
	w("name = %s", tomlString(name))
	w("peers = %s", tomlStrings(peers))
	if c.SecretKeyFile != "" {
		w("secret_key_file = %s", tomlString(c.SecretKeyFile))
	} else {
		w("insecure = true")
	}
	if c.Quorum != "" {
		w("quorum = %s", tomlString(c.Quorum))
	}
	w("timing = %s", tomlString(timing))
	writeRaw(&b, c.ClusterExtra)

	for _, inst := range c.Instances {
		prio := inst.PriorityOf(i)
		if prio == 0 {
			continue
		}
		ifname := inst.Interface
		if ifname == "" {
			ifname = "eth0"
		}
		vips := make([]string, len(inst.VIPs))
		for k, v := range inst.VIPs {
			vips[k] = v.String()
		}
		w("")
		w("[[instance]]")
		w("name = %s", tomlString(inst.Name))
		w("interface = %s", tomlString(ifname))
		w("vips = %s", tomlStrings(vips))
		w("priority = %d", prio)
		w("preempt = %t", inst.Preempt)
		if inst.PreemptDelay != 0 {
			w("preempt_delay = %s", tomlString(inst.PreemptDelay.String()))
		}
		if inst.AnnounceCount != 0 {
			w("announce_count = %d", inst.AnnounceCount)
		}
		if inst.AnnounceInterval != 0 {
			w("announce_interval = %s", tomlString(inst.AnnounceInterval.String()))
		}
		writeRaw(&b, inst.Extra)
	}

	w("")
	w("[status]")
	w("socket = %s", tomlString(SocketPath(c.SocketDir, i)))
	writeRaw(&b, c.StatusExtra)
	if c.Extra != "" {
		w("")
		writeRaw(&b, c.Extra)
	}
	return b.String()
}

// WriteNodeConfig writes NodeConfig(i, c) to path (mode 0644) and returns
// path.
func WriteNodeConfig(path string, i int, c ClusterOpts) (string, error) {
	if err := os.WriteFile(path, []byte(NodeConfig(i, c)), 0o644); err != nil {
		return "", fmt.Errorf("writing the configuration of node %d: %w", i, err)
	}
	return path, nil
}

// WriteSecretKey writes a new cluster key to path: base64 of 32 random
// bytes, mode 0600.
func WriteSecretKey(path string) error {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return fmt.Errorf("generating a key: %w", err)
	}
	data := base64.StdEncoding.EncodeToString(key) + "\n"
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		return fmt.Errorf("writing key %s: %w", path, err)
	}
	// WriteFile keeps the mode of an existing file.
	if err := os.Chmod(path, 0o600); err != nil {
		return fmt.Errorf("writing key %s: %w", path, err)
	}
	return nil
}

func writeRaw(b *strings.Builder, raw string) {
	if raw = strings.TrimRight(raw, "\n"); raw != "" {
		b.WriteString(raw)
		b.WriteString("\n")
	}
}

// tomlString quotes s as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func tomlStrings(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = tomlString(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
