package keepalived

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// convert parses text as path and converts it for config-id id.
func convert(t *testing.T, text, id string) *Result {
	t.Helper()
	cfg := Parse([]byte(text), "test.conf", ParseOptions{ConfigID: id})
	return Convert(cfg, Options{Hostname: "host-1"})
}

// reportHas fails the test unless a finding starts with each prefix.
func reportHas(t *testing.T, r Report, prefixes ...string) {
	t.Helper()
	for _, p := range prefixes {
		found := false
		for _, f := range r {
			found = found || strings.HasPrefix(f.String(), p)
		}
		if !found {
			t.Errorf("no finding starting with %q in:\n%s", p, reportText(r))
		}
	}
}

func reportText(r Report) string {
	var b strings.Builder
	for _, f := range r {
		b.WriteString(f.String() + "\n")
	}
	return b.String()
}

// TestCloudPair converts one file for each of the two servers it
// serves and compares the result with the golden files.
func TestCloudPair(t *testing.T) {
	for _, node := range []string{"ecs-a", "ecs-b"} {
		t.Run(node, func(t *testing.T) {
			cfg, err := ParseFile(filepath.Join("testdata", "cloud-pair", "keepalived.conf"), ParseOptions{ConfigID: node})
			if err != nil {
				t.Fatal(err)
			}
			res := Convert(cfg, Options{SecretKeyFile: "/etc/havip/secret.key"})
			text, err := res.Check(node + ".toml")
			if err != nil {
				t.Fatalf("the converted configuration does not load: %v\n%s", err, text)
			}
			golden := filepath.Join("testdata", "cloud-pair", node+".toml")
			if *update {
				if err := os.WriteFile(golden, text, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), string(text)); diff != "" {
				t.Errorf("%s (-want +got):\n%s", golden, diff)
			}
			conf := "testdata/cloud-pair/keepalived.conf"
			reportHas(t, res.Report,
				conf+":8: global_defs: enable_script_security: note: havip always refuses",
				conf+":21: vrrp_script chk_upstream: script: changed: \"/usr/bin/curl -fs http://127.0.0.1/health | grep -q ok\" has shell syntax: havip runs it with /bin/sh -c",
				conf+":26: vrrp_instance VI_web: state: not carried over:",
				conf+`:32: vrrp_instance VI_web: advert_int: changed: advert_int 1s: failover in about 3.`,
				conf+`:48: vrrp_instance VI_web: notify_master: changed: runs as ["/bin/sh", "-c", "/etc/keepalived/notify.sh master", "notify"]: havip appends the instance, the state and the VIPs to notify.master`,
				conf+`:51: vrrp_instance VI_web: notify_stop: changed: runs as ["/bin/sh", "-c", "/etc/keepalived/notify.sh stop", "notify"]`,
				conf+`:50: vrrp_instance VI_web: notify_fault: note: runs as "keepalived_script", the instance's first notify command as "root" (notify.user): notify.fault is a table with a user of its own: user = "keepalived_script"`,
				"cluster.quorum: note: two members: quorum is off",
			)
			// The failover times, as the issue asking for the import words
			// them.
			if want := `with keepalived (a backup takes over from a silent master after 3 × advert_int and a skew for priority `; !strings.Contains(reportText(res.Report), want) {
				t.Errorf("no %q in:\n%s", want, reportText(res.Report))
			}
			if want := `; cluster.timing = "conservative", the nearest havip profile: failover in about 6s (the profiles: default about 900ms, fast about 225ms, instant about 35ms, conservative about 6s)`; !strings.Contains(reportText(res.Report), want) {
				t.Errorf("no %q in:\n%s", want, reportText(res.Report))
			}
			// The VIP with its prefix and label and script_user root are
			// carried over as they are.
			for _, f := range res.Report {
				if line := f.String(); strings.Contains(line, "vip.conf") || strings.Contains(line, "script_user") {
					t.Errorf("reported: %s", line)
				}
			}
			if n := res.Report.Count(Problem); n != 0 {
				t.Errorf("%d problems:\n%s", n, reportText(res.Report))
			}
		})
	}
}

// TestKubeadm converts the kubeadm control plane's configuration, whose
// values all come from $NAME definitions.
func TestKubeadm(t *testing.T) {
	cfg, err := ParseFile(filepath.Join("testdata", "kubeadm-ha.conf"), ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res := Convert(cfg, Options{})
	if _, err := res.Check("kubeadm.toml"); err != nil {
		t.Fatal(err)
	}
	want := []Instance{{
		Name: "VI_1", Interface: "eth0", VIPs: vips("192.168.0.40"), Priority: 101, Preempt: true,
		TrackScripts: []TrackScript{{Name: "check_apiserver", Command: []string{"/etc/keepalived/check_apiserver.sh"},
			Interval: "3s", Timeout: "3s", Rise: 2, Fall: 10, Weight: 2}},
		From: "vrrp_instance VI_1 (testdata/kubeadm-ha.conf:22)",
	}}
	if diff := cmp.Diff(want, res.Instances); diff != "" {
		t.Errorf("instances (-want +got):\n%s", diff)
	}
	if res.Node.Name != "" || res.Cluster.Name != "keepalived-vrid-51" || res.Cluster.Timing != "conservative" {
		t.Errorf("node %+v, cluster %+v", res.Node, res.Cluster)
	}
	reportHas(t, res.Report,
		"testdata/kubeadm-ha.conf:12: global_defs: router_id: changed: LVS_DEVEL is keepalived's sample value, which configurations copied from guides share on every member, and node.name must be different on every member: node.name is left out: havip takes the host name; pass --name to choose another",
		"testdata/kubeadm-ha.conf:27: vrrp_instance VI_1: authentication: note: auth_pass is not used",
		"cluster.peers: changed: no unicast_peer: keepalived found the other members by multicast")
}

func TestConvert(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		want   []Instance
		report []string
	}{{
		name: "weights",
		in: `vrrp_script up { 
  script "/bin/true"
  weight 10
}
vrrp_script down {
  script /bin/false
  weight -30
  interval 0.005
}
vrrp_instance A {
  interface eth0
  priority 250
  virtual_ipaddress { 10.0.0.1 }
  track_script {
    up
    down
    up2 weight 5
  }
}`,
		want: []Instance{{Name: "A", Interface: "eth0", VIPs: vips("10.0.0.1"), Priority: 255, Preempt: true,
			TrackScripts: []TrackScript{
				{Name: "up", Command: []string{"/bin/true"}, Interval: "1s", Timeout: "1s", Rise: 1, Fall: 1, Weight: 10},
				{Name: "down", Command: []string{"/bin/false"}, Interval: "10ms", Timeout: "10ms", Rise: 1, Fall: 1, Weight: 30},
			}}},
		report: []string{
			"test.conf:8: vrrp_script down: interval: changed: 5ms is outside havip's 10ms..1h: 10ms",
			"test.conf:15: vrrp_instance A: track_script up: changed: weight +10",
			"test.conf:17: vrrp_instance A: track_script up2: problem: there is no vrrp_script up2",
			"test.conf:12: vrrp_instance A: priority: changed: priority 250 plus the positive weights (10) is above 255",
		},
	}, {
		name: "sync group on one interface",
		in: `vrrp_sync_group G {
  group { A B }
  notify_master "/bin/g master"
}
vrrp_instance A {
  interface eth0
  priority 100
  nopreempt
  virtual_ipaddress { 10.0.0.1 }
  notify_backup /bin/a
}
vrrp_instance B {
  interface eth0
  priority 120
  virtual_ipaddress { 10.0.0.2 10.0.0.1 }
  notify_backup /bin/b
}`,
		want: []Instance{{Name: "G", Interface: "eth0", VIPs: vips("10.0.0.1", "10.0.0.2"), Priority: 120, Preempt: false,
			Notify: &Notify{Master: hook("/bin/g master"), Backup: hook("/bin/a")}}},
		report: []string{
			"test.conf:1: vrrp_sync_group G: changed: vrrp_instance A, vrrp_instance B are merged into one instance \"G\" on eth0",
			"test.conf:12: vrrp_instance B: priority: changed: 120 differs from vrrp_instance A's 100: the merged instance takes the higher",
			`test.conf:16: vrrp_instance B: notify_backup: not carried over: the merged instance has one command per state: it runs ["/bin/sh", "-c", "/bin/a", "notify"]`,
		},
	}, {
		name: "sync group across interfaces",
		in: `vrrp_sync_group G {
  group {
    A
    B
  }
}
vrrp_instance A {
  interface eth0
  virtual_ipaddress { 10.0.0.1 }
}
vrrp_instance B {
  interface eth1
  virtual_ipaddress { 10.0.1.1 }
  track_interface { eth2 }
}`,
		want: []Instance{
			{Name: "A", Interface: "eth0", VIPs: vips("10.0.0.1"), Priority: 100, Preempt: true, TrackInterfaces: tracked("eth1")},
			{Name: "B", Interface: "eth1", VIPs: vips("10.0.1.1"), Priority: 100, Preempt: true, TrackInterfaces: tracked("eth2", "eth0")},
		},
		report: []string{"test.conf:1: vrrp_sync_group G: changed: vrrp_instance A, vrrp_instance B are on different interfaces"},
	}, {
		name: "announcements",
		in: `global_defs {
  vrrp_garp_master_delay 0
  vrrp_garp_master_repeat 3
  vrrp_garp_interval 0.0001
}
vrrp_instance A {
  interface eth0
  virtual_ipaddress { 10.0.0.1 }
  garp_master_refresh 60
  garp_master_refresh_repeat 2
  garp_master_delay 5
}`,
		want: []Instance{{Name: "A", Interface: "eth0", VIPs: vips("10.0.0.1"), Priority: 100, Preempt: true,
			AnnounceCount: 3, AnnounceInterval: "1ms", AnnounceRefresh: "1m0s"}},
		report: []string{
			"test.conf:4: vrrp_instance A: vrrp_garp_interval: changed: havip spaces announcements 1ms..10s apart",
			"test.conf:10: vrrp_instance A: garp_master_refresh_repeat: not carried over: havip sends one announcement per refresh",
			"test.conf:11: vrrp_instance A: garp_master_delay: changed: havip sends no second burst 5s later",
		},
	}, {
		name: "what havip cannot hold",
		in: `vrrp_instance A {
  interface eth0
  unicast_src_ip 10.0.0.5
  unicast_peer { 10.0.0.6 }
  virtual_ipaddress {
    10.0.0.1
    10.0.0.6
    10.0.2.1 dev eth1
    not-an-address
  }
}
vrrp_instance B {
  interface eth0
  virtual_ipaddress { 10.0.0.1 }
}
vrrp_instance C {
  virtual_ipaddress { 10.0.0.9 }
}
virtual_server 10.0.0.1 80 {
  real_server 10.0.1.1 80 { weight 1 }
}`,
		want: []Instance{{Name: "A", Interface: "eth0", VIPs: []VIPEntry{{Address: "10.0.0.1"}, {Address: "10.0.2.1", Interface: "eth1"}}, Priority: 100, Preempt: true}},
		report: []string{
			"test.conf:9: vrrp_instance A: virtual_ipaddress: problem: \"not-an-address\" is not an IP address",
			"test.conf:1: vrrp_instance A: problem: VIP 10.0.0.6 is a member's own address",
			"test.conf:12: vrrp_instance B: problem: VIP 10.0.0.1 is also a VIP of vrrp_instance A",
			"test.conf:12: vrrp_instance B: not carried over: no VIP havip can hold",
			"test.conf:16: vrrp_instance C: problem: no interface",
			"test.conf:19: virtual_server: not carried over: havip does not configure LVS",
		},
	}, {
		// Each address or name havip refuses leaves out only itself, or
		// its instance when nothing is left, so that the rest converts.
		name: "addresses and names havip refuses",
		in: `vrrp_instance A {
  interface eth0
  virtual_ipaddress {
    10.0.0.1
    127.0.0.1 dev lo
    224.0.0.5
    0.0.0.0
    ::1
    fe80::1/64
    10.0.0.2 dev an-interface-name-too-long
    10.0.0.3 dev eth1
    10.0.0.4 dev ${VIP_DEV}
  }
  track_interface {
    eth1
    bad/name
  }
}
vrrp_instance LO {
  interface lo
  virtual_ipaddress { 127.0.0.2 }
}
vrrp_instance LONG {
  interface an-interface-name-too-long
  virtual_ipaddress { 10.0.1.1 }
}
vrrp_instance TEMPLATE {
  interface ${INTERFACE}
  virtual_ipaddress { 10.0.2.1 }
}`,
		want: []Instance{{Name: "A", Interface: "eth0", VIPs: []VIPEntry{{Address: "10.0.0.1"}, {Address: "10.0.0.3", Interface: "eth1"}},
			Priority: 100, Preempt: true, TrackInterfaces: tracked("eth1")}},
		report: []string{
			`test.conf:5: vrrp_instance A: virtual_ipaddress 127.0.0.1: problem: "127.0.0.1" cannot be a VIP: it is a loopback address: left out`,
			`test.conf:6: vrrp_instance A: virtual_ipaddress 224.0.0.5: problem: "224.0.0.5" cannot be a VIP: it is multicast: left out`,
			`test.conf:7: vrrp_instance A: virtual_ipaddress 0.0.0.0: problem: "0.0.0.0" cannot be a VIP: it is unspecified: left out`,
			`test.conf:8: vrrp_instance A: virtual_ipaddress ::1: problem: "::1" cannot be a VIP: it is a loopback address: left out`,
			`test.conf:9: vrrp_instance A: virtual_ipaddress fe80::1: problem: "fe80::1/64" cannot be a VIP: it is an IPv6 link-local address: left out`,
			`test.conf:10: vrrp_instance A: virtual_ipaddress 10.0.0.2: dev an-interface-name-too-long: problem: "an-interface-name-too-long" is not a valid interface name (1 to 15 bytes`,
			`test.conf:12: problem: ${VIP_DEV} is not defined`,
			`test.conf:12: vrrp_instance A: virtual_ipaddress 10.0.0.4: dev ${VIP_DEV}: problem: "${VIP_DEV}" holds ${VIP_DEV}, a parameter that is not defined: the VIP is left out`,
			`test.conf:16: vrrp_instance A: track_interface bad/name: problem: "bad/name" is not a valid interface name`,
			`test.conf:19: vrrp_instance LO: not carried over: no VIP havip can hold: the instance is left out`,
			`test.conf:21: vrrp_instance LO: virtual_ipaddress 127.0.0.2: problem: "127.0.0.2" cannot be a VIP: it is a loopback address: left out`,
			`test.conf:24: vrrp_instance LONG: interface: problem: "an-interface-name-too-long" is not a valid interface name (1 to 15 bytes, no '/', ':', spaces or control characters): the instance is left out`,
			`test.conf:28: vrrp_instance TEMPLATE: interface: problem: "${INTERFACE}" holds ${INTERFACE}, a parameter that is not defined: the instance is left out`,
		},
	}, {
		name: "keepalived's VIPs, tracked interfaces, users and hooks",
		in: `global_defs { script_user www-data }
vrrp_script chk {
  script "/usr/local/bin/chk"
  user nobody nogroup
}
vrrp_script chk2 { script /bin/true }
vrrp_instance A {
  interface eth0
  virtual_ipaddress {
    192.168.1.10/24 dev eth0 label eth0:1 brd 192.168.1.255
    192.168.2.10/24 dev eth1 label eth1:web
    2001:db8::10/64 dev eth1 label eth1:6
    10.0.0.0/24
    192.168.3.10/24 brd 192.168.3.1 noprefixroute
  }
  track_interface {
    eth1
    eth2 weight -20
    eth3 weight 10
    eth4 weight 0
  }
  track_script {
    chk
    chk2
  }
  notify_master "/bin/m" www-data
  notify_stop /bin/stop
  notify "/bin/any x"
}`,
		want: []Instance{{Name: "A", Interface: "eth0", Priority: 110, Preempt: true,
			VIPs: []VIPEntry{{Address: "192.168.1.10/24", Label: "eth0:1"}, {Address: "192.168.2.10/24", Interface: "eth1", Label: "eth1:web"},
				{Address: "2001:db8::10/64", Interface: "eth1"}, {Address: "10.0.0.0"}, {Address: "192.168.3.10/24"}},
			TrackInterfaces: []Tracked{{Interface: "eth1"}, {Interface: "eth2", Weight: 20}, {Interface: "eth3", Weight: 10}, {Interface: "eth4"}},
			TrackScripts: []TrackScript{
				{Name: "chk", Command: []string{"/usr/local/bin/chk"}, Interval: "1s", Timeout: "1s", Rise: 1, Fall: 1, User: "nobody", Group: "nogroup"},
				{Name: "chk2", Command: []string{"/bin/true"}, Interval: "1s", Timeout: "1s", Rise: 1, Fall: 1, User: "www-data"},
			},
			Notify: &Notify{Master: hook("/bin/m"), Stop: hook("/bin/stop"), Any: Hook{Command: []string{"/bin/any", "x"}}, User: "www-data"}}},
		report: []string{
			`test.conf:12: vrrp_instance A: virtual_ipaddress 2001:db8::10: label eth1:6: not carried over: label "eth1:6" cannot be set: only IPv4 addresses have labels`,
			`test.conf:13: vrrp_instance A: virtual_ipaddress 10.0.0.0: problem: "10.0.0.0/24" cannot be a VIP: it is the network address of its subnet 10.0.0.0/24: havip adds the host address 10.0.0.0/32 instead`,
			`test.conf:14: vrrp_instance A: virtual_ipaddress 192.168.3.10: brd 192.168.3.1: not carried over: havip gives the VIP its subnet's broadcast address, 192.168.3.255`,
			`test.conf:14: vrrp_instance A: virtual_ipaddress 192.168.3.10: noprefixroute: not carried over: havip adds the subnet's route`,
			`test.conf:19: vrrp_instance A: track_interface eth3: changed: weight +10`,
			`test.conf:28: vrrp_instance A: notify: note: notify.any gets what keepalived's notify script got`,
		},
	}, {
		name: "notify commands of several users",
		in: `vrrp_instance A {
  interface eth0
  virtual_ipaddress { 10.0.0.1 }
  notify_master "/bin/m" alice
  notify_backup "/bin/b" bob staff
  notify_fault "/bin/f" root
}`,
		want: []Instance{{Name: "A", Interface: "eth0", VIPs: vips("10.0.0.1"), Priority: 100, Preempt: true,
			Notify: &Notify{Master: hook("/bin/m"), Backup: ownHook(hook("/bin/b"), "bob", "staff"), Fault: ownHook(hook("/bin/f"), "root", ""), User: "alice"}}},
		report: []string{
			`test.conf:5: vrrp_instance A: notify_backup: note: runs as "bob staff", the instance's first notify command as "alice" (notify.user): notify.backup is a table with a user of its own: user = "bob", group = "staff"`,
			`test.conf:6: vrrp_instance A: notify_fault: note: runs as "root", the instance's first notify command as "alice" (notify.user): notify.fault is a table with a user of its own: user = "root"`,
		},
	}, {
		// keepalived passes nothing to the commands of one state, havip
		// appends three arguments: through the shell they go unused.
		name: "notify commands of one state get no arguments",
		in: `vrrp_instance A {
  interface eth0
  virtual_ipaddress { 10.0.0.1 }
  notify_master "/bin/systemctl start haproxy"
  notify_backup "/usr/local/bin/say 'two words' x=1"
  notify_fault "/usr/bin/logger -t ka fault || true"
  notify "/etc/keepalived/notify.sh"
}`,
		want: []Instance{{Name: "A", Interface: "eth0", VIPs: vips("10.0.0.1"), Priority: 100, Preempt: true,
			Notify: &Notify{Master: hook("/bin/systemctl start haproxy"), Backup: hook("/usr/local/bin/say 'two words' x=1"),
				Fault: hook("/usr/bin/logger -t ka fault || true"), Any: Hook{Command: []string{"/etc/keepalived/notify.sh"}}}}},
		report: []string{
			`test.conf:4: vrrp_instance A: notify_master: changed: runs as ["/bin/sh", "-c", "/bin/systemctl start haproxy", "notify"]: havip appends the instance, the state and the VIPs to notify.master (also in HAVIP_INSTANCE, HAVIP_STATE, HAVIP_VIPS), where keepalived passed no argument; through the shell they are $1, $2 and $3, which the command does not get`,
			`test.conf:6: vrrp_instance A: notify_fault: changed: "/usr/bin/logger -t ka fault || true" has shell syntax`,
			`test.conf:6: vrrp_instance A: notify_fault: changed: runs as ["/bin/sh", "-c", "/usr/bin/logger -t ka fault || true", "notify"]`,
			`test.conf:7: vrrp_instance A: notify: note: notify.any gets what keepalived's notify script got`,
		},
	}, {
		// An unquoted command's next word is the user it runs as, for
		// keepalived too; it is often meant as an argument.
		name: "a word after an unquoted notify command",
		in: `vrrp_instance A {
  interface eth0
  virtual_ipaddress { 10.0.0.1 }
  notify_master /etc/keepalived/notify.sh master
  notify_stop /etc/keepalived/notify.sh stop nogroup
}`,
		want: []Instance{{Name: "A", Interface: "eth0", VIPs: vips("10.0.0.1"), Priority: 100, Preempt: true,
			Notify: &Notify{Master: hook("/etc/keepalived/notify.sh"), Stop: ownHook(hook("/etc/keepalived/notify.sh"), "stop", "nogroup"), User: "master"}}},
		report: []string{
			`test.conf:4: vrrp_instance A: notify_master: problem: "master" after the command, which is not quoted, is read as the user to run it as, as keepalived reads it: if it is an argument of the command, quote the command line: notify_master "/etc/keepalived/notify.sh master"`,
			`test.conf:5: vrrp_instance A: notify_stop: problem: "stop nogroup" after the command, which is not quoted, is read as the user and the group to run it as`,
			`test.conf:5: vrrp_instance A: notify_stop: note: runs as "stop nogroup", the instance's first notify command as "master" (notify.user): notify.stop is a table with a user of its own`,
		},
	}, {
		name: "sync group hooks",
		in: `vrrp_sync_group G {
  group { A B }
  notify "/bin/gn"
  notify_stop "/bin/gs"
}
vrrp_instance A {
  interface eth0
  virtual_ipaddress { 10.0.0.1 }
}
vrrp_instance B {
  interface eth0
  virtual_ipaddress { 10.0.0.2 }
}`,
		want: []Instance{{Name: "G", Interface: "eth0", VIPs: vips("10.0.0.1", "10.0.0.2"), Priority: 100, Preempt: true,
			Notify: &Notify{Stop: hook("/bin/gs"), Any: Hook{Command: []string{"/bin/gn"}}}}},
		report: []string{`test.conf:3: vrrp_sync_group G: notify: changed: keepalived passed GROUP and the group's name; havip passes INSTANCE and the merged instance's name, "G"`},
	}, {
		// The members' commands go to the merged instance with the
		// users they ran as.
		name: "sync group members' hooks of several users",
		in: `vrrp_sync_group G {
  group { A B }
  notify_fault "/bin/gf" carol
}
vrrp_instance A {
  interface eth0
  virtual_ipaddress { 10.0.0.1 }
  notify_master "/bin/am" alice
  notify_fault "/bin/af" alice
}
vrrp_instance B {
  interface eth0
  virtual_ipaddress { 10.0.0.2 }
  notify_backup "/bin/bb" bob
  notify_master "/bin/bm" bob
}`,
		want: []Instance{{Name: "G", Interface: "eth0", VIPs: vips("10.0.0.1", "10.0.0.2"), Priority: 100, Preempt: true,
			Notify: &Notify{Master: hook("/bin/am"), Backup: ownHook(hook("/bin/bb"), "bob", ""), Fault: ownHook(hook("/bin/gf"), "carol", ""), User: "alice"}}},
		report: []string{
			`test.conf:14: vrrp_instance B: notify_backup: note: runs as "bob", the instance's first notify command as "alice" (notify.user): notify.backup is a table with a user of its own: user = "bob"`,
			`test.conf:3: vrrp_sync_group G: notify_fault: note: runs as "carol", the instance's first notify command as "alice" (notify.user): notify.fault is a table with a user of its own: user = "carol"`,
			`test.conf:15: vrrp_instance B: notify_master: not carried over: the merged instance has one command per state: it runs ["/bin/sh", "-c", "/bin/am", "notify"] as "alice"`,
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := convert(t, tt.in, "host-1")
			if diff := cmp.Diff(tt.want, res.Instances, cmpIgnoreFrom); diff != "" {
				t.Errorf("instances (-want +got):\n%s", diff)
			}
			reportHas(t, res.Report, tt.report...)
			if text, err := res.Check("test.toml"); err != nil {
				t.Errorf("the converted configuration does not load: %v\n%s", err, text)
			}
		})
	}
}

// TestRouterID: node.name must differ on every member, and router_id
// need not; LVS_DEVEL, the samples' value, is the one guides copy.
func TestRouterID(t *testing.T) {
	for _, tt := range []struct {
		name, conf string
		o          Options
		want       string
		report     string
	}{
		{"the samples' value", "LVS_DEVEL", Options{Hostname: "lb-2.example.com"}, "lb-2.example.com",
			`test.conf:1: global_defs: router_id: changed: LVS_DEVEL is keepalived's sample value, which configurations copied from guides share on every member, and node.name must be different on every member: node.name is the host name, "lb-2.example.com"; pass --name to choose another`},
		{"another value", "lb_a", Options{Hostname: "lb-2"}, "lb_a",
			`test.conf:1: global_defs: router_id: changed: node.name is "lb_a": it must be different on every member, and keepalived's router_id need not be (copied configurations often share one): unless every member's router_id differs, pass --name with each member's own name`},
		{"not a node name", "lb/a", Options{}, "lb_a",
			`test.conf:1: global_defs: router_id: changed: "lb/a" is not a valid havip node name; node.name is "lb_a"`},
		{"--name", "LVS_DEVEL", Options{Name: "lb-3", Hostname: "lb-2"}, "lb-3", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Parse([]byte("global_defs { router_id "+tt.conf+" }\nvrrp_instance A {\n interface eth0\n virtual_ipaddress { 10.0.0.1 }\n}\n"), "test.conf", ParseOptions{})
			res := Convert(cfg, tt.o)
			if res.Node.Name != tt.want {
				t.Errorf("node.name %q, want %q", res.Node.Name, tt.want)
			}
			if tt.report != "" {
				reportHas(t, res.Report, tt.report)
			} else if strings.Contains(reportText(res.Report), "global_defs: router_id") {
				t.Errorf("router_id reported with --name:\n%s", reportText(res.Report))
			}
		})
	}
}

// TestConvertPeers leaves out of cluster.peers what havip refuses there:
// this member's own address, which configurations shared by the members
// often list, and addresses that are no member's.
func TestConvertPeers(t *testing.T) {
	res := convert(t, `vrrp_instance A {
  interface eth0
  unicast_src_ip 10.0.0.5
  unicast_peer {
    10.0.0.5
    10.0.0.6
    224.0.0.18
    0.0.0.0
  }
  virtual_ipaddress { 10.0.0.1 }
}
vrrp_instance B {
  interface eth0
  mcast_src_ip 224.0.0.18
  virtual_ipaddress { 10.0.0.2 }
}`, "")
	if text, err := res.Check("test.toml"); err != nil {
		t.Fatalf("the converted configuration does not load: %v\n%s", err, text)
	}
	if res.Node.Bind != "10.0.0.5:7946" || strings.Join(res.Cluster.Peers, ",") != "10.0.0.6:7946" {
		t.Errorf("node.bind %q, cluster.peers %q; want 10.0.0.5:7946 and 10.0.0.6:7946 alone", res.Node.Bind, res.Cluster.Peers)
	}
	reportHas(t, res.Report,
		"test.conf:5: vrrp_instance A: unicast_peer 10.0.0.5: note: this member's own address (node.bind): left out of cluster.peers",
		`test.conf:7: vrrp_instance A: unicast_peer: problem: "224.0.0.18" cannot be a peer address: it is multicast: left out`,
		`test.conf:8: vrrp_instance A: unicast_peer: problem: "0.0.0.0" cannot be a peer address: it is unspecified: left out`,
		"test.conf:14: vrrp_instance B: mcast_src_ip: changed: havip has one address per node: node.bind is 10.0.0.5")

	res = convert(t, "vrrp_instance B {\n interface eth0\n mcast_src_ip 224.0.0.18\n virtual_ipaddress { 10.0.0.2 }\n}\n", "")
	if res.Node.Bind != "" {
		t.Errorf("node.bind %q from a multicast mcast_src_ip", res.Node.Bind)
	}
	reportHas(t, res.Report, `test.conf:3: mcast_src_ip: problem: "224.0.0.18" cannot be a bind address: it is multicast: node.bind is left out`)
}

// hook is a notify command as converted for one state: through the
// shell, so that the arguments havip appends are left unused.
func hook(line string) Hook {
	return Hook{Command: []string{"/bin/sh", "-c", line, "notify"}}
}

// ownHook is a notify command with a user of its own.
func ownHook(h Hook, user, group string) Hook {
	h.User, h.Group = user, group
	return h
}

// vips are VIPs written as plain addresses.
func vips(addrs ...string) []VIPEntry {
	out := make([]VIPEntry, len(addrs))
	for i, a := range addrs {
		out[i] = VIPEntry{Address: a}
	}
	return out
}

// tracked are interfaces tracked without a weight.
func tracked(names ...string) []Tracked {
	out := make([]Tracked, len(names))
	for i, n := range names {
		out[i] = Tracked{Interface: n}
	}
	return out
}

var cmpIgnoreFrom = cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".From" }, cmp.Ignore())
