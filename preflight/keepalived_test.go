package preflight_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/havip/havip/preflight"
)

// writeTree writes files (path relative to root: content) under root.
func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, s := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

const keepalivedWeb = `vrrp_instance VI_1 {
    interface eth0
    virtual_ipaddress {
        192.168.0.22/24 dev eth0
    }
}
`

func TestKeepalived(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		// A keepalived parent and its VRRP child, started with another
		// configuration, and a process that is not keepalived.
		"proc/812/comm":    "keepalived\n",
		"proc/812/cmdline": "/usr/sbin/keepalived\x00--dont-fork\x00-f\x00/etc/keepalived/lb.conf\x00",
		"proc/813/comm":    "keepalived\n",
		"proc/813/cmdline": "/usr/sbin/keepalived\x00--dont-fork\x00-f\x00/etc/keepalived/lb.conf\x00",
		"proc/900/comm":    "sshd\n",
		"proc/900/cmdline": "sshd\x00",
		// The default configuration holds one of our VIPs, the one the
		// daemon runs with (through an include) another.
		"etc/keepalived/keepalived.conf": keepalivedWeb,
		"etc/keepalived/lb.conf":         "include vips.conf\n",
		"etc/keepalived/vips.conf":       "vrrp_instance LB {\n interface eth0\n virtual_ipaddress {\n  2001:db8:10::80\n  10.9.9.9\n }\n}\n",
	})
	got := preflight.Run(context.Background(), parse(t, testConfig), preflight.Options{Root: root})
	match(t, got, []want{
		{preflight.Warning, "keepalived", "keepalived runs on this host (pid 812, /etc/keepalived/lb.conf): havip and keepalived do not see each other", "systemctl disable --now keepalived"},
		{preflight.Warning, "keepalived", `VIP 192.168.0.22 of instance "web" is also a VIP of keepalived's vrrp_instance VI_1 (/etc/keepalived/keepalived.conf:4)`, "docs/keepalived.md"},
		{preflight.Warning, "keepalived", `VIP 2001:db8:10::80 of instance "web" is also a VIP of keepalived's vrrp_instance LB (/etc/keepalived/vips.conf:4)`, ""},
	})
}

// TestKeepalivedConfigID reads a running keepalived's configuration with
// the config-id it was started with (-i), which its @ lines follow.
func TestKeepalivedConfigID(t *testing.T) {
	root := t.TempDir()
	shared := "vrrp_instance VI_1 {\n interface eth0\n virtual_ipaddress {\n  @lb-a 10.9.9.1\n  @lb-b 192.168.0.23\n }\n}\n"
	writeTree(t, root, map[string]string{
		"proc/700/comm":             "keepalived\n",
		"proc/700/cmdline":          "/usr/sbin/keepalived\x00-D\x00-i\x00lb-b\x00--use-file=/etc/keepalived/pair.conf\x00",
		"proc/701/comm":             "keepalived\n",
		"proc/701/cmdline":          "/usr/sbin/keepalived\x00-D\x00-i\x00lb-b\x00--use-file=/etc/keepalived/pair.conf\x00",
		"proc/720/comm":             "keepalived\n",
		"proc/720/cmdline":          "keepalived\x00--config-id=lb-c\x00-f/etc/keepalived/other.conf\x00",
		"etc/keepalived/pair.conf":  shared,
		"etc/keepalived/other.conf": strings.ReplaceAll(shared, "@lb-b", "@lb-c"),
	})
	got := preflight.Run(context.Background(), parse(t, testConfig), preflight.Options{Root: root})
	match(t, got, []want{
		{preflight.Warning, "keepalived", "keepalived runs on this host (pid 700, /etc/keepalived/pair.conf, config-id lb-b)", "systemctl disable --now keepalived"},
		{preflight.Warning, "keepalived", "keepalived runs on this host (pid 720, /etc/keepalived/other.conf, config-id lb-c)", "systemctl disable --now keepalived"},
		{preflight.Warning, "keepalived", `VIP 192.168.0.23 of instance "web" is also a VIP of keepalived's vrrp_instance VI_1 (/etc/keepalived/pair.conf:5)`, ""},
		{preflight.Warning, "keepalived", `VIP 192.168.0.23 of instance "web" is also a VIP of keepalived's vrrp_instance VI_1 (/etc/keepalived/other.conf:5)`, ""},
	})
}

func TestKeepalivedOtherVIPs(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"etc/keepalived/keepalived.conf": "vrrp_instance X {\n virtual_ipaddress {\n  10.1.1.1\n }\n}\n",
	})
	if got := preflight.Run(context.Background(), parse(t, testConfig), preflight.Options{Root: root}); len(got) != 0 {
		t.Errorf("findings for a keepalived configuration with other VIPs and no keepalived running: %v", got)
	}
}
