package config_test

import (
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/havip/havip/config"
)

// notifyBase is an instance whose [instance.notify] table the tests
// write.
const notifyBase = insecure + `
[[instance]]
name = "web"
interface = "eth0"
vips = ["10.0.0.5"]
[instance.notify]
`

// TestNotifyHookForms reads the two forms of a notify command: a list
// (the argv), or a table with the command and, optionally, the user and
// group it runs as, which then replace the table's for that command.
// The users are not looked up (SkipKeyFile), so any name does.
func TestNotifyHookForms(t *testing.T) {
	timeout := 30 * time.Second
	tests := []struct {
		name, conf string
		want       config.Notify
		// runAs is RunAsFor of MASTER, BACKUP, FAULT, STOP and AnyHook.
		runAs [5]config.RunAs
	}{{
		name:  "lists, as before",
		conf:  "master = [\"/bin/m\", \"x\"]\nany = [\"/bin/any\"]\nuser = \"www-data\"\n",
		want:  config.Notify{Master: []string{"/bin/m", "x"}, Any: []string{"/bin/any"}, RunAs: config.RunAs{User: "www-data"}, Timeout: timeout},
		runAs: [5]config.RunAs{{User: "www-data"}, {User: "www-data"}, {User: "www-data"}, {User: "www-data"}, {User: "www-data"}},
	}, {
		name: "lists without a user",
		conf: "fault = [\"/bin/f\"]\n",
		want: config.Notify{Fault: []string{"/bin/f"}, Timeout: timeout},
	}, {
		name:  "a table without a user is the list",
		conf:  "master = { command = [\"/bin/m\", \"x\"] }\nuser = \"www-data\"\n",
		want:  config.Notify{Master: []string{"/bin/m", "x"}, RunAs: config.RunAs{User: "www-data"}, Timeout: timeout},
		runAs: [5]config.RunAs{{User: "www-data"}, {User: "www-data"}, {User: "www-data"}, {User: "www-data"}, {User: "www-data"}},
	}, {
		name: "a command's own user",
		conf: "master = { command = [\"/bin/m\"], user = \"haproxy\", group = \"haproxy\" }\nbackup = [\"/bin/b\"]\n" +
			"any = { user = \"keepalived_script\", command = [\"/bin/any\"] }\n",
		want: config.Notify{Master: []string{"/bin/m"}, Backup: []string{"/bin/b"}, Any: []string{"/bin/any"},
			HookRunAs: map[string]config.RunAs{"MASTER": {User: "haproxy", Group: "haproxy"}, config.AnyHook: {User: "keepalived_script"}},
			Timeout:   timeout},
		runAs: [5]config.RunAs{{User: "haproxy", Group: "haproxy"}, {}, {}, {}, {User: "keepalived_script"}},
	}, {
		name: "a command's user replaces the table's, group included",
		conf: "stop = { command = [\"/bin/s\"], user = \"root\" }\nfault = [\"/bin/f\"]\nuser = \"www-data\"\ngroup = \"www\"\n",
		want: config.Notify{Stop: []string{"/bin/s"}, Fault: []string{"/bin/f"}, RunAs: config.RunAs{User: "www-data", Group: "www"},
			HookRunAs: map[string]config.RunAs{"STOP": {User: "root"}}, Timeout: timeout},
		runAs: [5]config.RunAs{{User: "www-data", Group: "www"}, {User: "www-data", Group: "www"}, {User: "www-data", Group: "www"},
			{User: "root"}, {User: "www-data", Group: "www"}},
	}, {
		name: "a table written as a table",
		conf: "user = \"www-data\"\n[instance.notify.backup]\ncommand = [\"/bin/b\"]\nuser = \"haproxy\"\n",
		want: config.Notify{Backup: []string{"/bin/b"}, RunAs: config.RunAs{User: "www-data"},
			HookRunAs: map[string]config.RunAs{"BACKUP": {User: "haproxy"}}, Timeout: timeout},
		runAs: [5]config.RunAs{{User: "www-data"}, {User: "haproxy"}, {User: "www-data"}, {User: "www-data"}, {User: "www-data"}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.ParseWithOptions([]byte(notifyBase+tt.conf), "", config.ParseOptions{SkipKeyFile: true})
			if err != nil {
				t.Fatal(err)
			}
			n := cfg.Instances[0].Notify
			if diff := cmp.Diff(tt.want, n); diff != "" {
				t.Errorf("notify (-want +got):\n%s", diff)
			}
			var got [5]config.RunAs
			for i, st := range []string{"MASTER", "BACKUP", "FAULT", "STOP", config.AnyHook} {
				got[i] = n.RunAsFor(st)
			}
			if diff := cmp.Diff(tt.runAs, got); diff != "" {
				t.Errorf("RunAsFor MASTER, BACKUP, FAULT, STOP, ANY (-want +got):\n%s", diff)
			}
		})
	}
}

// TestNotifyHookErrors names the key of each problem of a notify
// command's table, one problem a line.
func TestNotifyHookErrors(t *testing.T) {
	tests := []struct {
		name, conf, want string
	}{
		{"group without user", `master = { command = ["/bin/true"], group = "nogroup" }`,
			`instance[0] "web": notify.master.group: needs user: the group a command runs as goes with the user it runs as`},
		{"group without user beside the table's user", "backup = { command = [\"/bin/true\"], group = \"nogroup\" }\nuser = \"root\"",
			`instance[0] "web": notify.backup.group: needs user`},
		{"unknown key", `master = { command = ["/bin/true"], usr = "nobody" }`,
			`instance[0] "web": notify.master: unknown key "instance.notify.master.usr" (did you mean "user"?)`},
		{"unknown key far from any", `any = { command = ["/bin/true"], weight = 3 }`,
			`instance[0] "web": notify.any: unknown key "instance.notify.any.weight"`},
		{"command missing", `master = { user = "root" }`,
			`instance[0] "web": notify.master.command: is required: the program and its arguments, as a list`},
		{"empty command", `fault = { command = [] }`, `notify.fault.command: must name a program: the list is empty`},
		{"command not a list", `master = { command = "/bin/true" }`,
			`notify.master.command: must be a list of strings, not string "/bin/true"`},
		{"command item not a string", `stop = { command = ["/bin/true", 1] }`,
			`notify.stop.command: must be a list of strings, but item 1 is integer 1`},
		{"shell string", `master = { command = ["/bin/echo hello"] }`, `notify.master.command: "/bin/echo hello" is run as one program name`},
		{"user not a string", `master = { command = ["/bin/true"], user = 0 }`, `notify.master.user: must be a string, not integer 0`},
		{"group not a string", `master = { command = ["/bin/true"], user = "root", group = false }`,
			`notify.master.group: must be a string, not boolean false`},
		{"empty user", `master = { command = ["/bin/true"], user = "" }`, `notify.master.user: must not be empty`},
		{"unknown user", `any = { command = ["/bin/true"], user = "no-such-user-here" }`,
			`notify.any.user: "no-such-user-here" is not a user of this host`},
		{"a string", `master = "/bin/true"`,
			`instance[0] "web": notify.master: must be a list of strings (the program and its arguments) or a table such as { command = ["/usr/local/bin/on-master"], user = "haproxy" }, not string "/bin/true"`},
		{"a number", `backup = 5`, `notify.backup: must be a list of strings (the program and its arguments) or a table such as`},
		{"list item not a string", `master = ["/bin/true", 1]`, `notify.master: must be a list of strings, but item 1 is integer 1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Parse([]byte(notifyBase+tt.conf+"\n"), "havip.toml")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Parse: %v\nwant an error containing %q", err, tt.want)
			}
			if n := strings.Count(err.Error(), "\n") + 1; n != 1 {
				t.Errorf("%d problems, want 1:\n%v", n, err)
			}
		})
	}
}

// TestNotifyHookSummary shows a command's own user beside it, and the
// table's user for the others.
func TestNotifyHookSummary(t *testing.T) {
	for _, tt := range []struct{ conf, want string }{
		{"master = { command = [\"/bin/m\"], user = \"haproxy\", group = \"haproxy\" }\nbackup = [\"/bin/b\"]\n" +
			"any = { command = [\"/bin/any\"], user = \"nobody\" }\nuser = \"www-data\"\n",
			"  notify on MASTER (as user haproxy, group haproxy), BACKUP, any transition (as user nobody) (timeout 30s), as user www-data\n"},
		{"master = { command = [\"/bin/m\"], user = \"haproxy\" }\nuser = \"www-data\"\n",
			"  notify on MASTER (as user haproxy) (timeout 30s)\n"},
		{"master = { command = [\"/bin/m\"] }\nstop = [\"/bin/s\"]\n", "  notify on MASTER, STOP (timeout 30s)\n"},
	} {
		cfg, err := config.ParseWithOptions([]byte(notifyBase+tt.conf), "", config.ParseOptions{SkipKeyFile: true})
		if err != nil {
			t.Fatal(err)
		}
		if sum := cfg.Summary(); !strings.Contains(sum, tt.want) {
			t.Errorf("summary lacks %q:\n%s", tt.want, sum)
		}
	}
}

// TestNotifyHookProgramOwner checks each command's program against the
// user that command runs as: its own, else the table's.
func TestNotifyHookProgramOwner(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("programs are not checked on Windows")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: gives a file to another user")
	}
	requireUser(t, "nobody")
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "hook")
	if err := os.WriteFile(p, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(p, atoi(t, u.Uid), 0); err != nil {
		t.Fatal(err)
	}
	parse := func(conf string) error {
		_, err := config.Parse([]byte(notifyBase+strings.ReplaceAll(conf, "PROG", p)), "")
		return err
	}
	if err := parse("master = { command = [\"PROG\"], user = \"nobody\" }\n"); err != nil {
		t.Errorf("a program of the command's own user: %v", err)
	}
	if err := parse("master = { command = [\"PROG\"], user = \"nobody\" }\nbackup = [\"PROG\"]\n"); err == nil ||
		!strings.Contains(err.Error(), `notify.backup: "`+p+`" runs as root, but `+p+" can be changed by its owner, uid "+u.Uid+" (nobody)") ||
		strings.Contains(err.Error(), "notify.master") {
		t.Errorf("the same program run as root by another command: %v", err)
	}
	if err := parse("master = { command = [\"PROG\"], user = \"root\" }\nbackup = [\"PROG\"]\nuser = \"nobody\"\n"); err == nil ||
		!strings.Contains(err.Error(), `notify.master.command: "`+p+`" runs as uid 0 (root), but `+p+" can be changed by its owner") ||
		strings.Contains(err.Error(), "notify.backup") {
		t.Errorf("a command of root among the table user's: %v", err)
	}
}
