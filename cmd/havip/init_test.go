package main

import (
	"bytes"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/havip/havip/config"
)

func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestInit(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "havip.toml")
	keyPath := filepath.Join(dir, "havip", "secret.key")
	args := []string{"init", "--config", cfgPath, "--secret-key-file", keyPath, "--name", "ecs-a",
		"--bind", "127.0.0.1:7946", "--cluster", "web-ha", "--peer", "127.0.0.2:7946,127.0.0.3:7946",
		"--vip", "198.18.0.100", "--vip", "2001:db8::100", "--priority", "150"}
	code, out, errOut := runCmd(t, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
	if m := mode(t, cfgPath); m != 0o644 {
		t.Errorf("configuration mode %04o, want 0644", m)
	}
	if m := mode(t, keyPath); m != 0o600 {
		t.Errorf("key mode %04o, want 0600", m)
	}
	if m := mode(t, filepath.Dir(keyPath)); m != 0o700 {
		t.Errorf("key directory mode %04o, want 0700", m)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatalf("the written configuration does not load: %v", err)
	}
	if len(cfg.Cluster.SecretKey) != 32 {
		t.Errorf("key of %d bytes, want 32", len(cfg.Cluster.SecretKey))
	}
	got := []any{cfg.Node.Name, cfg.Node.Bind.String(), cfg.Cluster.Name, cfg.Cluster.Peers, cfg.Cluster.SecretKeyFile,
		len(cfg.Instances), cfg.Instances[0].Interface, len(cfg.Instances[0].VIPs), cfg.Instances[0].Priority}
	want := []any{"ecs-a", "127.0.0.1:7946", "web-ha", []string{"127.0.0.2:7946", "127.0.0.3:7946"}, keyPath,
		1, "eth0", 2, 150}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("configuration (-want +got):\n%s", diff)
	}
	key1, _ := os.ReadFile(keyPath)
	conf1, _ := os.ReadFile(cfgPath)

	// A second run refuses and writes nothing.
	code, _, errOut = runCmd(t, args...)
	if code != 2 || !strings.Contains(errOut, "exists; nothing written") {
		t.Errorf("second init: exit %d, stderr %q; want 2 and a refusal", code, errOut)
	}
	if key, _ := os.ReadFile(keyPath); !bytes.Equal(key, key1) {
		t.Error("second init changed the key")
	}

	// --force replaces both, with a new key.
	if code, _, errOut := runCmd(t, append(args, "--force", "--cluster", "other")...); code != 0 {
		t.Fatalf("init --force: exit %d: %s", code, errOut)
	}
	if key, _ := os.ReadFile(keyPath); bytes.Equal(key, key1) {
		t.Error("init --force kept the old key")
	}
	if conf, _ := os.ReadFile(cfgPath); bytes.Equal(conf, conf1) || !bytes.Contains(conf, []byte(`name = "other"`)) {
		t.Errorf("init --force did not rewrite the configuration:\n%s", conf)
	}
	if m := mode(t, keyPath); m != 0o600 {
		t.Errorf("key mode after --force %04o, want 0600", m)
	}
}

func TestInitDefaultsAndPieces(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "havip.toml")
	keyPath := filepath.Join(dir, "secret.key")

	// --print writes nothing.
	code, out, errOut := runCmd(t, "init", "--print", "--config", cfgPath, "--secret-key-file", "/etc/havip/secret.key")
	if code != 0 {
		t.Fatalf("--print: exit %d: %s", code, errOut)
	}
	if _, err := os.Stat(cfgPath); err == nil {
		t.Error("--print wrote the configuration")
	}
	cfg, err := config.ParseWithOptions([]byte(out), "", config.ParseOptions{SkipKeyFile: true})
	if err != nil {
		t.Fatalf("printed configuration does not parse: %v\n%s", err, out)
	}
	if len(cfg.Instances) != 0 || cfg.Cluster.SecretKeyFile != "/etc/havip/secret.key" || cfg.Cluster.Name != "havip" {
		t.Errorf("default configuration: %d instances, key %q, cluster %q; want a witness, /etc/havip/secret.key, havip",
			len(cfg.Instances), cfg.Cluster.SecretKeyFile, cfg.Cluster.Name)
	}

	// --no-config writes the key alone; --no-key the configuration alone.
	if code, _, errOut := runCmd(t, "init", "--config", cfgPath, "--secret-key-file", keyPath, "--no-config"); code != 0 {
		t.Fatalf("--no-config: exit %d: %s", code, errOut)
	}
	if _, err := os.Stat(cfgPath); err == nil {
		t.Error("--no-config wrote the configuration")
	}
	data, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	if k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(data))); err != nil || len(k) != 32 {
		t.Errorf("key %q: %d bytes, %v; want base64 of 32 bytes", data, len(k), err)
	}
	if code, _, errOut := runCmd(t, "init", "--config", cfgPath, "--secret-key-file", keyPath, "--no-key"); code != 0 {
		t.Fatalf("--no-key: exit %d: %s", code, errOut)
	}
	if after, _ := os.ReadFile(keyPath); !bytes.Equal(after, data) {
		t.Error("--no-key changed the key")
	}
	if _, err := config.Load(cfgPath); err != nil {
		t.Errorf("configuration with the key of --no-config: %v", err)
	}

	// Options that make an invalid configuration write nothing.
	bad := filepath.Join(dir, "bad.toml")
	code, _, errOut = runCmd(t, "init", "--config", bad, "--secret-key-file", filepath.Join(dir, "k2"), "--vip", "198.18.0.300")
	if code != 2 || !strings.Contains(errOut, "vips[0]") {
		t.Errorf("bad --vip: exit %d, stderr %q; want 2 naming vips[0]", code, errOut)
	}
	if _, err := os.Stat(bad); err == nil {
		t.Error("bad --vip wrote a configuration")
	}
}

// flagNames returns the long flags a subcommand's --help lists.
var helpFlag = regexp.MustCompile(`(?m)^\s+(?:-\w, )?--([a-z-]+)`)

// TestCompletionMatchesFlags keeps the completion table equal to the flags
// each subcommand really parses.
func TestCompletionMatchesFlags(t *testing.T) {
	for _, c := range cliCommands {
		t.Run(c.name, func(t *testing.T) {
			_, help, _ := runCmd(t, c.name, "--help")
			if c.name == "help" || c.name == "version" {
				help = ""
			}
			var got []string
			for _, m := range helpFlag.FindAllStringSubmatch(help, -1) {
				if m[1] != "help" {
					got = append(got, m[1])
				}
			}
			var want []string
			for _, f := range c.flags {
				want = append(want, f.name)
			}
			sort.Strings(got)
			sort.Strings(want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("flags of havip %s (-completion table +parsed):\n%s", c.name, diff)
			}
		})
	}
	// Every command of the usage text is in the table.
	_, usage, _ := runCmd(t, "help")
	for _, m := range regexp.MustCompile(`(?m)^  havip (\w+)`).FindAllStringSubmatch(usage, -1) {
		found := false
		for _, c := range cliCommands {
			found = found || c.name == m[1]
		}
		if !found {
			t.Errorf("havip %s is in the usage but not in the completion table", m[1])
		}
	}
}

// TestBashCompletion runs the bash script's completion function.
func TestBashCompletion(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash here")
	}
	_, script, _ := runCmd(t, "completion", "bash")
	tests := []struct {
		words string
		want  string
	}{
		{"havip ch", "check"},
		{"havip check --no", "--no-host"},
		{"havip run --log-level w", "warn"},
		{"havip completion f", "fish"},
		{"havip init --for", "--force"},
	}
	for _, tt := range tests {
		prog := script + `
COMP_WORDS=(` + tt.words + `)
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
_havip
echo "${COMPREPLY[@]}"
`
		out, err := exec.Command(bash, "--norc", "--noprofile", "-c", prog).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v: %s", tt.words, err, out)
		}
		if strings.TrimSpace(string(out)) != tt.want {
			t.Errorf("completing %q: %q, want %q", tt.words, strings.TrimSpace(string(out)), tt.want)
		}
	}
}

func TestCompletionScripts(t *testing.T) {
	for _, sh := range []string{"bash", "zsh", "fish"} {
		code, out, errOut := runCmd(t, "completion", sh)
		if code != 0 {
			t.Errorf("completion %s: exit %d: %s", sh, code, errOut)
			continue
		}
		for _, c := range cliCommands {
			if !strings.Contains(out, c.name) {
				t.Errorf("%s script lacks command %s", sh, c.name)
			}
			for _, f := range c.flags {
				if !strings.Contains(out, f.name) {
					t.Errorf("%s script lacks flag --%s of %s", sh, f.name, c.name)
				}
			}
		}
		// The shell, when installed, must accept the script.
		if path, err := exec.LookPath(sh); err == nil && sh != "bash" {
			check := exec.Command(path, "-n")
			if sh == "fish" {
				check = exec.Command(path, "--no-execute")
			}
			check.Stdin = strings.NewReader(out)
			if msg, err := check.CombinedOutput(); err != nil {
				t.Errorf("%s rejects the script: %v: %s", sh, err, msg)
			}
		}
	}
	if code, _, _ := runCmd(t, "completion", "tcsh"); code != 2 {
		t.Errorf("completion tcsh: exit %d, want 2", code)
	}
}
