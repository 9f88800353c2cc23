package daemon

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/havip/havip/config"
)

func baseConfig() *config.Config {
	return &config.Config{
		Node:    config.Node{Name: "a", Bind: netip.MustParseAddrPort("10.0.0.1:7946"), StateDir: "/var/lib/havip"},
		Cluster: config.Cluster{Name: "c", Peers: []string{"10.0.0.2:7946"}, Insecure: true, Quorum: config.QuorumAuto},
		Instances: []config.Instance{
			{Name: "web", Interface: "eth0", VIPs: []netip.Prefix{netip.MustParsePrefix("10.0.0.100/32")}, Priority: 100},
			{Name: "db", Interface: "eth0", VIPs: []netip.Prefix{netip.MustParsePrefix("10.0.0.101/32")}, Priority: 100},
			{Name: "old", Interface: "eth0", VIPs: []netip.Prefix{netip.MustParsePrefix("10.0.0.102/32")}, Priority: 100},
		},
		Status: config.Status{Socket: "/run/havip/havip.sock"},
	}
}

// clone copies what the tests change.
func clone(c *config.Config) *config.Config {
	n := *c
	n.Instances = append([]config.Instance(nil), c.Instances...)
	n.Cluster.Peers = append([]string(nil), c.Cluster.Peers...)
	return &n
}

func TestCompare(t *testing.T) {
	tests := []struct {
		name   string
		change func(c *config.Config)
		want   Diff
	}{
		{"nothing", func(*config.Config) {}, Diff{}},
		{"priority", func(c *config.Config) { c.Instances[0].Priority = 200 }, Diff{Changed: []string{"web"}}},
		{"vips", func(c *config.Config) {
			c.Instances[1].VIPs = append(c.Instances[1].VIPs, netip.MustParsePrefix("10.0.0.103/32"))
		}, Diff{Changed: []string{"db"}}},
		{"a check", func(c *config.Config) {
			c.Instances[0].TrackScripts = []config.TrackScript{{Name: "app", Command: []string{"/bin/true"}, Interval: time.Second, Timeout: time.Second, Rise: 1, Fall: 1}}
		}, Diff{Changed: []string{"web"}}},
		{"a hook", func(c *config.Config) { c.Instances[0].Notify.Master = []string{"/bin/true"} }, Diff{Changed: []string{"web"}}},
		{"tracked interface", func(c *config.Config) { c.Instances[2].TrackInterfaces = []string{"eth1"} }, Diff{Changed: []string{"old"}}},
		{"added and removed", func(c *config.Config) {
			c.Instances[2] = config.Instance{Name: "new", Interface: "eth1", Priority: 50}
		}, Diff{Added: []string{"new"}, Removed: []string{"old"}}},
		{"order only", func(c *config.Config) { c.Instances[0], c.Instances[1] = c.Instances[1], c.Instances[0] }, Diff{}},
		{"restart only", func(c *config.Config) {
			c.Node.Name = "b"
			c.Node.Bind = netip.MustParseAddrPort("10.0.0.1:7947")
			c.Cluster.Name = "d"
			c.Cluster.Peers = []string{"10.0.0.3:7946"}
			c.Cluster.Insecure = false
			c.Cluster.SecretKeyFile = "/k"
			c.Status.Socket = "/s"
			c.Status.Metrics = "127.0.0.1:9650"
		}, Diff{NeedRestart: []string{"node.name", "node.bind", "cluster.name", "cluster.peers", "cluster.secret_key_file", "cluster.insecure", "status.socket", "status.metrics"}}},
		{"quorum applies live", func(c *config.Config) { c.Cluster.Quorum = config.QuorumMajority }, Diff{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := baseConfig()
			next := clone(old)
			tt.change(next)
			if diff := cmp.Diff(tt.want, Compare(old, next)); diff != "" {
				t.Errorf("Compare (-want +got):\n%s", diff)
			}
		})
	}
}

func TestKeepRestartOnly(t *testing.T) {
	old := baseConfig()
	next := clone(old)
	next.Node.Name = "b"
	next.Cluster.Peers = []string{"10.0.0.9:7946"}
	next.Cluster.Quorum = config.QuorumOff
	next.Status.Socket = "/elsewhere"
	next.Instances[0].Priority = 7
	got := keepRestartOnly(old, next)
	if got.Node.Name != "a" || got.Cluster.Peers[0] != "10.0.0.2:7946" || got.Status.Socket != old.Status.Socket {
		t.Errorf("restart-only settings not kept: %+v", got)
	}
	if got.Cluster.Quorum != config.QuorumOff || got.Instances[0].Priority != 7 {
		t.Errorf("live settings not taken: quorum %s, priority %d", got.Cluster.Quorum, got.Instances[0].Priority)
	}
}

func TestCombineReasons(t *testing.T) {
	if got := combineReasons(map[string]string{}); got != "" {
		t.Errorf("no sources: %q", got)
	}
	got := combineReasons(map[string]string{srcScript + "app": "track script app failed", srcInterface: "interface eth0 down"})
	if want := "interface eth0 down; track script app failed"; got != want {
		t.Errorf("combined %q, want %q", got, want)
	}
}
