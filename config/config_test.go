package config_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/havip/havip/config"
)

// netipCmp compares the net/netip types, whose fields are unexported.
var netipCmp = cmp.Options{
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
	cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b }),
	cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
}

func mustProfile(t *testing.T, name string) config.Timing {
	t.Helper()
	p, ok := config.Profile(name)
	if !ok {
		t.Fatalf("no timing profile %q", name)
	}
	return p
}

func parseExample(t *testing.T, name string) *config.Config {
	t.Helper()
	path := filepath.Join("..", "examples", name)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.ParseWithOptions(data, path, config.ParseOptions{SkipKeyFile: true})
	if err != nil {
		t.Fatalf("parsing %s:\n%v", name, err)
	}
	return cfg
}

func TestParseMinimal(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Skipf("no hostname to default node.name to: %v", err)
	}
	got := parseExample(t, "minimal.toml")
	want := &config.Config{
		Path: filepath.Join("..", "examples", "minimal.toml"),
		Node: config.Node{
			Name: host,
			Bind: netip.MustParseAddrPort("0.0.0.0:7946"),
			// Bound to every address: memberlist chooses what to advertise.
			StateDir: "/var/lib/havip",
		},
		Cluster: config.Cluster{
			Name:          "web-ha",
			Peers:         []string{"192.168.0.12:7946"},
			SecretKeyFile: "/etc/havip/secret.key",
			Quorum:        config.QuorumAuto,
			Timing:        mustProfile(t, "default"),
		},
		Instances: []config.Instance{{
			Name:      "web",
			Interface: "eth0",
			VIPs:      []netip.Prefix{netip.MustParsePrefix("192.168.0.22/32")},
			Priority:  100,
			Preempt:   true,
			Announce:  config.Announce{Count: 5, Interval: 200 * time.Millisecond},
			Notify:    config.Notify{Timeout: 30 * time.Second},
		}},
		Status: config.Status{Socket: "/run/havip/havip.sock"},
		Cloud:  config.DefaultCloud(),
	}
	if diff := cmp.Diff(want, got, netipCmp); diff != "" {
		t.Errorf("minimal.toml (-want +got):\n%s", diff)
	}
}

func TestParseReference(t *testing.T) {
	got := parseExample(t, "reference.toml")
	want := &config.Config{
		Path: filepath.Join("..", "examples", "reference.toml"),
		Node: config.Node{
			Name:     "ecs-a",
			Bind:     netip.MustParseAddrPort("0.0.0.0:7946"),
			StateDir: "/var/lib/havip",
		},
		Cluster: config.Cluster{
			Name:          "web-ha",
			Peers:         []string{"192.168.0.12:7946", "192.168.0.13:7946"},
			SecretKeyFile: "/etc/havip/secret.key",
			Quorum:        config.QuorumAuto,
			Timing: config.Timing{
				Profile:                 "default",
				ProbeInterval:           time.Second,
				ProbeTimeout:            500 * time.Millisecond,
				SuspicionMult:           3,
				SuspicionMaxTimeoutMult: 2,
				IndirectChecks:          3,
				AwarenessMaxMultiplier:  1,
				GossipInterval:          200 * time.Millisecond,
				GossipNodes:             3,
				RetransmitMult:          4,
				PushPullInterval:        30 * time.Second,
				TCPTimeout:              time.Second,
				RejoinInterval:          time.Second,
				StartupGrace:            2 * time.Second,
				HeartbeatInterval:       100 * time.Millisecond,
				Lease:                   600 * time.Millisecond,
				LeaseMargin:             250 * time.Millisecond,
				HeartbeatTimeout:        800 * time.Millisecond,
				AddressLifetime:         time.Second,
			},
		},
		Instances: []config.Instance{{
			Name:      "web",
			Interface: "eth0",
			VIPs:      []netip.Prefix{netip.MustParsePrefix("192.168.0.22/32")},
			Priority:  100,
			Preempt:   true,
			Announce:  config.Announce{Count: 5, Interval: 200 * time.Millisecond},
			Notify:    config.Notify{Timeout: 30 * time.Second},
		}},
		Status: config.Status{Socket: "/run/havip/havip.sock"},
		Cloud:  config.DefaultCloud(),
	}
	if diff := cmp.Diff(want, got, netipCmp); diff != "" {
		t.Errorf("reference.toml (-want +got):\n%s", diff)
	}
}

// TestReferenceCommentedKnobs checks that the tuning keys commented out in
// reference.toml, once uncommented, are accepted and equal the default
// profile, so the reference cannot drift from the code.
var commentedKey = regexp.MustCompile(`^# [a-z_]+ = `)

func TestReferenceCommentedKnobs(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "examples", "reference.toml"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	n, inTuning := 0, false
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "[") {
			inTuning = line == "[cluster.tuning]"
		}
		if inTuning && commentedKey.MatchString(line) {
			line = strings.TrimPrefix(line, "# ")
			n++
		}
		out = append(out, line)
	}
	// Every Timing field but Profile is a knob.
	if want := reflect.TypeOf(config.Timing{}).NumField() - 1; n != want {
		t.Fatalf("uncommented %d tuning keys in reference.toml, want %d", n, want)
	}
	cfg, err := config.ParseWithOptions([]byte(strings.Join(out, "\n")), "reference.toml", config.ParseOptions{SkipKeyFile: true})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(mustProfile(t, "default"), cfg.Cluster.Timing); diff != "" {
		t.Errorf("uncommented knobs (-want +got):\n%s", diff)
	}
}

func TestParseExamples(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("..", "examples", "*.toml"))
	if err != nil {
		t.Fatal(err)
	}
	// Clusters with one file per member live in a directory each.
	perNode, err := filepath.Glob(filepath.Join("..", "examples", "*", "*.toml"))
	if err != nil {
		t.Fatal(err)
	}
	paths = append(paths, perNode...)
	found := map[string]bool{}
	for _, p := range paths {
		name, _ := filepath.Rel(filepath.Join("..", "examples"), p)
		name = filepath.ToSlash(name)
		found[name] = true
		if strings.HasPrefix(name, "windows/") {
			continue // the Windows interface-name rule: TestParseWindowsExample
		}
		t.Run(name, func(t *testing.T) {
			cfg := parseExample(t, name)
			if cfg.Cluster.Name == "" || cfg.Node.Name == "" {
				t.Errorf("cluster %q, node %q: want both set", cfg.Cluster.Name, cfg.Node.Name)
			}
			if cfg.Summary() == "" {
				t.Error("empty summary")
			}
		})
	}
	for _, name := range []string{"minimal.toml", "reference.toml", "two-node.toml",
		"three-node-quorum.toml", "ipv6.toml", "bare-metal.toml", "active-active.toml",
		"huaweicloud-pair-with-witness/ecs-a.toml", "huaweicloud-pair-with-witness/ecs-b.toml",
		"huaweicloud-pair-with-witness/witness.toml", "huaweicloud-pair.toml"} {
		if !found[name] {
			t.Errorf("examples/%s is missing", name)
		}
	}
}

func TestParseExampleValues(t *testing.T) {
	fast := mustProfile(t, "fast")
	fast.ProbeTimeout = 80 * time.Millisecond

	tests := []struct {
		file string
		get  func(*config.Config) any
		want any
	}{
		{"two-node.toml", func(c *config.Config) any { return c.Cluster.QuorumNeeded() }, 0},
		{"two-node.toml", func(c *config.Config) any { return c.Node.Advertise }, netip.MustParseAddrPort("192.168.0.11:7946")},
		{"three-node-quorum.toml", func(c *config.Config) any { return c.Cluster.QuorumNeeded() }, 2},
		{"three-node-quorum.toml", func(c *config.Config) any { return len(c.Instances) }, 2},
		{"ipv6.toml", func(c *config.Config) any { return c.Node.Bind }, netip.MustParseAddrPort("[2001:db8:10::11]:7946")},
		{"ipv6.toml", func(c *config.Config) any { return c.Instances[0].VIPs }, []netip.Prefix{
			netip.MustParsePrefix("2001:db8:10::80/128"), netip.MustParsePrefix("192.0.2.80/32")}},
		{"active-active.toml", func(c *config.Config) any { return []int{c.Instances[0].Priority, c.Instances[1].Priority} }, []int{150, 100}},
		{"huaweicloud-pair-with-witness/ecs-a.toml", func(c *config.Config) any { return c.Cluster.QuorumNeeded() }, 2},
		{"huaweicloud-pair-with-witness/ecs-b.toml", func(c *config.Config) any { return c.Instances[0].Priority }, 100},
		{"huaweicloud-pair-with-witness/witness.toml", func(c *config.Config) any { return len(c.Instances) }, 0},
		{"bare-metal.toml", func(c *config.Config) any { return c.Cluster.Timing }, fast},
		{"bare-metal.toml", func(c *config.Config) any { return c.Node.Bind }, netip.MustParseAddrPort("10.20.0.1:7946")},
		{"huaweicloud-pair.toml", func(c *config.Config) any {
			return []string{c.Cloud.Provider, c.Cloud.Mode, c.Cloud.Auth, c.Cloud.Endpoint}
		}, []string{"huaweicloud", "exclusive", "agency", "https://vpc.cn-north-4.myhuaweicloud.com"}},
		{"bare-metal.toml", func(c *config.Config) any { return c.Instances[0].Announce }, config.Announce{
			Count: 10, Interval: 100 * time.Millisecond, Refresh: 30 * time.Second}},
	}
	for i, tt := range tests {
		t.Run(fmt.Sprintf("%s/%d", tt.file, i), func(t *testing.T) {
			got := tt.get(parseExample(t, tt.file))
			if diff := cmp.Diff(tt.want, got, netipCmp); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// writeKey writes a key file with the given content and mode.
func writeKey(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func key(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return base64.StdEncoding.EncodeToString(b)
}

func TestLoadKey(t *testing.T) {
	for _, n := range []int{16, 24, 32} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			dir := t.TempDir()
			keyPath := filepath.Join(dir, "keys", "secret.key")
			if err := os.Mkdir(filepath.Dir(keyPath), 0o700); err != nil {
				t.Fatal(err)
			}
			// Surrounding white space is trimmed; the path is relative to
			// the configuration's directory.
			writeKey(t, keyPath, "\n  "+key(n)+"\n\n", 0o600)
			path := filepath.Join(dir, "havip.toml")
			conf := `
[cluster]
name = "c"
secret_key_file = "keys/secret.key"
[status]
socket = "run/havip.sock"
`
			if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := base64.StdEncoding.DecodeString(key(n))
			if diff := cmp.Diff(want, cfg.Cluster.SecretKey); diff != "" {
				t.Errorf("SecretKey (-want +got):\n%s", diff)
			}
			if cfg.Cluster.SecretKeyFile != keyPath {
				t.Errorf("SecretKeyFile = %q, want %q", cfg.Cluster.SecretKeyFile, keyPath)
			}
			if want := filepath.Join(dir, "run", "havip.sock"); cfg.Status.Socket != want {
				t.Errorf("Status.Socket = %q, want %q", cfg.Status.Socket, want)
			}
			if !strings.Contains(cfg.Summary(), fmt.Sprintf("AES-%d", 8*n)) {
				t.Errorf("summary does not name AES-%d:\n%s", 8*n, cfg.Summary())
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "havip.toml")
	_, err := config.Load(path)
	var e *config.Error
	if !errors.As(err, &e) {
		t.Fatalf("Load: %v, want an *Error", err)
	}
	if e.File != path || !strings.Contains(e.Msg, "no such file") {
		t.Errorf("Load: %q, want file %q and the reason", e, path)
	}
}

const instance = `
[[instance]]
name = "web"
interface = "eth0"
vips = ["192.168.0.22"]
`

const insecure = `
[cluster]
name = "c"
insecure = true
`

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		conf string
		// key writes the key file "secret.key" next to the configuration.
		key    func(t *testing.T, path string)
		line   int
		errKey string
		reason string
	}{
		{
			name:   "bad IP",
			conf:   insecure + instance + "\n[[instance]]\nname = \"db\"\ninterface = \"eth1\"\nvips = [\"10.0.0.1\", \"10.0.0.300\"]\n",
			errKey: `instance[1] "db": vips[1]`,
			reason: `"10.0.0.300" is not an IP address`,
		},
		{
			name:   "VIP is its subnet's network address",
			conf:   insecure + strings.Replace(instance, `"192.168.0.22"`, `"192.168.0.0/24"`, 1),
			errKey: `instance[0] "web": vips[0]`,
			reason: `"192.168.0.0/24" cannot be a VIP: it is the network address of its subnet 192.168.0.0/24`,
		},
		{
			name:   "VIP is its subnet's broadcast address",
			conf:   insecure + strings.Replace(instance, `"192.168.0.22"`, `"192.168.0.255/24"`, 1),
			errKey: `instance[0] "web": vips[0]`,
			reason: `it is the broadcast address of its subnet 192.168.0.0/24`,
		},
		{
			name:   "IPv6 VIP is its subnet-router anycast address",
			conf:   insecure + strings.Replace(instance, `"192.168.0.22"`, `"2001:db8::/64"`, 1),
			errKey: `instance[0] "web": vips[0]`,
			reason: `it is the network address of its subnet 2001:db8::/64`,
		},
		{
			name:   "VIP with /0",
			conf:   insecure + strings.Replace(instance, `"192.168.0.22"`, `"192.168.0.22/0"`, 1),
			errKey: `instance[0] "web": vips[0]`,
			reason: `a prefix length of 0 would put every address on the link`,
		},
		{
			name:   "bad prefix length",
			conf:   insecure + strings.Replace(instance, `"192.168.0.22"`, `"192.168.0.22/33"`, 1),
			errKey: `instance[0] "web": vips[0]`,
			reason: `"192.168.0.22/33" is not an IP address or an address with a prefix length`,
		},
		{
			name:   "the same address with two prefix lengths",
			conf:   insecure + instance + "\n[[instance]]\nname = \"db\"\ninterface = \"eth1\"\nvips = [\"192.168.0.22/24\"]\n",
			errKey: `instance[1] "db": vips[0]`,
			reason: `"192.168.0.22/24" is already used at instance[0] "web" vips[0]`,
		},
		{
			name:   "VIP table without an address",
			conf:   insecure + strings.Replace(instance, `"192.168.0.22"`, `{ interface = "eth1" }`, 1),
			errKey: `instance[0] "web": vips[0]`,
			reason: `address is required`,
		},
		{
			name:   "unknown key in a VIP table",
			conf:   insecure + strings.Replace(instance, `"192.168.0.22"`, `{ address = "192.168.0.22", dev = "eth1" }`, 1),
			errKey: `instance[0] "web": vips[0]`,
			reason: `unknown key "dev" (the keys are address, interface, label)`,
		},
		{
			name:   "VIP table with a typo",
			conf:   insecure + strings.Replace(instance, `"192.168.0.22"`, `{ address = "192.168.0.22", lable = "eth0:1" }`, 1),
			errKey: `instance[0] "web": vips[0]`,
			reason: `unknown key "lable" (did you mean "label"?)`,
		},
		{
			name:   "VIP item of another type",
			conf:   insecure + strings.Replace(instance, `"192.168.0.22"`, `22`, 1),
			errKey: `instance[0] "web": vips[0]`,
			reason: `must be an address or a table { address = ..., interface = ..., label = ... }, not integer 22`,
		},
		{
			name:   "VIP on a bad interface name",
			conf:   insecure + strings.Replace(instance, `"192.168.0.22"`, `{ address = "192.168.0.22", interface = "a/b" }`, 1),
			errKey: `instance[0] "web": vips[0]`,
			reason: `interface "a/b" is not a valid interface name`,
		},
		{
			name:   "label of another interface",
			conf:   insecure + strings.Replace(instance, `"192.168.0.22"`, `{ address = "192.168.0.22", interface = "eth1", label = "eth0:1" }`, 1),
			errKey: `instance[0] "web": vips[0]`,
			reason: `label "eth0:1" must begin with the interface name, as "eth1:1" does`,
		},
		{
			name:   "label too long",
			conf:   insecure + strings.Replace(instance, `"192.168.0.22"`, `{ address = "192.168.0.22", label = "eth0:0123456789a" }`, 1),
			errKey: `instance[0] "web": vips[0]`,
			reason: `is 16 bytes long; a label holds at most 15`,
		},
		{
			name:   "label of an IPv6 VIP",
			conf:   insecure + strings.Replace(instance, `"192.168.0.22"`, `{ address = "2001:db8::22/64", label = "eth0:1" }`, 1),
			errKey: `instance[0] "web": vips[0]`,
			reason: `cannot be set: only IPv4 addresses have labels`,
		},
		{
			name:   "loopback VIP",
			conf:   insecure + strings.Replace(instance, `"192.168.0.22"`, `"::1"`, 1),
			errKey: `instance[0] "web": vips[0]`,
			reason: `"::1" cannot be a VIP: it is a loopback address`,
		},
		{
			name:   "IPv6 link-local VIP",
			conf:   insecure + strings.Replace(instance, `"192.168.0.22"`, `"fe80::22"`, 1),
			errKey: `instance[0] "web": vips[0]`,
			reason: "IPv6 link-local",
		},
		{
			name:   "broadcast VIP",
			conf:   insecure + strings.Replace(instance, `"192.168.0.22"`, `"255.255.255.255/32"`, 1),
			errKey: `instance[0] "web": vips[0]`,
			reason: "broadcast",
		},
		{
			name:   "IPv4-mapped VIP",
			conf:   insecure + strings.Replace(instance, `"192.168.0.22"`, `"::ffff:192.168.0.22"`, 1),
			errKey: `instance[0] "web": vips[0]`,
			reason: `IPv4-mapped IPv6 address; write "192.168.0.22"`,
		},
		{
			name:   "no VIPs",
			conf:   insecure + strings.Replace(instance, `"192.168.0.22"`, ``, 1),
			errKey: `instance[0] "web": vips`,
			reason: "at least one VIP is required",
		},
		{
			name:   "duplicate instance names",
			conf:   insecure + instance + strings.Replace(instance, "192.168.0.22", "192.168.0.23", 1),
			errKey: `instance[1] "web": name`,
			reason: `"web" is already the name of instance[0]`,
		},
		{
			name:   "duplicate VIPs across instances",
			conf:   insecure + instance + "\n[[instance]]\nname = \"db\"\ninterface = \"eth1\"\nvips = [\"192.168.0.22/32\"]\n",
			errKey: `instance[1] "db": vips[0]`,
			reason: `"192.168.0.22/32" is already used at instance[0] "web" vips[0]`,
		},
		{
			name:   "VIP is the bind address",
			conf:   "[node]\nbind = \"192.168.0.22\"\n" + insecure + instance,
			errKey: `instance[0] "web": vips[0]`,
			reason: `"192.168.0.22" is this node's own address (node.bind)`,
		},
		{
			name:   "priority 0",
			conf:   insecure + instance + "priority = 0\n",
			errKey: `instance[0] "web": priority`,
			reason: "must be 1..255, not 0",
		},
		{
			name:   "priority 256",
			conf:   insecure + instance + "priority = 256\n",
			errKey: `instance[0] "web": priority`,
			reason: "must be 1..255, not 256",
		},
		{
			name:   "priority as a string",
			conf:   insecure + instance + "priority = \"150\"\n",
			errKey: `instance[0] "web": priority`,
			reason: `must be an integer, not string "150"`,
		},
		{
			name:   "bad interface name",
			conf:   insecure + strings.Replace(instance, `"eth0"`, `"eth0:1"`, 1),
			errKey: `instance[0] "web": interface`,
			reason: `"eth0:1" is not a valid interface name`,
		},
		{
			name:   "missing instance name",
			conf:   insecure + strings.Replace(instance, `name = "web"`, ``, 1),
			errKey: `instance[0]: name`,
			reason: "is required",
		},
		{
			name:   "announce_refresh below 1s",
			conf:   insecure + instance + "announce_refresh = \"500ms\"\n",
			errKey: `instance[0] "web": announce_refresh`,
			reason: "must be 0 (off) or at least 1s, not 500ms",
		},
		{
			name:   "peer without port",
			conf:   strings.Replace(insecure, "insecure", "peers = [\"192.168.0.12:7946\", \"192.168.0.13\"]\ninsecure", 1),
			errKey: "cluster.peers[1]",
			reason: `"192.168.0.13" has no port (write "192.168.0.13:7946")`,
		},
		{
			name:   "IPv6 peer without brackets",
			conf:   strings.Replace(insecure, "insecure", "peers = [\"2001:db8::12\"]\ninsecure", 1),
			errKey: "cluster.peers[0]",
			reason: `"2001:db8::12" has no port (write "[2001:db8::12]:7946")`,
		},
		{
			name:   "peer with bad port",
			conf:   strings.Replace(insecure, "insecure", "peers = [\"node-b.example.net:79460\"]\ninsecure", 1),
			errKey: "cluster.peers[0]",
			reason: `port "79460" is not a number in 1..65535`,
		},
		{
			name:   "duplicate peers",
			conf:   strings.Replace(insecure, "insecure", "peers = [\"Node-B:7946\", \"node-b.:7946\"]\ninsecure", 1),
			errKey: "cluster.peers[1]",
			reason: `"node-b.:7946" is already listed as cluster.peers[0]`,
		},
		{
			name:   "peer is this node",
			conf:   "[node]\nbind = \"10.0.0.1:7000\"\n" + strings.Replace(insecure, "insecure", "peers = [\"10.0.0.1:7000\"]\ninsecure", 1),
			errKey: "cluster.peers[0]",
			reason: `"10.0.0.1:7000" is this node's own address (node.bind)`,
		},
		{
			name:   "bad bind",
			conf:   "[node]\nbind = \"eth0\"\n" + insecure,
			errKey: "node.bind",
			reason: `"eth0" is not an IP address or "IP:port"`,
		},
		{
			name:   "bad node name",
			conf:   "[node]\nname = \"ecs a\"\n" + insecure,
			errKey: "node.name",
			reason: `"ecs a" is not a valid name`,
		},
		{
			name:   "missing cluster name",
			conf:   "[cluster]\ninsecure = true\n",
			errKey: "cluster.name",
			reason: "is required",
		},
		{
			name:   "missing key without insecure",
			conf:   "[cluster]\nname = \"c\"\n",
			errKey: "cluster.secret_key_file",
			reason: "or set cluster.insecure = true",
		},
		{
			name:   "both key and insecure",
			conf:   "[cluster]\nname = \"c\"\nsecret_key_file = \"secret.key\"\ninsecure = true\n",
			key:    func(t *testing.T, p string) { writeKey(t, p, key(32), 0o600) },
			errKey: "cluster.insecure",
			reason: "cannot be true together with cluster.secret_key_file",
		},
		{
			name:   "nonexistent key file",
			conf:   "[cluster]\nname = \"c\"\nsecret_key_file = \"secret.key\"\n",
			errKey: "cluster.secret_key_file",
			reason: "no such file or directory",
		},
		{
			name:   "world-readable key",
			conf:   "[cluster]\nname = \"c\"\nsecret_key_file = \"secret.key\"\n",
			key:    func(t *testing.T, p string) { writeKey(t, p, key(32), 0o644) },
			errKey: "cluster.secret_key_file",
			reason: "can be read or written by other users (mode 0644); it must be readable by its owner only: run chmod 600",
		},
		{
			// The cluster key is held to the cloud secrets' rule: its
			// group may not read it either.
			name:   "group-readable key",
			conf:   "[cluster]\nname = \"c\"\nsecret_key_file = \"secret.key\"\n",
			key:    func(t *testing.T, p string) { writeKey(t, p, key(32), 0o640) },
			errKey: "cluster.secret_key_file",
			reason: "can be read or written by other users (mode 0640); it must be readable by its owner only: run chmod 600",
		},
		{
			name:   "world-writable key",
			conf:   "[cluster]\nname = \"c\"\nsecret_key_file = \"secret.key\"\n",
			key:    func(t *testing.T, p string) { writeKey(t, p, key(32), 0o602) },
			errKey: "cluster.secret_key_file",
			reason: "can be read or written by other users (mode 0602); it must be readable by its owner only: run chmod 600",
		},
		{
			name:   "bad base64",
			conf:   "[cluster]\nname = \"c\"\nsecret_key_file = \"secret.key\"\n",
			key:    func(t *testing.T, p string) { writeKey(t, p, "not*base64!", 0o600) },
			errKey: "cluster.secret_key_file",
			reason: "is not valid base64",
		},
		{
			name:   "20-byte key",
			conf:   "[cluster]\nname = \"c\"\nsecret_key_file = \"secret.key\"\n",
			key:    func(t *testing.T, p string) { writeKey(t, p, key(20), 0o600) },
			errKey: "cluster.secret_key_file",
			reason: "decodes to 20 bytes; a key must be 16, 24 or 32 bytes",
		},
		{
			name:   "unknown key",
			conf:   insecure + instance + "prioirty = 150\n",
			errKey: `instance[0] "web"`,
			reason: `unknown key "instance.prioirty" (did you mean "priority"?)`,
		},
		{
			name:   "key in the wrong case",
			conf:   insecure + instance + "Priority = 150\n",
			errKey: `instance[0] "web"`,
			reason: `unknown key "instance.Priority" (did you mean "priority"?)`,
		},
		{
			name:   "key in the wrong table",
			conf:   "[node]\nquorum = \"off\"\n" + insecure,
			errKey: "",
			reason: `unknown key "node.quorum" (did you mean "cluster.quorum"?)`,
		},
		{
			name:   "unknown table",
			conf:   insecure + "[clouds]\nprovider = \"none\"\n",
			errKey: "",
			reason: `unknown key "clouds"`,
		},
		{
			name:   "table given as a value",
			conf:   "node = \"a\"\n" + insecure,
			errKey: "node",
			reason: `must be a table ([node]), not string "a"`,
		},
		{
			name:   "bad duration",
			conf:   insecure + instance + "preempt_delay = \"5 seconds\"\n",
			errKey: `instance[0] "web": preempt_delay`,
			reason: `"5 seconds" is not a duration`,
		},
		{
			name:   "duration as a number",
			conf:   insecure + "[cluster.tuning]\nprobe_interval = 200\n",
			errKey: "cluster.tuning.probe_interval",
			reason: "must be a duration string",
		},
		{
			name:   "negative preempt_delay",
			conf:   insecure + instance + "preempt_delay = \"-1s\"\n",
			errKey: `instance[0] "web": preempt_delay`,
			reason: "must not be negative, not -1s",
		},
		{
			name:   "unknown quorum",
			conf:   strings.Replace(insecure, "insecure", "quorum = \"most\"\ninsecure", 1),
			errKey: "cluster.quorum",
			reason: `unknown quorum mode "most" (want "auto", "majority" or "off")`,
		},
		{
			name:   "unknown timing profile",
			conf:   strings.Replace(insecure, "insecure", "timing = \"turbo\"\ninsecure", 1),
			errKey: "cluster.timing",
			reason: `unknown timing profile "turbo" (want "default", "fast", "instant" or "conservative")`,
		},
		{
			name:   "probe_timeout equal to probe_interval",
			conf:   insecure + "[cluster.tuning]\nprobe_timeout = \"1s\"\n",
			errKey: "cluster.tuning.probe_timeout",
			reason: `probe_timeout 1s must be shorter than probe_interval 1s (from timing profile "default")`,
		},
		{
			name:   "probe_interval below the profile's probe_timeout",
			conf:   strings.Replace(insecure, "insecure", "timing = \"conservative\"\ninsecure", 1) + "[cluster.tuning]\nprobe_interval = \"300ms\"\n",
			errKey: "cluster.tuning.probe_interval",
			reason: `probe_timeout 500ms (from timing profile "conservative") must be shorter than probe_interval 300ms`,
		},
		{
			name:   "suspicion_mult 0",
			conf:   insecure + "[cluster.tuning]\nsuspicion_mult = 0\n",
			errKey: "cluster.tuning.suspicion_mult",
			reason: "must be at least 1, not 0",
		},
		{
			name:   "gossip_interval 0",
			conf:   insecure + "[cluster.tuning]\ngossip_interval = \"0s\"\n",
			errKey: "cluster.tuning.gossip_interval",
			reason: "must be more than 0, not 0s",
		},
		{
			name:   "address_lifetime below a second",
			conf:   insecure + "[cluster.tuning]\naddress_lifetime = \"500ms\"\n",
			errKey: "cluster.tuning.address_lifetime",
			reason: "must be 0s (permanent addresses) or at least 1s, not 500ms",
		},
		{
			name:   "address_lifetime not in whole seconds",
			conf:   insecure + "[cluster.tuning]\naddress_lifetime = \"1500ms\"\n",
			errKey: "cluster.tuning.address_lifetime",
			reason: "must be whole seconds (the kernel counts address lifetimes in seconds), not 1.5s",
		},
		{
			name:   "negative address_lifetime",
			conf:   insecure + "[cluster.tuning]\naddress_lifetime = \"-1s\"\n",
			errKey: "cluster.tuning.address_lifetime",
			reason: "must not be negative, not -1s",
		},
		{
			// Renewed at half its lifetime, on 300ms ticks, 1s leaves
			// less than a whole interval for a late tick.
			name:   "address_lifetime below 4 heartbeats",
			conf:   insecure + "[cluster.tuning]\nheartbeat_interval = \"300ms\"\naddress_lifetime = \"1s\"\n",
			errKey: "cluster.tuning.address_lifetime",
			reason: "address_lifetime 1s must be 0s (permanent addresses) or at least 4 × heartbeat_interval 300ms, so that one late renewal does not let the VIPs expire",
		},
		{
			name:   "empty socket",
			conf:   insecure + "[status]\nsocket = \"\"\n",
			errKey: "status.socket",
			reason: "must not be empty",
		},
		{
			name:   "syntax error",
			conf:   "[cluster]\nname = \"c\"\ninsecure = \n",
			line:   3,
			reason: "expected value but found",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "havip.toml")
			if tt.key != nil {
				tt.key(t, filepath.Join(dir, "secret.key"))
			}
			_, err := config.Parse([]byte(tt.conf), path)
			if err == nil {
				t.Fatalf("Parse succeeded, want an error at %q: %s", tt.errKey, tt.reason)
			}
			var errs config.Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Parse: %T %v, want config.Errors", err, err)
			}
			for _, e := range errs {
				if e.Key != tt.errKey || !strings.Contains(e.Msg, tt.reason) || e.Line != tt.line {
					continue
				}
				// The message names the file, the line or key, and the reason.
				prefix := path + ": "
				if tt.line > 0 {
					prefix = fmt.Sprintf("%s:%d:", path, tt.line)
				}
				if tt.errKey != "" {
					prefix += tt.errKey + ": "
				}
				if s := e.Error(); !strings.HasPrefix(s, prefix) || !strings.Contains(s, tt.reason) {
					t.Errorf("message %q, want it to start with %q and contain %q", s, prefix, tt.reason)
				}
				if !strings.Contains(err.Error(), e.Error()) {
					t.Errorf("Errors.Error() = %q, want it to contain %q", err, e)
				}
				return
			}
			t.Errorf("no error at key %q (line %d) containing %q; got:\n%v", tt.errKey, tt.line, tt.reason, err)
		})
	}
}

func TestParseCollectsAllErrors(t *testing.T) {
	conf := `
[node]
name = "bad name"
nmae = "x"

[cluster]
name = "c"
peers = ["10.0.0.2"]
quorum = "sometimes"

[[instance]]
name = "web"
interface = "eth0"
vips = ["10.0.0.300", "10.0.1.0/24"]
priority = 0

[[instance]]
name = "web"
interface = "eth0"
vips = ["10.0.0.10"]
preempt = "yes"
`
	_, err := config.Parse([]byte(conf), "havip.toml")
	var errs config.Errors
	if !errors.As(err, &errs) {
		t.Fatalf("Parse: %v, want config.Errors", err)
	}
	var got []string
	for _, e := range errs {
		got = append(got, e.Error())
	}
	want := []string{
		`havip.toml: unknown key "node.nmae" (did you mean "name"?)`,
		`havip.toml: node.name: "bad name" is not a valid name (1 to 64 characters of A-Z, a-z, 0-9, '_', '.' and '-')`,
		`havip.toml: cluster.peers[0]: "10.0.0.2" has no port (write "10.0.0.2:7946")`,
		`havip.toml: cluster.secret_key_file: not set: give a file holding a base64 key (make one with "head -c 32 /dev/urandom | base64"), or set cluster.insecure = true to run without encryption`,
		`havip.toml: cluster.quorum: unknown quorum mode "sometimes" (want "auto", "majority" or "off")`,
		`havip.toml: instance[0] "web": vips[0]: "10.0.0.300" is not an IP address`,
		`havip.toml: instance[0] "web": vips[1]: "10.0.1.0/24" cannot be a VIP: it is the network address of its subnet 10.0.1.0/24`,
		`havip.toml: instance[0] "web": priority: must be 1..255, not 0`,
		`havip.toml: instance[1] "web": name: "web" is already the name of instance[0]`,
		`havip.toml: instance[1] "web": preempt: must be true or false, not string "yes"`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(strings.Join(want, "\n"), err.Error()); diff != "" {
		t.Errorf("Error() (-want +got):\n%s", diff)
	}
	var first *config.Error
	if !errors.As(err, &first) || first != errs[0] {
		t.Errorf("errors.As(*Error) = %v, want the first problem", first)
	}
}

func TestTooManyInstances(t *testing.T) {
	var b strings.Builder
	b.WriteString(insecure)
	for i := range config.MaxInstances + 1 {
		fmt.Fprintf(&b, "[[instance]]\nname = \"i%d\"\ninterface = \"eth%d\"\nvips = [\"10.0.0.%d\"]\n", i, i, i+1)
	}
	_, err := config.Parse([]byte(b.String()), "havip.toml")
	want := "havip.toml: instance: 13 instances; at most 12 fit in the node metadata every member publishes"
	if err == nil || err.Error() != want {
		t.Errorf("Parse: %v, want %q", err, want)
	}

	// Twelve are fine.
	conf := strings.Split(b.String(), "[[instance]]")
	if _, err := config.Parse([]byte(strings.Join(conf[:len(conf)-1], "[[instance]]")), "havip.toml"); err != nil {
		t.Errorf("12 instances: %v", err)
	}
}

func TestNodeAddresses(t *testing.T) {
	tests := []struct {
		name                string
		node                string
		bind, advertise     string // "" is the zero AddrPort
		wantName, wantError string
	}{
		{name: "default", node: "", bind: "0.0.0.0:7946"},
		{name: "bind without port", node: `bind = "10.0.0.1"`, bind: "10.0.0.1:7946", advertise: "10.0.0.1:7946"},
		{name: "bind with port", node: `bind = "10.0.0.1:8000"`, bind: "10.0.0.1:8000", advertise: "10.0.0.1:8000"},
		{name: "bind IPv6 in brackets", node: `bind = "[2001:db8::1]"`, bind: "[2001:db8::1]:7946", advertise: "[2001:db8::1]:7946"},
		{name: "bind IPv6 bare", node: `bind = "::"`, bind: "[::]:7946"},
		{
			name: "advertise takes the bind port", node: "bind = \"0.0.0.0:8000\"\nadvertise = \"192.0.2.1\"",
			bind: "0.0.0.0:8000", advertise: "192.0.2.1:8000",
		},
		{
			name: "advertise with port", node: "bind = \"10.0.0.1\"\nadvertise = \"192.0.2.1:9000\"",
			bind: "10.0.0.1:7946", advertise: "192.0.2.1:9000",
		},
		{name: "bind port 0", node: `bind = "10.0.0.1:0"`, wantError: `node.bind: "10.0.0.1:0": port must be 1..65535, not 0`},
		{name: "multicast bind", node: `bind = "224.0.0.1"`, wantError: `node.bind: "224.0.0.1" cannot be a bind address: it is multicast`},
		{name: "unspecified advertise", node: `advertise = "0.0.0.0"`, wantError: `node.advertise: "0.0.0.0" cannot be an advertise address: it is unspecified`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conf := "[node]\nname = \"n\"\n" + tt.node + "\n" + insecure
			cfg, err := config.Parse([]byte(conf), "")
			if tt.wantError != "" {
				if err == nil || err.Error() != tt.wantError {
					t.Errorf("Parse: %v, want %q", err, tt.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var want config.Node
			want.Name = "n"
			want.StateDir = config.DefaultStateDir
			if tt.bind != "" {
				want.Bind = netip.MustParseAddrPort(tt.bind)
			}
			if tt.advertise != "" {
				want.Advertise = netip.MustParseAddrPort(tt.advertise)
			}
			if diff := cmp.Diff(want, cfg.Node, netipCmp); diff != "" {
				t.Errorf("Node (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTuningOverridesProfile(t *testing.T) {
	conf := strings.Replace(insecure, "insecure", "timing = \"conservative\"\ninsecure", 1) + `
[cluster.tuning]
awareness_max_multiplier = 1
startup_grace = "0s"
indirect_checks = 0
`
	cfg, err := config.Parse([]byte(conf), "")
	if err != nil {
		t.Fatal(err)
	}
	want := mustProfile(t, "conservative")
	want.AwarenessMaxMultiplier = 1
	want.StartupGrace = 0
	want.IndirectChecks = 0
	if diff := cmp.Diff(want, cfg.Cluster.Timing); diff != "" {
		t.Errorf("Timing (-want +got):\n%s", diff)
	}
}

// TestAddressLifetime checks the values address_lifetime takes: the
// profile's, one from the file, and the profile's raised to four
// heartbeat intervals (rounded up to whole seconds) when
// heartbeat_interval is set that long.
func TestAddressLifetime(t *testing.T) {
	tests := []struct {
		name   string
		timing string
		tuning string
		want   time.Duration
	}{
		{"default profile", "default", "", time.Second},
		{"conservative profile", "conservative", "", time.Second},
		{"permanent", "default", "address_lifetime = \"0s\"", 0},
		{"set", "fast", "address_lifetime = \"5s\"", 5 * time.Second},
		{"raised for a long heartbeat", "conservative", "heartbeat_interval = \"500ms\"", 2 * time.Second},
		{"raised to whole seconds", "conservative", "heartbeat_interval = \"300ms\"", 2 * time.Second},
		{"raised for a heartbeat of a second", "conservative", "heartbeat_interval = \"1s\"", 4 * time.Second},
		{"permanent with a long heartbeat", "conservative", "heartbeat_interval = \"500ms\"\naddress_lifetime = \"0s\"", 0},
		{"at four heartbeats", "conservative", "heartbeat_interval = \"1s\"\naddress_lifetime = \"4s\"", 4 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conf := strings.Replace(insecure, "insecure", "timing = \""+tt.timing+"\"\ninsecure", 1) + "[cluster.tuning]\n" + tt.tuning + "\n"
			cfg, err := config.Parse([]byte(conf), "")
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.Cluster.Timing.AddressLifetime; got != tt.want {
				t.Errorf("AddressLifetime = %s, want %s", got, tt.want)
			}
		})
	}
}

// TestLeaseMargin: under quorum, lease_margin must exceed twice
// heartbeat_interval, or a cut-off holder may still hold the VIPs when
// another member takes them over (README's guarantee rests on
// lease_margin − 2 × heartbeat_interval > 0). The key blamed is the one
// the file set. Without quorum there is no lease. Every profile passes.
func TestLeaseMargin(t *testing.T) {
	const twoPeers = "peers = [\"10.0.0.2:7946\", \"10.0.0.3:7946\"]\n"
	const onePeer = "peers = [\"10.0.0.2:7946\"]\n"
	tests := []struct {
		name    string
		cluster string // lines of [cluster]
		tuning  string // lines of [cluster.tuning]
		key     string // "" when it loads
		want    string
	}{
		{"equal", twoPeers, "lease_margin = \"200ms\"", "cluster.tuning.lease_margin",
			`lease_margin 200ms must be more than twice heartbeat_interval 100ms (from timing profile "default") under quorum: the others take over after lease + lease_margin`},
		{"zero", "quorum = \"majority\"\n", "lease_margin = \"0s\"", "cluster.tuning.lease_margin", "lease_margin 0s must be more than twice"},
		{"a longer heartbeat", twoPeers, "heartbeat_interval = \"125ms\"", "cluster.tuning.heartbeat_interval",
			`lease_margin 250ms (from timing profile "default") must be more than twice heartbeat_interval 125ms under quorum`},
		{"above", twoPeers, "lease_margin = \"201ms\"", "", ""},
		{"quorum off", twoPeers + "quorum = \"off\"\n", "lease_margin = \"0s\"", "", ""},
		{"two members, auto", onePeer, "lease_margin = \"0s\"", "", ""},
	}
	for _, p := range config.ProfileNames() {
		tests = append(tests, struct {
			name, cluster, tuning, key, want string
		}{"profile " + p, twoPeers + "timing = \"" + p + "\"\n", "", "", ""})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conf := "[cluster]\nname = \"c\"\ninsecure = true\n" + tt.cluster + "[cluster.tuning]\n" + tt.tuning + "\n"
			_, err := config.Parse([]byte(conf), "havip.toml")
			switch {
			case tt.key == "" && err != nil:
				t.Errorf("Parse: %v", err)
			case tt.key != "" && (err == nil || !strings.Contains(err.Error(), "havip.toml: "+tt.key+": "+tt.want)):
				t.Errorf("Parse: %v\nwant %s: %s", err, tt.key, tt.want)
			}
		})
	}
}

func TestProfiles(t *testing.T) {
	if diff := cmp.Diff([]string{"default", "fast", "instant", "conservative"}, config.ProfileNames()); diff != "" {
		t.Errorf("ProfileNames (-want +got):\n%s", diff)
	}
	for name, want := range map[string]time.Duration{
		"default":      900 * time.Millisecond,
		"fast":         225 * time.Millisecond,
		"instant":      35 * time.Millisecond,
		"conservative": 6 * time.Second,
	} {
		p := mustProfile(t, name)
		if p.Profile != name {
			t.Errorf("Profile(%q).Profile = %q", name, p.Profile)
		}
		if got := p.FailureDetection(); got != want {
			t.Errorf("%s: FailureDetection() = %s, want %s", name, got, want)
		}
		if p.ProbeTimeout >= p.ProbeInterval {
			t.Errorf("%s: probe timeout %s not below probe interval %s", name, p.ProbeTimeout, p.ProbeInterval)
		}
		// The VIPs' lifetime is 1s everywhere, and spans four
		// heartbeats, as a file's own value must.
		if p.AddressLifetime != time.Second || p.AddressLifetime < 4*p.HeartbeatInterval {
			t.Errorf("%s: address lifetime %s, want 1s and at least 4 × heartbeat interval %s", name, p.AddressLifetime, p.HeartbeatInterval)
		}
		// Under quorum the lease margin leaves the holder's daemon
		// some time to be late (README's guarantee).
		if p.LeaseMargin <= 2*p.HeartbeatInterval {
			t.Errorf("%s: lease margin %s, want more than twice the heartbeat interval %s", name, p.LeaseMargin, p.HeartbeatInterval)
		}
	}
	if _, ok := config.Profile("turbo"); ok {
		t.Error(`Profile("turbo") exists`)
	}
	// Profile returns a copy: changing it does not change the preset.
	p := mustProfile(t, "fast")
	p.ProbeInterval = time.Hour
	if mustProfile(t, "fast").ProbeInterval != time.Second {
		t.Error("Profile returned a shared value")
	}
}

func TestInstance(t *testing.T) {
	cfg := parseExample(t, "three-node-quorum.toml")
	in, ok := cfg.Instance("replica")
	if !ok || in.Name != "replica" || in.PreemptDelay != 30*time.Second {
		t.Errorf(`Instance("replica") = %+v, %v`, in, ok)
	}
	if in != &cfg.Instances[1] {
		t.Error(`Instance("replica") is not a pointer into Instances`)
	}
	if in, ok := cfg.Instance("nope"); ok || in != nil {
		t.Errorf(`Instance("nope") = %+v, %v; want nil, false`, in, ok)
	}
}

func TestSummary(t *testing.T) {
	tests := []struct {
		file string
		want string
	}{
		{
			file: "three-node-quorum.toml",
			want: `node node-a: bind 10.0.1.11:7946, advertise 10.0.1.11:7946
cluster db-ha: 3 members (2 peers: 10.0.1.12:7946, 10.0.1.13:7946)
encryption: key from /etc/havip/secret.key (not read)
quorum majority: 2 of 3 members needed to hold a VIP
timing default: heartbeat every 100ms, a member silent for 800ms no longer counts, a dead member is found in about 900ms; memberlist probes every 1s
instance primary on eth0: 10.0.1.100/32, priority 200, no preempt
instance replica on eth0: 10.0.1.101/32, priority 150, preempt after 30s
`,
		},
		{
			file: "two-node.toml",
			want: `node ecs-a: bind 192.168.0.11:7946, advertise 192.168.0.11:7946
cluster web-ha: 2 members (1 peer: 192.168.0.12:7946)
encryption: key from /etc/havip/secret.key (not read)
quorum auto: off, a member holds VIPs whichever members it sees
timing default: heartbeat every 100ms, a member silent for 800ms no longer counts, a dead member is found in about 900ms; memberlist probes every 1s
instance web on eth0: 192.168.0.22/32, priority 150, preempt after 10s
`,
		},
		{
			file: "health-checks.toml",
			want: `node web-a: bind 192.168.0.11:7946, advertise 192.168.0.11:7946
cluster web-ha: 3 members (2 peers: 192.168.0.12:7946, 192.168.0.13:7946)
encryption: key from /etc/havip/secret.key (not read)
quorum auto: 2 of 3 members needed to hold a VIP
timing default: heartbeat every 100ms, a member silent for 800ms no longer counts, a dead member is found in about 900ms; memberlist probes every 1s
instance web on eth0: 192.168.0.22/32, priority 150, preempt
  tracks eth1: FAULT while any is down
  track script app: every 2s (timeout 1.5s), 2 failures -> FAULT, 2 successes -> healthy
  track script disk: every 30s (timeout 5s), 1 failure -> priority -60, 1 success -> healthy
  notify on MASTER, BACKUP, FAULT (timeout 10s)
metrics on http://127.0.0.1:9650/metrics
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, parseExample(t, tt.file).Summary()); diff != "" {
				t.Errorf("Summary (-want +got):\n%s", diff)
			}
		})
	}
}

// A node without peers is a cluster of one member, not "1 members".
func TestSummaryOneMember(t *testing.T) {
	cfg, err := config.Parse([]byte("[node]\nname = \"a\"\nbind = \"127.0.0.1:7946\"\n[cluster]\nname = \"solo\"\ninsecure = true\nquorum = \"majority\"\n"), "havip.toml")
	if err != nil {
		t.Fatal(err)
	}
	sum := cfg.Summary()
	for _, want := range []string{"cluster solo: 1 member (no peers)\n", "quorum majority: 1 of 1 member needed to hold a VIP\n"} {
		if !strings.Contains(sum, want) {
			t.Errorf("Summary lacks %q:\n%s", want, sum)
		}
	}
}

// TestPerNodeExamplesAgree checks the clusters written as one file per
// member: one cluster name, each member's peers are exactly the others,
// and an instance has the same VIPs and interface everywhere.
func TestPerNodeExamplesAgree(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("..", "examples", "*", "*.toml"))
	if err != nil {
		t.Fatal(err)
	}
	byDir := map[string][]string{}
	for _, p := range dirs {
		byDir[filepath.Base(filepath.Dir(p))] = append(byDir[filepath.Base(filepath.Dir(p))], filepath.Base(p))
	}
	// examples/windows holds one Windows file whose interface name only
	// the Windows rule accepts: TestParseWindowsExample parses it.
	delete(byDir, "windows")
	for dir, files := range byDir {
		t.Run(dir, func(t *testing.T) {
			var cfgs []*config.Config
			binds := map[string]bool{}
			for _, f := range files {
				c := parseExample(t, filepath.Join(dir, f))
				cfgs = append(cfgs, c)
				binds[c.Node.Bind.String()] = true
			}
			type inst struct {
				iface string
				vips  string
			}
			insts := map[string]inst{}
			for i, c := range cfgs {
				if c.Cluster.Name != cfgs[0].Cluster.Name {
					t.Errorf("%s: cluster %q, %s has %q", files[i], c.Cluster.Name, files[0], cfgs[0].Cluster.Name)
				}
				want := map[string]bool{}
				for b := range binds {
					if b != c.Node.Bind.String() {
						want[b] = true
					}
				}
				got := map[string]bool{}
				for _, p := range c.Cluster.Peers {
					got[p] = true
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("%s: peers are not the other members (-want +got):\n%s", files[i], diff)
				}
				for _, in := range c.Instances {
					now := inst{in.Interface, fmt.Sprint(in.VIPs)}
					if prev, ok := insts[in.Name]; ok && prev != now {
						t.Errorf("%s: instance %s is %v, elsewhere %v", files[i], in.Name, now, prev)
					}
					insts[in.Name] = now
				}
			}
		})
	}
}
