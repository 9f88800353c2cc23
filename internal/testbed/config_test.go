package testbed

import (
	"encoding/base64"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/google/go-cmp/cmp"
)

func TestNodeConfig(t *testing.T) {
	web := InstanceOpts{
		Name:     "web",
		VIPs:     []netip.Addr{VIP4(0), VIP6(0)},
		Priority: []int{150, 100, 50},
		Preempt:  true,
	}
	tests := []struct {
		name string
		node int
		opts ClusterOpts
		want map[string]any
	}{
		{
			name: "defaults",
			node: 1,
			opts: ClusterOpts{Nodes: 3, SocketDir: "/tmp/s", Instances: []InstanceOpts{web}},
			want: map[string]any{
				"node": map[string]any{"name": "node1", "bind": "198.18.0.11:7946", "state_dir": "/tmp/s/node1.state"},
				"cluster": map[string]any{
					"name":     "havip-test",
					"peers":    []any{"198.18.0.10:7946", "198.18.0.12:7946"},
					"insecure": true,
					"timing":   "fast",
				},
				"instance": []map[string]any{{
					"name":      "web",
					"interface": "eth0",
					"vips":      []any{"198.18.0.100", "fd00:4856::100"},
					"priority":  int64(100),
					"preempt":   true,
				}},
				"status": map[string]any{"socket": "/tmp/s/node1.sock"},
			},
		},
		{
			name: "everything",
			node: 3,
			opts: ClusterOpts{
				Name:          "other \"quoted\"",
				Members:       []int{3, 0, 1, 0},
				SecretKeyFile: "/k/key",
				Quorum:        "off",
				Timing:        "default",
				ClusterExtra:  "rejoin_interval = \"1s\"\n",
				SocketDir:     "/s",
				Instances: []InstanceOpts{
					web, // no priority for node 3: left out
					{
						Name:             "db",
						Interface:        "eth1",
						VIPs:             []netip.Addr{VIP4(1)},
						Priority:         []int{1, 2, 3, 200},
						PreemptDelay:     1500 * time.Millisecond,
						AnnounceCount:    3,
						AnnounceInterval: 50 * time.Millisecond,
						Extra:            "track_interfaces = [\"eth0\"]",
					},
				},
				Extra: "[extra]\nk = 1\n",
			},
			want: map[string]any{
				"node": map[string]any{"name": "node3", "bind": "198.18.0.13:7946", "state_dir": "/s/node3.state"},
				"cluster": map[string]any{
					"name":            "other \"quoted\"",
					"peers":           []any{"198.18.0.10:7946", "198.18.0.11:7946"},
					"secret_key_file": "/k/key",
					"quorum":          "off",
					"timing":          "default",
					"rejoin_interval": "1s",
				},
				"instance": []map[string]any{{
					"name":              "db",
					"interface":         "eth1",
					"vips":              []any{"198.18.0.101"},
					"priority":          int64(200),
					"preempt":           false,
					"preempt_delay":     "1.5s",
					"announce_count":    int64(3),
					"announce_interval": "50ms",
					"track_interfaces":  []any{"eth0"},
				}},
				"status": map[string]any{"socket": "/s/node3.sock"},
				"extra":  map[string]any{"k": int64(1)},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := NodeConfig(tt.node, tt.opts)
			var got map[string]any
			if _, err := toml.Decode(text, &got); err != nil {
				t.Fatalf("generated TOML does not parse: %v\n%s", err, text)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("NodeConfig(%d) (-want +got):\n%s\n%s", tt.node, diff, text)
			}
		})
	}
}

func TestTOMLString(t *testing.T) {
	for _, s := range []string{"", "plain", `back\slash`, `"q"`, "tab\tnew\nline\x7f", "üñï"} {
		var got struct{ V string }
		if _, err := toml.Decode("V = "+tomlString(s), &got); err != nil {
			t.Fatalf("tomlString(%q) = %s: %v", s, tomlString(s), err)
		}
		if got.V != s {
			t.Errorf("tomlString(%q) decodes to %q", s, got.V)
		}
	}
}

func TestWriteSecretKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteSecretKey(path); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if m := fi.Mode().Perm(); m != 0o600 {
		t.Errorf("mode %v, want 0600", m)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatalf("key is not base64: %v", err)
	}
	if len(key) != 32 {
		t.Errorf("key has %d bytes, want 32", len(key))
	}
}

func TestAddressPlan(t *testing.T) {
	got := []string{
		NodeAddr(0).String(), NodeAddr6(0).String(), NodeBind(2).String(),
		ObserverAddr().String(), ObserverAddr6().String(),
		VIP4(0).String(), VIP4(1).String(), VIP6(0).String(),
		HostPrefix(VIP4(0)).String(), HostPrefix(VIP6(0)).String(),
	}
	want := []string{
		"198.18.0.10", "fd00:4856::10", "198.18.0.12:7946",
		"198.18.0.2", "fd00:4856::2",
		"198.18.0.100", "198.18.0.101", "fd00:4856::100",
		"198.18.0.100/32", "fd00:4856::100/128",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("address plan (-want +got):\n%s", diff)
	}
	for i := range MaxNodes {
		if !Subnet4.Contains(NodeAddr(i)) || NodeAddr(i).Compare(VIP4(0)) >= 0 {
			t.Errorf("node %d address %s collides or leaves the subnet", i, NodeAddr(i))
		}
		if !Subnet6.Contains(NodeAddr6(i)) {
			t.Errorf("node %d address %s leaves the subnet", i, NodeAddr6(i))
		}
	}
}

func ExampleNodeConfig() {
	opts := ClusterOpts{
		Nodes:     2,
		SocketDir: "/tmp/havip-test",
		Instances: []InstanceOpts{{
			Name:     "web",
			VIPs:     []netip.Addr{VIP4(0)},
			Priority: []int{150, 100},
			Preempt:  true,
		}},
	}
	os.Stdout.WriteString(NodeConfig(0, opts))
	// Output:
	// # havip configuration of test node 0
	// [node]
	// name = "node0"
	// bind = "198.18.0.10:7946"
	// state_dir = "/tmp/havip-test/node0.state"
	//
	// [cluster]
	// name = "havip-test"
	// peers = ["198.18.0.11:7946"]
	// insecure = true
	// timing = "fast"
	//
	// [[instance]]
	// name = "web"
	// interface = "eth0"
	// vips = ["198.18.0.100"]
	// priority = 150
	// preempt = true
	//
	// [status]
	// socket = "/tmp/havip-test/node0.sock"
}
