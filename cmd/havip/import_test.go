package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/havip/havip/config"
)

// unicastPair is node a's keepalived configuration of a unicast pair.
const unicastPair = `global_defs {
    router_id lb-a
}
vrrp_script chk {
    script "/usr/bin/pidof haproxy"
    interval 2
    fall 2
}
vrrp_instance VI_1 {
    state MASTER
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 0.1
    unicast_src_ip 10.0.0.11
    unicast_peer {
        10.0.0.12
    }
    virtual_ipaddress {
        10.0.0.100/24 dev eth0
    }
    track_script {
        chk
    }
    notify_master "/etc/keepalived/master.sh"
}
`

func TestImportKeepalived(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(src, []byte(unicastPair), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCmd(t, "import", "keepalived", src, "--secret-key-file", "/etc/havip/pair.key")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	cfg, err := config.ParseWithOptions([]byte(out), "out.toml", config.ParseOptions{SkipKeyFile: true})
	if err != nil {
		t.Fatalf("stdout does not load: %v\n%s", err, out)
	}
	in := cfg.Instances[0]
	if cfg.Node.Name != "lb-a" || cfg.Node.Bind.String() != "10.0.0.11:7946" || strings.Join(cfg.Cluster.Peers, ",") != "10.0.0.12:7946" ||
		cfg.Cluster.SecretKeyFile != "/etc/havip/pair.key" || cfg.Cluster.Timing.Profile != "fast" ||
		in.Name != "VI_1" || in.Priority != 150 || in.VIPs[0].String() != "10.0.0.100/24" ||
		strings.Join(in.TrackScripts[0].Command, " ") != "/usr/bin/pidof haproxy" || strings.Join(in.Notify.Master, "|") != "/bin/sh|-c|/etc/keepalived/master.sh|notify" {
		t.Errorf("converted configuration:\n%s", out)
	}
	for _, want := range []string{
		src + ":10: vrrp_instance VI_1: state: not carried over",
		src + ":14: vrrp_instance VI_1: advert_int: changed: advert_int 100ms",
		"havip import: " + src + ": 1 instances (VI_1)",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("report lacks %q:\n%s", want, errOut)
		}
	}

	// --output writes the file, and refuses to overwrite it.
	dst := filepath.Join(dir, "havip.toml")
	if code, _, errOut := runCmd(t, "import", "keepalived", src, "--output", dst); code != exitOK {
		t.Fatalf("--output: exit %d: %s", code, errOut)
	}
	if _, err := config.ParseWithOptions(mustRead(t, dst), dst, config.ParseOptions{SkipKeyFile: true}); err != nil {
		t.Errorf("%s does not load: %v", dst, err)
	}
	if code, _, errOut := runCmd(t, "import", "keepalived", src, "--output", dst); code != exitUsage || !strings.Contains(errOut, "exists") {
		t.Errorf("second --output: exit %d, %s; want 2 and the file named", code, errOut)
	}
	if code, _, errOut := runCmd(t, "import", "keepalived", src, "--output", dst, "--force"); code != exitOK {
		t.Errorf("--force: exit %d: %s", code, errOut)
	}
}

// TestImportLeavesOutOnlyWhatHavipRefuses: an address havip does not
// take as a VIP costs only itself (or its instance), not the import.
func TestImportLeavesOutOnlyWhatHavipRefuses(t *testing.T) {
	src := filepath.Join(t.TempDir(), "keepalived.conf")
	conf := `vrrp_instance LO {
    interface lo
    virtual_ipaddress {
        127.0.0.1
    }
}
vrrp_instance WEB {
    interface eth0
    virtual_ipaddress {
        10.0.0.100
        fe80::1/64
    }
}
`
	if err := os.WriteFile(src, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCmd(t, "import", "keepalived", src)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	cfg, err := config.ParseWithOptions([]byte(out), "out.toml", config.ParseOptions{SkipKeyFile: true})
	if err != nil {
		t.Fatalf("stdout does not load: %v\n%s", err, out)
	}
	if len(cfg.Instances) != 1 || cfg.Instances[0].Name != "WEB" || len(cfg.Instances[0].VIPs) != 1 || cfg.Instances[0].VIPs[0].String() != "10.0.0.100/32" {
		t.Errorf("converted configuration:\n%s", out)
	}
	for _, want := range []string{
		src + `:4: vrrp_instance LO: virtual_ipaddress 127.0.0.1: problem: "127.0.0.1" cannot be a VIP: it is a loopback address: left out`,
		src + `:11: vrrp_instance WEB: virtual_ipaddress fe80::1: problem: "fe80::1/64" cannot be a VIP: it is an IPv6 link-local address: left out`,
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("report lacks %q:\n%s", want, errOut)
		}
	}
}

func TestImportErrors(t *testing.T) {
	dir := t.TempDir()
	lvs := filepath.Join(dir, "lvs.conf")
	if err := os.WriteFile(lvs, []byte("virtual_server 10.0.0.1 80 {\n  lb_algo rr\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	template := filepath.Join("..", "..", "keepalived", "testdata", "samples", "kubeadm-placeholders.conf")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"import"}, "usage: havip import keepalived"},
		{[]string{"import", "haproxy"}, "usage: havip import keepalived"},
		{[]string{"import", "keepalived", filepath.Join(dir, "none.conf")}, "none.conf: no such file"},
		{[]string{"import", "keepalived", lvs}, lvs + ":1: virtual_server: not carried over: havip does not configure LVS"},
		{[]string{"import", "keepalived", lvs}, "has no vrrp_instance havip can hold: nothing written"},
		// A template whose placeholders are not filled in.
		{[]string{"import", "keepalived", template}, template + ":17: problem: ${INTERFACE} is not defined: keepalived leaves it as written"},
		{[]string{"import", "keepalived", template}, "has no vrrp_instance havip can hold: nothing written"},
	} {
		code, out, errOut := runCmd(t, tt.args...)
		if code != exitUsage || out != "" || !strings.Contains(errOut, tt.want) {
			t.Errorf("havip %s: exit %d, stdout %q, stderr %q; want 2, nothing, and %q", strings.Join(tt.args, " "), code, out, errOut, tt.want)
		}
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
