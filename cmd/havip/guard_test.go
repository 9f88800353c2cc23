package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/havip/havip/preflight"
)

// A VIP that is the gateway, or instances without the capabilities to
// hold them, make `havip check` and `havip run` exit 2 before anything
// changes on the host.
func TestRefusedByTheHost(t *testing.T) {
	fakeHost(t)
	gateway := write(t, strings.Replace(goodConfig, "198.18.0.100", "198.18.0.1", 1))
	wantGateway := gateway + `: instance[0] "web": vips[0]: "198.18.0.1" is the default gateway on eth0: announcing it would draw the traffic of every host on that subnet to this one`

	code, out, errOut := runCmd(t, "check", "--config", gateway, "--root", t.TempDir())
	if code != 2 || !strings.Contains(out, `error    vip: instance[0] "web": vips[0]: "198.18.0.1" is the default gateway on eth0`) {
		t.Errorf("check: exit %d, want 2 and the gateway named\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	code, _, errOut = runCmd(t, "run", "--config", gateway)
	if code != 2 || !strings.Contains(errOut, wantGateway) {
		t.Errorf("run: exit %d, want 2 and %q\nstderr: %s", code, wantGateway, errOut)
	}

	hostCaps = func() ([]preflight.Capability, error) { return preflight.Needed, nil }
	good := write(t, goodConfig)
	code, out, _ = runCmd(t, "check", "--config", good, "--root", t.TempDir())
	if code != 2 || !strings.Contains(out, "error    capabilities: this process lacks CAP_NET_ADMIN") {
		t.Errorf("check without capabilities: exit %d, want 2\n%s", code, out)
	}
	code, _, errOut = runCmd(t, "run", "--config", good)
	for _, want := range []string{good + ": this process lacks CAP_NET_ADMIN (adding and removing the VIPs) and CAP_NET_RAW",
		"AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW"} {
		if code != 2 || !strings.Contains(errOut, want) {
			t.Errorf("run without capabilities: exit %d, want 2 and %q\nstderr: %s", code, want, errOut)
		}
	}
}

// Every subcommand's --help goes to stdout and exits 0, with a synopsis
// that shows its arguments.
func TestSubcommandHelp(t *testing.T) {
	for _, c := range cliCommands {
		if c.name == "help" || c.name == "version" {
			continue
		}
		code, out, errOut := runCmd(t, c.name, "--help")
		if code != 0 || !strings.HasPrefix(out, "Usage:") || !strings.Contains(out, "havip "+c.name) || errOut != "" {
			t.Errorf("havip %s --help: exit %d, stdout %q, stderr %q; want 0 and the usage on stdout", c.name, code, out, errOut)
		}
	}
	if _, out, _ := runCmd(t, "maintenance", "-h"); !strings.HasPrefix(out, "Usage: havip maintenance on|off [flags]") {
		t.Errorf("maintenance -h: %q", out)
	}
	if _, out, _ := runCmd(t, "completion", "--help"); !strings.Contains(out, "Usage: havip completion bash|zsh|fish\n\nPrint a shell completion script.") {
		t.Errorf("completion --help: %q", out)
	}
	// A wrong flag is still a usage error, on stderr.
	if code, out, errOut := runCmd(t, "check", "--bogus"); code != 2 || out != "" || !strings.Contains(errOut, "bogus") {
		t.Errorf("check --bogus: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// A file that does not parse (being edited, say) does not hide the
// running daemon: the control commands try the default socket and say
// how to name another.
func TestBrokenConfigFallsBackToDefaultSocket(t *testing.T) {
	broken := write(t, "[cluster]\nname = \"c\"\npeers = 192.0.2.12:7946\n")
	for _, args := range [][]string{
		{"status"}, {"maintenance", "on"}, {"switchover"}, {"reload"},
	} {
		code, _, errOut := runCmd(t, append(args, "--config", broken)...)
		for _, want := range []string{broken + `:3:9: Invalid float value: "192.0.2.12"; an address is a string: quote it`,
			"trying the default socket /run/havip/havip.sock (--socket names another)"} {
			if code != 1 || !strings.Contains(errOut, want) {
				t.Errorf("%s: exit %d, want 1 and %q\nstderr: %s", args[0], code, want, errOut)
			}
		}
	}
}

// A syntax error shows its line, column and the caret under it.
func TestSyntaxErrorExcerpt(t *testing.T) {
	broken := write(t, "[cluster]\nname = \"c\"\npeers = 192.0.2.12:7946\n")
	code, _, errOut := runCmd(t, "check", "--config", broken)
	want := broken + `:3:9: Invalid float value: "192.0.2.12"; an address is a string: quote it, as in "192.0.2.12:7946"

      1 | [cluster]
      2 | name = "c"
      3 | peers = 192.0.2.12:7946
                  ^^^^^^^^^^
`
	if code != 2 || !strings.Contains(errOut, want) {
		t.Errorf("exit %d, stderr:\n%s\nwant:\n%s", code, errOut, want)
	}
}

// --no-host checks the file alone: the key it names is not read.
func TestCheckNoHostSkipsKey(t *testing.T) {
	conf := write(t, strings.Replace(goodConfig, "insecure = true", `secret_key_file = "/nonexistent/secret.key"`, 1))
	if code, out, errOut := runCmd(t, "check", "--config", conf, "--no-host"); code != 0 {
		t.Errorf("check --no-host: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if code, _, errOut := runCmd(t, "check", "--config", conf, "--root", t.TempDir()); code != 2 || !strings.Contains(errOut, "/nonexistent/secret.key") {
		t.Errorf("check: exit %d, stderr %q; want 2 naming the key", code, errOut)
	}
}

// The README's quick start installs the package, which ships the
// starting configuration, then runs `havip init` with the cluster's
// values: init replaces that file when it is untouched, and refuses
// when it was edited.
func TestInitReplacesPackagedStarter(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "havip.toml")
	keyPath := filepath.Join(dir, "havip", "secret.key")
	code, packaged, errOut := runCmd(t, "init", "--print", "--secret-key-file", "/etc/havip/secret.key")
	if code != 0 {
		t.Fatalf("init --print: exit %d: %s", code, errOut)
	}
	if err := os.WriteFile(cfgPath, []byte(packaged), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"init", "--config", cfgPath, "--secret-key-file", keyPath, "--vip", "198.18.0.100", "--peer", "198.18.0.12:7946"}
	code, out, errOut := runCmd(t, args...)
	if code != 0 || !strings.Contains(out, "wrote the configuration to "+cfgPath+" (it replaces the package's untouched starting file)") {
		t.Fatalf("init over the packaged file: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if data, _ := os.ReadFile(cfgPath); !strings.Contains(string(data), `vips = ["198.18.0.100"]`) {
		t.Errorf("the configuration was not replaced:\n%s", data)
	}

	// An edited file is the operator's: refused without --force.
	edited := packaged + "# edited\n"
	if err := os.WriteFile(cfgPath, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = runCmd(t, append(args[:len(args):len(args)], "--no-key")...)
	if code != 2 || !strings.Contains(errOut, cfgPath+" exists; nothing written") {
		t.Errorf("init over an edited file: exit %d, stderr %q", code, errOut)
	}
	if data, _ := os.ReadFile(cfgPath); string(data) != edited {
		t.Error("init changed an edited file")
	}
}

// The starting file's header names the file it is in and how to apply
// a change to it.
func TestInitHeaderNamesItsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cluster-a.toml")
	_, out, _ := runCmd(t, "init", "--print", "--config", path)
	for _, want := range []string{"# " + path + ": havip's configuration.", "havip check --config " + path,
		"`havip reload --config " + path + "`", "`havip run --config " + path + "`"} {
		if !strings.Contains(out, want) {
			t.Errorf("header lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "/etc/havip.toml") || strings.Contains(out, "systemctl") {
		t.Errorf("header names the packaged file or systemd for %s:\n%s", path, out)
	}
	_, out, _ = runCmd(t, "init", "--print")
	if !strings.Contains(out, "# /etc/havip.toml: havip's configuration.") || !strings.Contains(out, "`systemctl reload havip`") {
		t.Errorf("header of the packaged file:\n%s", out)
	}
	if !strings.Contains(out, `"fast"          about 225ms`) {
		t.Errorf("the timing comment does not follow the profiles:\n%s", out)
	}
}
