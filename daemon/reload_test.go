package daemon

import (
	"bytes"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/havip/havip/config"
	"github.com/havip/havip/election"
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
		{"every restart-only setting, in order", func(c *config.Config) {
			o := otherConfig()
			c.Node, c.Cloud, c.Status = o.Node, o.Cloud, o.Status
			quorum := c.Cluster.Quorum
			c.Cluster = o.Cluster
			c.Cluster.Quorum = quorum
		}, Diff{NeedRestart: []string{"node.name", "node.bind", "node.advertise", "node.state_dir",
			"cluster.name", "cluster.peers", "cluster.secret_key_file", "cluster.insecure", "cluster.timing",
			"status.socket", "status.socket_group", "status.metrics", "cloud"}}},
		{"a new key in the same file", func(c *config.Config) { c.Cluster.SecretKey = bytes.Repeat([]byte{7}, 32) },
			Diff{NeedRestart: []string{"cluster.secret_key_file (the key in it)"}}},
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

// otherConfig differs from baseConfig in every setting.
func otherConfig() *config.Config {
	return &config.Config{
		Path: "/etc/havip/other.toml",
		Node: config.Node{Name: "b", Bind: netip.MustParseAddrPort("10.0.0.9:7947"),
			Advertise: netip.MustParseAddrPort("192.0.2.9:7947"), StateDir: "/var/lib/other"},
		Cluster: config.Cluster{Name: "d", Peers: []string{"10.0.0.3:7946"}, SecretKeyFile: "/etc/havip/key",
			SecretKey: bytes.Repeat([]byte{7}, 32), Quorum: config.QuorumMajority, Timing: config.Timing{Profile: "fast"}},
		Instances: []config.Instance{{Name: "new", Interface: "eth1", Priority: 50}},
		Status:    config.Status{Socket: "/s", SocketGroup: "havip", Metrics: "127.0.0.1:9650"},
		Cloud:     config.Cloud{Provider: config.ProviderExec},
		Warnings:  []string{"a warning"},
	}
}

// settings names every field of config.Config and of its [node],
// [cluster] and [status] tables, by Go path, with its key in
// Diff.NeedRestart, or "" for the ones a reload applies.
var settings = map[string]string{
	"Path":                  "",
	"Node.Name":             "node.name",
	"Node.Bind":             "node.bind",
	"Node.Advertise":        "node.advertise",
	"Node.StateDir":         "node.state_dir",
	"Cluster.Name":          "cluster.name",
	"Cluster.Peers":         "cluster.peers",
	"Cluster.SecretKeyFile": "cluster.secret_key_file",
	"Cluster.SecretKey":     "cluster.secret_key_file (the key in it)",
	"Cluster.Insecure":      "cluster.insecure",
	"Cluster.Quorum":        "",
	"Cluster.Timing":        "cluster.timing",
	"Instances":             "",
	"Status.Socket":         "status.socket",
	"Status.SocketGroup":    "status.socket_group",
	"Status.Metrics":        "status.metrics",
	"Cloud":                 "cloud",
	"Warnings":              "",
}

// settingPaths lists the Go paths of config.Config's settings: the
// fields of the tables in tables, and the other fields whole.
func settingPaths(tables ...string) []string {
	var paths []string
	top := reflect.TypeFor[config.Config]()
	for i := range top.NumField() {
		f := top.Field(i)
		if !slices.Contains(tables, f.Name) {
			paths = append(paths, f.Name)
			continue
		}
		for j := range f.Type.NumField() {
			paths = append(paths, f.Name+"."+f.Type.Field(j).Name)
		}
	}
	return paths
}

// setting returns the value at a Go path of c.
func setting(c *config.Config, path string) reflect.Value {
	v := reflect.ValueOf(c).Elem()
	for _, name := range strings.Split(path, ".") {
		v = v.FieldByName(name)
	}
	return v
}

// TestRestartOnlySettings changes each setting alone and checks that a
// restart-only one is reported under its key and keeps its running
// value, and that any other applies. A setting added to the
// configuration without a place in restartOnlySettings or in settings
// fails here.
func TestRestartOnlySettings(t *testing.T) {
	inTable := map[string]bool{}
	for _, s := range restartOnlySettings {
		inTable[s.key] = true
	}
	tested := map[string]bool{}
	for _, path := range settingPaths("Node", "Cluster", "Status") {
		key, ok := settings[path]
		if !ok {
			t.Errorf("config.Config.%s is new: add it to restartOnlySettings if it needs a restart, and to settings in this test", path)
			continue
		}
		t.Run(path, func(t *testing.T) {
			old, other := baseConfig(), otherConfig()
			if reflect.DeepEqual(setting(old, path).Interface(), setting(other, path).Interface()) {
				t.Fatalf("otherConfig must differ from baseConfig in %s", path)
			}
			next := clone(old)
			setting(next, path).Set(setting(other, path))
			var wantRestart []string
			want := next
			if key != "" {
				wantRestart, want = []string{key}, old
				tested[key] = true
			}
			if diff := cmp.Diff(wantRestart, Compare(old, next).NeedRestart); diff != "" {
				t.Errorf("NeedRestart (-want +got):\n%s", diff)
			}
			if kept := keepRestartOnly(old, next); !reflect.DeepEqual(kept, want) {
				t.Errorf("keepRestartOnly: %s is %v, want %v", path, setting(kept, path), setting(want, path))
			}
		})
	}
	for key := range inTable {
		if !tested[key] {
			t.Errorf("restartOnlySettings has %q, which no setting in this test changes", key)
		}
	}
}

// TestRestartOnlyCoversElection ties the restart-only settings to the
// election's types: every field of election.Config outside Reloadable
// is fixed for the node's life, so the setting it comes from must need
// a restart. A field added to election.Config without a key here fails.
func TestRestartOnlyCoversElection(t *testing.T) {
	// The key of each field, and the Go path of the setting it is
	// built from.
	fields := map[string]struct{ key, from string }{
		"Name":      {"node.name", "Node.Name"},
		"Bind":      {"node.bind", "Node.Bind"},
		"Advertise": {"node.advertise", "Node.Advertise"},
		"Cluster":   {"cluster.name", "Cluster.Name"},
		"SecretKey": {"cluster.secret_key_file (the key in it)", "Cluster.SecretKey"},
		"Peers":     {"cluster.peers", "Cluster.Peers"},
		"Timing":    {"cluster.timing", "Cluster.Timing"},
	}
	typ := reflect.TypeFor[election.Config]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		if f.Anonymous && f.Type == reflect.TypeFor[election.Reloadable]() {
			continue
		}
		tc, ok := fields[f.Name]
		if !ok {
			t.Errorf("election.Config.%s has no restart-only key: add its setting to restartOnlySettings and the field here", f.Name)
			continue
		}
		t.Run(f.Name, func(t *testing.T) {
			old := baseConfig()
			next := clone(old)
			setting(next, tc.from).Set(setting(otherConfig(), tc.from))
			running := reflect.ValueOf(election.NewConfig(old)).FieldByIndex(f.Index).Interface()
			if reflect.DeepEqual(running, reflect.ValueOf(election.NewConfig(next)).FieldByIndex(f.Index).Interface()) {
				t.Fatalf("changing %s does not change election.Config.%s", tc.from, f.Name)
			}
			if got := Compare(old, next).NeedRestart; !slices.Contains(got, tc.key) {
				t.Errorf("changing %s: NeedRestart %q, want %q in it", tc.from, got, tc.key)
			}
			kept := reflect.ValueOf(election.NewConfig(keepRestartOnly(old, next))).FieldByIndex(f.Index).Interface()
			if !reflect.DeepEqual(kept, running) {
				t.Errorf("after a reload election.Config.%s is %v, want the running %v", f.Name, kept, running)
			}
		})
	}
}

// TestReloadableFollowsTheFile checks the other side: what
// election.Reloadable holds comes from the new file.
func TestReloadableFollowsTheFile(t *testing.T) {
	old := baseConfig()
	next := clone(old)
	next.Cluster.Quorum = config.QuorumMajority
	next.Instances[0].Priority = 7
	next.Instances = next.Instances[:2]
	want := election.NewReloadable(next)
	if diff := cmp.Diff(want, election.NewConfig(keepRestartOnly(old, next)).Reloadable); diff != "" {
		t.Errorf("Reloadable after a reload (-want +got):\n%s", diff)
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
