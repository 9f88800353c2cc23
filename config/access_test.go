//go:build !windows

package config_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/havip/havip/config"
)

// writeConfig writes a loadable configuration with mode and returns its
// path.
func writeConfig(t *testing.T, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "havip.toml")
	if err := os.WriteFile(p, []byte(insecure), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

// A configuration that others may change is refused: it names the
// commands havip runs as root. Reading it is fine.
func TestLoadRefusesWritableConfig(t *testing.T) {
	tests := []struct {
		mode os.FileMode
		want string // "" when it loads
	}{
		{0o600, ""},
		{0o644, ""},
		{0o664, "can be changed by its group (mode 0664), who could then run commands as root through track scripts, notify hooks or the exec cloud provider; run: chmod go-w "},
		{0o646, "can be changed by every user (mode 0646)"},
	}
	for _, tt := range tests {
		p := writeConfig(t, tt.mode)
		_, err := config.Load(p)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("mode %04o: %v", tt.mode, err)
		case tt.want != "" && (err == nil || !strings.HasPrefix(err.Error(), p+": ") || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("mode %04o: %v, want %q", tt.mode, err, tt.want)
		}
		// Away from the host (havip check --no-host) the file alone counts.
		if _, err := config.LoadWithOptions(p, config.ParseOptions{SkipKeyFile: true}); err != nil {
			t.Errorf("mode %04o, SkipKeyFile: %v", tt.mode, err)
		}
	}
}

// A configuration owned by another user than root (or the one running
// havip) is refused, with the chown that fixes it.
func TestLoadRefusesConfigOfAnotherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give the file to another user")
	}
	p := writeConfig(t, 0o644)
	if err := os.Chown(p, 65534, -1); err != nil {
		t.Fatal(err)
	}
	_, err := config.Load(p)
	if err == nil || !strings.Contains(err.Error(), "belongs to uid 65534") || !strings.Contains(err.Error(), "run: chown root: "+p) {
		t.Errorf("Load: %v, want it to name uid 65534 and the chown", err)
	}
}

// status.socket_group names a group of this host (or a number); an
// unknown one is refused when the file is loaded for this host.
func TestSocketGroup(t *testing.T) {
	cfg, err := config.Parse([]byte(insecure+"[status]\nsocket_group = \"root\"\n"), "havip.toml")
	if err != nil {
		t.Fatal(err)
	}
	if gid, err := cfg.Status.SocketGroupID(); cfg.Status.SocketGroup != "root" || gid != 0 || err != nil {
		t.Errorf("socket group %q: gid %d, %v; want root 0", cfg.Status.SocketGroup, gid, err)
	}
	cfg, err = config.Parse([]byte(insecure+"[status]\nsocket_group = \"4242\"\n"), "havip.toml")
	if err != nil {
		t.Fatal(err)
	}
	if gid, err := cfg.Status.SocketGroupID(); gid != 4242 || err != nil {
		t.Errorf("numeric group: gid %d, %v", gid, err)
	}
	if gid, err := (config.Status{}).SocketGroupID(); gid != -1 || err != nil {
		t.Errorf("no group: gid %d, %v; want -1", gid, err)
	}
	bad := insecure + "[status]\nsocket_group = \"no-such-group-havip\"\n"
	_, err = config.Parse([]byte(bad), "havip.toml")
	if want := `havip.toml: status.socket_group: "no-such-group-havip" is not a group of this host`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("unknown group: %v, want %q", err, want)
	}
	if _, err := config.ParseWithOptions([]byte(bad), "havip.toml", config.ParseOptions{SkipKeyFile: true}); err != nil {
		t.Errorf("unknown group away from the host: %v", err)
	}
}

// A key owned by another user than root (or the one running havip) is
// refused, saying who may own it and with the chown that fixes it.
func TestKeyOfAnotherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give the key to another user")
	}
	dir := t.TempDir()
	key := filepath.Join(dir, "secret.key")
	if err := os.WriteFile(key, []byte("MDEyMzQ1Njc4OWFiY2RlZg==\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(key, 65534, -1); err != nil {
		t.Fatal(err)
	}
	text := "[cluster]\nname = \"t\"\nsecret_key_file = \"secret.key\"\n"
	_, err := config.Parse([]byte(text), filepath.Join(dir, "havip.toml"))
	want := fmt.Sprintf("cluster.secret_key_file: %q belongs to uid 65534", key)
	fix := fmt.Sprintf("; it must belong to root or the user running havip (uid 0); run: chown root: %s", key)
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), fix) {
		t.Errorf("Parse: %v, want %q and %q", err, want, fix)
	}
}

// A configuration in a directory that others may write to is refused:
// they could put another file in its place. The sticky bit keeps
// others from replacing what they do not own.
func TestLoadRefusesWritableConfigDir(t *testing.T) {
	tests := []struct {
		mode os.FileMode
		want string // "" when it loads
	}{
		{0o700, ""},
		{0o755, ""},
		{0o775, "can be changed by its group (mode 0775), who could then put another file in the place of "},
		{0o757, "can be changed by every user (mode 0757)"},
		{0o777 | os.ModeSticky, ""},
	}
	for _, tt := range tests {
		p := writeConfig(t, 0o600)
		dir := filepath.Dir(p)
		if err := os.Chmod(dir, tt.mode); err != nil {
			t.Fatal(err)
		}
		_, err := config.Load(p)
		want := fmt.Sprintf("%s: the directory %q of the configuration %s", p, dir, tt.want)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("directory mode %v: %v", tt.mode, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "; run: chmod go-w "+dir)):
			t.Errorf("directory mode %v: %v, want %q and the chmod", tt.mode, err, want)
		}
		if _, err := config.LoadWithOptions(p, config.ParseOptions{SkipKeyFile: true}); err != nil {
			t.Errorf("directory mode %v, SkipKeyFile: %v", tt.mode, err)
		}
	}

	// Through a symbolic link, the directory of the file it leads to
	// counts too.
	p := writeConfig(t, 0o600)
	if err := os.Chmod(filepath.Dir(p), 0o775); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "havip.toml")
	if err := os.Symlink(p, link); err != nil {
		t.Fatal(err)
	}
	if _, err := config.Load(link); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("the directory %q", filepath.Dir(p))) {
		t.Errorf("through a link: %v, want the directory of the file it leads to", err)
	}
}
