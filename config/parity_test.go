package config_test

import (
	"fmt"
	"net/netip"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/havip/havip/config"
)

// The settings keepalived users bring along: VIPs with a prefix, on
// their own interface with a label, weighted tracked interfaces, and
// commands run as another user.

func TestVIPPlaces(t *testing.T) {
	conf := insecure + `
[[instance]]
name = "web"
interface = "eth0"
vips = [
  "192.168.1.10/24",
  "198.51.100.10",
  { address = "192.168.2.10/24", interface = "eth1", label = "eth1:vip" },
  { address = "2001:db8::10/64", interface = "eth0" },
  { address = "192.168.1.11", label = "eth0:1" },
]
`
	cfg, err := config.Parse([]byte(conf), "")
	if err != nil {
		t.Fatal(err)
	}
	in := cfg.Instances[0]
	wantVIPs := []netip.Prefix{
		netip.MustParsePrefix("192.168.1.10/24"), netip.MustParsePrefix("198.51.100.10/32"),
		netip.MustParsePrefix("192.168.2.10/24"), netip.MustParsePrefix("2001:db8::10/64"),
		netip.MustParsePrefix("192.168.1.11/32"),
	}
	if diff := cmp.Diff(wantVIPs, in.VIPs, netipCmp); diff != "" {
		t.Errorf("VIPs (-want +got):\n%s", diff)
	}
	// A table that says what a bare address would is not kept.
	wantPlaces := map[netip.Prefix]config.VIPPlace{
		netip.MustParsePrefix("192.168.2.10/24"): {Interface: "eth1", Label: "eth1:vip"},
		netip.MustParsePrefix("192.168.1.11/32"): {Interface: "eth0", Label: "eth0:1"},
	}
	if diff := cmp.Diff(wantPlaces, in.Places, netipCmp); diff != "" {
		t.Errorf("Places (-want +got):\n%s", diff)
	}
	if got := in.Place(netip.MustParsePrefix("198.51.100.10/32")); got != (config.VIPPlace{Interface: "eth0"}) {
		t.Errorf("Place of a bare VIP = %+v, want eth0 without a label", got)
	}
	if diff := cmp.Diff([]string{"eth0", "eth1"}, in.Interfaces()); diff != "" {
		t.Errorf("Interfaces (-want +got):\n%s", diff)
	}
	sum := cfg.Summary()
	for _, want := range []string{"192.168.1.10/24, 198.51.100.10/32, 192.168.2.10/24 on eth1 label eth1:vip", "192.168.1.11/32 on eth0 label eth0:1"} {
		if !strings.Contains(sum, want) {
			t.Errorf("summary lacks %q:\n%s", want, sum)
		}
	}
}

// TestVIPLimitsPerInterface counts a VIP on its own interface for the
// cloud's limit of VIPs per NIC.
func TestVIPLimitsPerInterface(t *testing.T) {
	var vips []string
	for i := range 10 {
		vips = append(vips, fmt.Sprintf(`"10.0.0.%d"`, i+1))
	}
	eleven := strings.Join(vips, ", ") + `, { address = "10.0.1.1", interface = "eth1" }`
	conf := insecure + "[[instance]]\nname = \"web\"\ninterface = \"eth0\"\nvips = [" + eleven + "]\n"
	if _, err := config.Parse([]byte(conf), ""); err != nil {
		t.Errorf("10 VIPs on eth0 and one on eth1: %v", err)
	}
	conf = strings.Replace(conf, `interface = "eth1"`, `interface = "eth0"`, 1)
	if _, err := config.Parse([]byte(conf), ""); err == nil || !strings.Contains(err.Error(), "11 VIPs on interface eth0") {
		t.Errorf("11 VIPs on eth0: %v, want the limit", err)
	}
}

func TestTrackWeights(t *testing.T) {
	conf := insecure + `
[[instance]]
name = "web"
interface = "eth0"
vips = ["10.0.0.5"]
track_interfaces = ["eth1", { interface = "eth2", weight = 30 }, { interface = "eth3", weight = 0 }]
`
	cfg, err := config.Parse([]byte(conf), "")
	if err != nil {
		t.Fatal(err)
	}
	in := cfg.Instances[0]
	if diff := cmp.Diff([]string{"eth1", "eth2", "eth3"}, in.TrackInterfaces); diff != "" {
		t.Errorf("TrackInterfaces (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{"eth2": 30}, in.TrackWeights); diff != "" {
		t.Errorf("TrackWeights (-want +got):\n%s", diff)
	}
	sum := cfg.Summary()
	for _, want := range []string{"tracks eth2: priority -30 while it is down", "tracks eth1, eth3: FAULT while any is down"} {
		if !strings.Contains(sum, want) {
			t.Errorf("summary lacks %q:\n%s", want, sum)
		}
	}
}

func TestNotifyStopAnyRunAs(t *testing.T) {
	requireUser(t, "nobody")
	conf := insecure + `
[[instance]]
name = "web"
interface = "eth0"
vips = ["10.0.0.5"]
[[instance.track_script]]
name = "app"
command = ["/bin/true"]
user = "nobody"
[instance.notify]
master = ["/bin/true", "m"]
stop = ["/bin/true", "s"]
any = ["/bin/true", "a"]
user = "nobody"
group = "0"
`
	cfg, err := config.Parse([]byte(conf), "")
	if err != nil {
		t.Fatal(err)
	}
	in := cfg.Instances[0]
	n := in.Notify
	if got := n.Command("STOP"); !cmp.Equal(got, []string{"/bin/true", "s"}) {
		t.Errorf("Command(STOP) = %q", got)
	}
	if !cmp.Equal(n.Any, []string{"/bin/true", "a"}) {
		t.Errorf("Any = %q", n.Any)
	}
	if n.RunAs != (config.RunAs{User: "nobody", Group: "0"}) {
		t.Errorf("notify RunAs = %+v", n.RunAs)
	}
	if in.TrackScripts[0].RunAs != (config.RunAs{User: "nobody"}) {
		t.Errorf("track script RunAs = %+v", in.TrackScripts[0].RunAs)
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Fatal(err)
	}
	cred, err := n.RunAs.Credential()
	if err != nil {
		t.Fatal(err)
	}
	if got := cred.UID; u.Uid != itoa(got) || cred.GID != 0 {
		t.Errorf("credential = %+v, want uid %s gid 0", cred, u.Uid)
	}
	cred, err = in.TrackScripts[0].RunAs.Credential()
	if err != nil {
		t.Fatal(err)
	}
	if u.Gid != itoa(cred.GID) {
		t.Errorf("credential of the script = %+v, want the user's own group %s", cred, u.Gid)
	}
	if cred, err := (config.RunAs{}).Credential(); cred != nil || err != nil {
		t.Errorf("the daemon's own user: %+v, %v; want nil, nil", cred, err)
	}
	sum := cfg.Summary()
	for _, want := range []string{"notify on MASTER, STOP, any transition (timeout 30s), as user nobody, group 0", "-> healthy, as user nobody"} {
		if !strings.Contains(sum, want) {
			t.Errorf("summary lacks %q:\n%s", want, sum)
		}
	}
	// Away from the host, the users are not looked up.
	other := strings.ReplaceAll(conf, `"nobody"`, `"no-such-user-here"`)
	if _, err := config.ParseWithOptions([]byte(other), "", config.ParseOptions{SkipKeyFile: true}); err != nil {
		t.Errorf("with SkipKeyFile: %v", err)
	}
}

// TestProgramSecurity refuses a program that someone else than root,
// the daemon's user or the command's user can change, as keepalived's
// enable_script_security does.
func TestProgramSecurity(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("programs are not checked on Windows")
	}
	root := t.TempDir()
	script := func(dir, name string, mode os.FileMode) string {
		t.Helper()
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\nexit 0\n"), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	parse := func(program, user string) error {
		conf := insecure + "[[instance]]\nname = \"web\"\ninterface = \"eth0\"\nvips = [\"10.0.0.5\"]\n" +
			"[[instance.track_script]]\nname = \"app\"\ncommand = [\"" + program + "\"]\n"
		if user != "" {
			conf += "user = \"" + user + "\"\n"
		}
		_, err := config.Parse([]byte(conf), "")
		return err
	}
	safe := script(filepath.Join(root, "safe"), "check", 0o755)
	if err := parse(safe, ""); err != nil {
		t.Errorf("a program only root changes: %v", err)
	}
	open := script(filepath.Join(root, "open"), "check", 0o757)
	err := parse(open, "")
	if err == nil || !strings.Contains(err.Error(), `track_script[0] "app": command: "`+open+`" runs as root, but `+open+` can be changed by every user (mode 0757)`) ||
		!strings.Contains(err.Error(), "run: chmod o-w "+open) {
		t.Errorf("a world-writable program: %v", err)
	}
	if _, err := config.ParseWithOptions([]byte(insecure+"[[instance]]\nname = \"web\"\ninterface = \"eth0\"\nvips = [\"10.0.0.5\"]\n[instance.notify]\nfault = [\""+open+"\"]\n"), "",
		config.ParseOptions{SkipKeyFile: true}); err != nil {
		t.Errorf("with SkipKeyFile the program is not checked: %v", err)
	}
	// A directory on the way that everyone may change.
	dir := filepath.Join(root, "shared")
	inShared := script(dir, "check", 0o755)
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := parse(inShared, ""); err == nil || !strings.Contains(err.Error(), dir+" can be changed by every user (mode 0777)") {
		t.Errorf("a program in a world-writable directory: %v", err)
	}
	// The sticky bit (as on /tmp) lets others add files, not replace it.
	if err := os.Chmod(dir, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	if err := parse(inShared, ""); err != nil {
		t.Errorf("a program in a sticky directory: %v", err)
	}
	// A symbolic link in a safe place to a program in an unsafe one.
	link := filepath.Join(root, "safe", "link")
	if err := os.Symlink(open, link); err != nil {
		t.Fatal(err)
	}
	if err := parse(link, ""); err == nil || !strings.Contains(err.Error(), open+" can be changed by every user") {
		t.Errorf("a link to a world-writable program: %v", err)
	}
	// A program found in PATH is checked where it is found.
	t.Setenv("PATH", filepath.Join(root, "open"))
	if err := parse("check", ""); err == nil || !strings.Contains(err.Error(), `"check" runs as root, but `+open) {
		t.Errorf("a world-writable program in PATH: %v", err)
	}
	// A missing program is not refused here: its runs fail.
	if err := parse(filepath.Join(root, "missing"), ""); err != nil {
		t.Errorf("a missing program: %v", err)
	}
	if err := parse("/bin/sh", ""); err != nil {
		t.Errorf("/bin/sh: %v", err)
	}

	// A shell's command line runs the program it starts with: that one
	// is checked too, when it is written as an absolute path.
	t.Setenv("PATH", "/usr/bin:/bin")
	argv := func(args ...string) string {
		q := make([]string, len(args))
		for i, a := range args {
			q[i] = fmt.Sprintf("%q", a)
		}
		return "[" + strings.Join(q, ", ") + "]"
	}
	hook := func(command string) error {
		_, err := config.Parse([]byte(insecure+"[[instance]]\nname = \"web\"\ninterface = \"eth0\"\nvips = [\"10.0.0.5\"]\n"+
			"[instance.notify]\nmaster = "+command+"\n"), "")
		return err
	}
	refused := `notify.master: "` + open + `" runs as root, but ` + open + ` can be changed by every user (mode 0757)`
	for _, command := range []string{
		argv("/bin/sh", "-c", open+" --quiet | grep -q ok"),
		argv("/bin/sh", "-c", open, "notify"),
		argv("/bin/bash", "--norc", "-ec", "LANG=C exec "+open+"; true"),
		argv("/usr/bin/sh", "-o", "pipefail", "-c", open+">/dev/null"),
	} {
		if err := hook(command); err == nil || !strings.Contains(err.Error(), refused) {
			t.Errorf("%s: %v, want %q", command, err, refused)
		}
	}
	for _, command := range []string{
		argv("/bin/sh", "-c", safe+" --quiet | grep -q ok", "notify"),
		// Not read: a program found in PATH, a quoted or expanded first
		// word, a script file handed to the shell, a shell without -c.
		argv("/bin/sh", "-c", "check"),
		argv("/bin/sh", "-c", "'"+open+"' a"),
		argv("/bin/sh", "-c", "$PROG"),
		argv("/bin/sh", open),
		argv("/bin/sh", "-e", open),
		argv("/usr/bin/env", "-c", open),
	} {
		if err := hook(command); err != nil {
			t.Errorf("%s: %v", command, err)
		}
	}
}

// TestProgramOwners checks the owners and groups a program may have: a
// program of another user is refused, unless the command runs as that
// user.
func TestProgramOwners(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("programs are not checked on Windows")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: gives files to another user")
	}
	requireUser(t, "nobody")
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Fatal(err)
	}
	uid, gid := atoi(t, u.Uid), atoi(t, u.Gid)
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "check")
	if err := os.WriteFile(p, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	parse := func(user string) error {
		conf := insecure + "[[instance]]\nname = \"web\"\ninterface = \"eth0\"\nvips = [\"10.0.0.5\"]\n" +
			"[instance.notify]\nmaster = [\"" + p + "\"]\n"
		if user != "" {
			conf += "user = \"" + user + "\"\n"
		}
		_, err := config.Parse([]byte(conf), "")
		return err
	}
	if err := os.Chown(p, uid, 0); err != nil {
		t.Fatal(err)
	}
	if err := parse(""); err == nil || !strings.Contains(err.Error(), "can be changed by its owner, uid "+u.Uid+" (nobody)") ||
		!strings.Contains(err.Error(), "run: chown root: "+p) {
		t.Errorf("a program of another user run as root: %v", err)
	}
	if err := parse("nobody"); err != nil {
		t.Errorf("a program of the user it runs as: %v", err)
	}
	if err := os.Chown(p, 0, gid); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o775); err != nil {
		t.Fatal(err)
	}
	if err := parse(""); err == nil || !strings.Contains(err.Error(), "can be changed by group gid "+u.Gid) {
		t.Errorf("a program its group may change, run as root: %v", err)
	}
	if err := parse("nobody"); err != nil {
		t.Errorf("a program the group of its user may change: %v", err)
	}
	if err := os.Chown(p, 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := parse(""); err != nil {
		t.Errorf("a program root's group may change: %v", err)
	}
}

func requireUser(t *testing.T, name string) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("commands run as the service's account on Windows")
	}
	if _, err := user.Lookup(name); err != nil {
		t.Skipf("needs the user %s on this host: %v", name, err)
	}
}

func itoa(n uint32) string { return strconv.FormatUint(uint64(n), 10) }

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestVIPPlaceWithCloud refuses a VIP on another interface with a
// provider that binds the VIPs to the port of the instance's interface.
func TestVIPPlaceWithCloud(t *testing.T) {
	conf := strings.Replace(cloudBase, `vips = ["10.0.0.100"]`, `vips = ["10.0.0.100", { address = "10.0.1.100", interface = "eth1" }]`, 1) +
		"\n[cloud]\nprovider = \"huaweicloud\"\nregion = \"r\"\nproject_id = \"p\"\nauth = \"agency\"\n"
	_, err := config.ParseWithOptions([]byte(conf), "havip.toml", config.ParseOptions{SkipKeyFile: true})
	want := `instance[0] "web": vips[1]: is on interface eth1, but cloud.provider "huaweicloud" binds the instance's VIPs to the port of its interface, eth0`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Parse: %v\nwant %q", err, want)
	}
	exec := strings.Replace(conf, "provider = \"huaweicloud\"\nregion = \"r\"\nproject_id = \"p\"\nauth = \"agency\"", "provider = \"exec\"\nacquire = [\"/bin/true\"]", 1)
	if _, err := config.ParseWithOptions([]byte(exec), "havip.toml", config.ParseOptions{SkipKeyFile: true}); err != nil {
		t.Errorf("with the exec provider (its commands get the instance): %v", err)
	}
}
