package preflight_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/havip/havip/config"
	"github.com/havip/havip/preflight"
)

const testConfig = `
[node]
name = "ecs-a"
bind = "127.0.0.1:7946"
[cluster]
name = "web-ha"
insecure = true
[[instance]]
name = "web"
interface = "eth0"
vips = ["192.168.0.22", "192.168.0.23", "192.168.0.24", "2001:db8:10::80"]
`

func parse(t *testing.T, text string) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte(text), "")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// fakeLinks answers from a map; a missing name does not exist.
type fakeLinks map[string]preflight.LinkInfo

func (f fakeLinks) Link(name string) (preflight.LinkInfo, error) {
	li, ok := f[name]
	if !ok {
		return li, preflight.ErrNoLink
	}
	return li, nil
}

var upEth0 = fakeLinks{"eth0": {Up: true, Running: true}}

// want describes one expected finding by what its text must contain.
type want struct {
	sev   preflight.Severity
	check string
	msg   string
	fix   string
}

func match(t *testing.T, got []preflight.Finding, wants []want) {
	t.Helper()
	used := make([]bool, len(got))
	for _, w := range wants {
		found := false
		for i, f := range got {
			if !used[i] && f.Severity == w.sev && f.Check == w.check &&
				strings.Contains(f.Msg, w.msg) && strings.Contains(f.Fix, w.fix) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			t.Errorf("no %s %s finding with %q (fix %q)", w.sev, w.check, w.msg, w.fix)
		}
	}
	for i, f := range got {
		if !used[i] {
			t.Errorf("unexpected finding: %s %s: %s (fix %q)", f.Severity, f.Check, f.Msg, f.Fix)
		}
	}
}

// copyTree copies a testdata tree into a temporary directory, so a test
// can add files whose names do not belong in the repository.
func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if fi.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestCentOS8(t *testing.T) {
	root := copyTree(t, filepath.Join("testdata", "centos8"))
	// The classic alias file; ':' is not allowed in a module's file names.
	alias := "DEVICE=eth0:1\nBOOTPROTO=static\nIPADDR=192.168.0.24\nNETMASK=255.255.255.0\nONBOOT=yes\n"
	if err := os.WriteFile(filepath.Join(root, "etc/sysconfig/network-scripts/ifcfg-eth0:1"), []byte(alias), 0o644); err != nil {
		t.Fatal(err)
	}
	got := preflight.Run(context.Background(), parse(t, testConfig), preflight.Options{Root: root, Links: upEth0})
	match(t, got, []want{
		{preflight.Error, "persistent-vip", `VIP 192.168.0.22 is a permanent address of NetworkManager profile "System eth0" (/etc/NetworkManager/system-connections/eth0.nmconnection line 11)`,
			`nmcli connection modify "System eth0" -ipv4.addresses 192.168.0.22/32 && nmcli connection up "System eth0"`},
		{preflight.Error, "persistent-vip", `VIP 2001:db8:10::80 is a permanent address of NetworkManager profile "System eth0"`,
			`nmcli connection modify "System eth0" -ipv6.addresses 2001:db8:10::80/128 && nmcli connection up "System eth0"`},
		{preflight.Error, "persistent-vip", `VIP 192.168.0.23 is a permanent address in /etc/sysconfig/network-scripts/ifcfg-eth0 (IPADDR1, line 8)`,
			`nmcli connection modify "System eth0" -ipv4.addresses 192.168.0.23/32 && nmcli connection up "System eth0"`},
		{preflight.Error, "persistent-vip", `VIP 192.168.0.24 is a permanent address in /etc/sysconfig/network-scripts/ifcfg-eth0:1 (IPADDR, line 3)`,
			`rm /etc/sysconfig/network-scripts/ifcfg-eth0:1 && ip address del 192.168.0.24/24 dev eth0`},
		{preflight.Error, "sysctl", "net.ipv4.conf.eth0.arp_ignore = 8: eth0 answers no ARP request", "sysctl -w net.ipv4.conf.eth0.arp_ignore=1"},
		{preflight.Info, "sysctl", "net.ipv4.conf.all.arp_announce = 0", "sysctl -w net.ipv4.conf.all.arp_announce=2"},
		{preflight.Info, "sysctl", "net.ipv4.conf.eth0.promote_secondaries = 0", "sysctl -w net.ipv4.conf.eth0.promote_secondaries=1"},
		{preflight.Info, "sysctl", "net.ipv4.ip_nonlocal_bind = 0", "/etc/sysctl.d/90-havip.conf"},
		{preflight.Info, "sysctl", "net.ipv6.ip_nonlocal_bind = 0", "sysctl -w net.ipv6.ip_nonlocal_bind=1"},
	})
	if w := preflight.Worst(got); w != preflight.Error {
		t.Errorf("worst = %s, want error", w)
	}
	if got[0].Severity != preflight.Error || got[len(got)-1].Severity != preflight.Info {
		t.Errorf("findings not sorted most severe first: %v", got)
	}
}

func TestUbuntu2204(t *testing.T) {
	got := preflight.Run(context.Background(), parse(t, testConfig), preflight.Options{Root: filepath.Join("testdata", "ubuntu2204"), Links: upEth0})
	match(t, got, []want{
		{preflight.Error, "persistent-vip", "VIP 192.168.0.22 is a permanent address of eth0 in netplan (/etc/netplan/50-cloud-init.yaml line 9)",
			"delete line 9 of /etc/netplan/50-cloud-init.yaml (- 192.168.0.22/32   # added by hand for the VIP), then run: netplan apply"},
		{preflight.Error, "persistent-vip", "VIP 2001:db8:10::80 is a permanent address of eth0 in netplan (/etc/netplan/50-cloud-init.yaml line 10): every server that boots with it answers neighbour solicitations",
			`delete lines 10-11 of /etc/netplan/50-cloud-init.yaml (- "2001:db8:10::80/128": and what is under it), then run: netplan apply`},
		{preflight.Error, "persistent-vip", "VIP 192.168.0.24 is a permanent address of eth0 in netplan (/etc/netplan/60-vip.yaml line 5)",
			"remove 192.168.0.24/32 from the addresses list on line 5 of /etc/netplan/60-vip.yaml, then run: netplan apply"},
		{preflight.Error, "sysctl", "net.ipv6.conf.eth0.disable_ipv6 = 1", "sysctl -w net.ipv6.conf.eth0.disable_ipv6=0"},
		{preflight.Info, "sysctl", "net.ipv4.conf.all.arp_ignore = 0: this host answers ARP for a VIP on every interface", "arp_ignore=1"},
		{preflight.Info, "sysctl", "net.ipv4.conf.all.arp_announce = 0", "arp_announce=2"},
		{preflight.Info, "sysctl", "promote_secondaries = 0", ""},
		{preflight.Info, "sysctl", "net.ipv4.ip_nonlocal_bind = 0", ""},
		{preflight.Info, "sysctl", "net.ipv6.ip_nonlocal_bind = 0", ""},
	})
}

func TestCleanHost(t *testing.T) {
	root := filepath.Join("testdata", "clean")
	got := preflight.Run(context.Background(), parse(t, testConfig), preflight.Options{Root: root, Links: upEth0})
	// all.arp_ignore = 1 wins over eth0's 0; all.arp_announce = 2 over 0.
	match(t, got, nil)
	if w := preflight.Worst(got); w != preflight.Info {
		t.Errorf("worst = %s, want info", w)
	}
}

func TestInterfaces(t *testing.T) {
	cfg := parse(t, testConfig+`
[[instance]]
name = "db"
interface = "eth1"
vips = ["192.168.1.22"]
[[instance]]
name = "api"
interface = "eth2"
vips = ["192.168.2.22"]
[[instance]]
name = "mq"
interface = "eth3"
vips = ["192.168.3.22"]
`)
	links := fakeLinks{
		"eth0": {Up: true, Running: true},
		"eth1": {Up: false},
		"eth2": {Up: true, Running: false},
	}
	got := preflight.Run(context.Background(), cfg, preflight.Options{Root: t.TempDir(), Links: links})
	match(t, got, []want{
		{preflight.Error, "interface", "eth3 does not exist on this host", "ip -br link"},
		{preflight.Warning, "interface", "eth1 is down", "ip link set eth1 up"},
		{preflight.Warning, "interface", "eth2 has no carrier", ""},
	})
}

func TestPeers(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	// A port nobody listens on: bind one and close it.
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := closed.Addr().String()
	closed.Close()

	cfg := parse(t, fmt.Sprintf(`
[node]
name = "a"
bind = "127.0.0.1:7946"
[cluster]
name = "t"
insecure = true
peers = [%q, %q]
`, ln.Addr().String(), dead))
	got := preflight.Run(context.Background(), cfg, preflight.Options{Root: t.TempDir(), Dial: preflight.SystemDial, DialTimeout: 2 * time.Second})
	match(t, got, []want{
		{preflight.Info, "peer", ln.Addr().String() + " answers on TCP", ""},
		{preflight.Warning, "peer", dead + " does not answer on TCP", "allow TCP and UDP"},
	})

	// A dialer that never answers is cut off by the timeout.
	hang := func(ctx context.Context, network, addr string) (net.Conn, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	start := time.Now()
	got = preflight.Run(context.Background(), cfg, preflight.Options{Root: t.TempDir(), Dial: hang, DialTimeout: 50 * time.Millisecond})
	if d := time.Since(start); d > time.Second {
		t.Errorf("probes took %v with a 50ms timeout", d)
	}
	for _, f := range got {
		if !strings.Contains(f.Msg, context.DeadlineExceeded.Error()) {
			t.Errorf("finding %q does not say the probe timed out", f.Msg)
		}
	}

	// Without a dialer the peers are not probed.
	if got := preflight.Run(context.Background(), cfg, preflight.Options{Root: t.TempDir()}); len(got) != 0 {
		t.Errorf("findings without a dialer: %v", got)
	}
}

func TestPermissions(t *testing.T) {
	dir := t.TempDir()
	keyPath := filepath.Join(dir, "secret.key")
	key := "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"
	if err := os.WriteFile(keyPath, []byte(key), 0o600); err != nil {
		t.Fatal(err)
	}
	text := fmt.Sprintf(`
[node]
name = "a"
[cluster]
name = "t"
secret_key_file = %q
`, keyPath)
	cfgPath := filepath.Join(dir, "havip.toml")
	if err := os.WriteFile(cfgPath, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	run := func() []preflight.Finding {
		return preflight.Run(context.Background(), cfg, preflight.Options{Root: t.TempDir()})
	}
	match(t, run(), nil)

	// config.Load refuses a key others may read; whoever may change its
	// directory can still replace it.
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	match(t, run(), []want{{preflight.Error, "permissions", "anyone can replace the key", "chmod o-w " + dir}})
	if err := os.Chmod(dir, os.ModeSticky|0o777); err != nil {
		t.Fatal(err)
	}
	match(t, run(), nil)
}

func TestWrite(t *testing.T) {
	var b strings.Builder
	err := preflight.Write(&b, []preflight.Finding{
		{Severity: preflight.Error, Check: "interface", Msg: "eth9 does not exist on this host", Fix: "fix one\nfix two"},
		{Severity: preflight.Info, Check: "peer", Msg: "b:7946 answers on TCP"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `error    interface: eth9 does not exist on this host
         fix one
         fix two
info     peer: b:7946 answers on TCP
host: 1 error, 0 warnings, 1 note
`
	if b.String() != want {
		t.Errorf("Write:\n%s\nwant:\n%s", b.String(), want)
	}

	b.Reset()
	err = preflight.Write(&b, []preflight.Finding{
		{Severity: preflight.Warning, Check: "sysctl", Msg: "a"},
		{Severity: preflight.Warning, Check: "sysctl", Msg: "b"},
		{Severity: preflight.Error, Check: "vip", Msg: "c"},
		{Severity: preflight.Error, Check: "vip", Msg: "d"},
	})
	if want := "host: 2 errors, 2 warnings, 0 notes\n"; err != nil || !strings.HasSuffix(b.String(), want) {
		t.Errorf("Write: %v\n%s\nwant it to end in %q", err, b.String(), want)
	}
}

func TestSystemLinks(t *testing.T) {
	li, err := preflight.SystemLinks{}.Link("lo")
	if err != nil {
		t.Skipf("no loopback interface here: %v", err)
	}
	if !li.Up {
		t.Errorf("lo is not up: %+v", li)
	}
	if _, err := (preflight.SystemLinks{}).Link("havip-none0"); !errors.Is(err, preflight.ErrNoLink) {
		t.Errorf("missing interface: err = %v, want ErrNoLink", err)
	}
}
