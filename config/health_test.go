package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/havip/havip/config"
)

const healthInstance = `
[[instance]]
name = "web"
interface = "eth0"
vips = ["10.0.0.5"]
track_interfaces = ["eth1", "bond0"]
notify_timeout = "5s"
[[instance.track_script]]
name = "app"
command = ["/usr/bin/curl", "-fsS", "http://127.0.0.1/health"]
[[instance.track_script]]
name = "disk"
command = ["/bin/true"]
interval = "500ms"
timeout = "200ms"
rise = 3
fall = 1
weight = 50
[instance.notify]
master = ["/usr/local/bin/on-master", "--quiet"]
fault = ["/usr/local/bin/on-fault"]
`

func TestParseHealth(t *testing.T) {
	cfg, err := config.Parse([]byte(insecure+healthInstance+"[status]\nmetrics = \"127.0.0.1:9650\"\n"), "")
	if err != nil {
		t.Fatal(err)
	}
	in := cfg.Instances[0]
	want := config.Instance{
		Name: in.Name, Interface: in.Interface, VIPs: in.VIPs, Priority: in.Priority, Preempt: in.Preempt, Announce: in.Announce,
		TrackInterfaces: []string{"eth1", "bond0"},
		TrackScripts: []config.TrackScript{
			{Name: "app", Command: []string{"/usr/bin/curl", "-fsS", "http://127.0.0.1/health"}, Interval: 2 * time.Second, Timeout: time.Second, Rise: 2, Fall: 2},
			{Name: "disk", Command: []string{"/bin/true"}, Interval: 500 * time.Millisecond, Timeout: 200 * time.Millisecond, Rise: 3, Fall: 1, Weight: 50},
		},
		Notify: config.Notify{Master: []string{"/usr/local/bin/on-master", "--quiet"}, Fault: []string{"/usr/local/bin/on-fault"}, Timeout: 5 * time.Second},
	}
	if diff := cmp.Diff(want, in, netipCmp); diff != "" {
		t.Errorf("instance (-want +got):\n%s", diff)
	}
	if cfg.Status.Metrics != "127.0.0.1:9650" {
		t.Errorf("status.metrics = %q", cfg.Status.Metrics)
	}
	if got := in.Notify.Command("MASTER"); len(got) != 2 {
		t.Errorf("Command(MASTER) = %q", got)
	}
	if got := in.Notify.Command("BACKUP"); got != nil {
		t.Errorf("Command(BACKUP) = %q, want nil", got)
	}
}

func TestHealthErrors(t *testing.T) {
	base := insecure + "[[instance]]\nname = \"web\"\ninterface = \"eth0\"\nvips = [\"10.0.0.5\"]\n"
	tests := []struct {
		name, conf, want string
	}{
		{"bad tracked interface", `track_interfaces = ["a/b"]`, `instance[0] "web": track_interfaces[0]: "a/b" is not a valid interface name`},
		{"duplicate tracked interface", `track_interfaces = ["eth1", "eth1"]`, `track_interfaces[1]: "eth1" is already listed as track_interfaces[0]`},
		{"script without command", "[[instance.track_script]]\nname = \"app\"", `instance[0] "web": track_script[0] "app": command: is required`},
		{"script without name", "[[instance.track_script]]\ncommand = [\"/bin/true\"]", `track_script[0]: name: is required`},
		{"shell string", "[[instance.track_script]]\nname = \"a\"\ncommand = [\"curl -f http://x\"]", `is run as one program name, without a shell`},
		{"command not a list", "[[instance.track_script]]\nname = \"a\"\ncommand = \"/bin/true\"", `command: must be a list of strings`},
		{"empty command", "[[instance.track_script]]\nname = \"a\"\ncommand = []", `command: must name a program: the list is empty`},
		{"duplicate script", "[[instance.track_script]]\nname = \"a\"\ncommand = [\"/bin/true\"]\n[[instance.track_script]]\nname = \"a\"\ncommand = [\"/bin/true\"]", `"a" is already the name of track_script[0]`},
		{"rise 0", "[[instance.track_script]]\nname = \"a\"\ncommand = [\"/bin/true\"]\nrise = 0", `rise: must be 1..100, not 0`},
		{"negative weight", "[[instance.track_script]]\nname = \"a\"\ncommand = [\"/bin/true\"]\nweight = -1", `weight: must be 0`},
		{"unknown script key", "[[instance.track_script]]\nname = \"a\"\ncommand = [\"/bin/true\"]\nintervall = \"1s\"", `unknown key "instance.track_script.intervall" (did you mean "interval"?)`},
		{"empty notify", "[instance.notify]\nmaster = []", `notify.master: must name a program`},
		{"unknown notify key", "[instance.notify]\nstopp = [\"/bin/true\"]", `unknown key "instance.notify.stopp" (did you mean "stop"?)`},
		{"empty notify.any", "[instance.notify]\nany = []", `notify.any: must name a program`},
		{"tracked interface table without interface", `track_interfaces = [{ weight = 10 }]`, `track_interfaces[0]: interface is required`},
		{"tracked interface weight", `track_interfaces = [{ interface = "eth1", weight = 255 }]`, `track_interfaces[0]: weight must be 0 (the interface down means FAULT) or 1..254`},
		{"tracked interface weight not a number", `track_interfaces = [{ interface = "eth1", weight = "10" }]`, `track_interfaces[0]: weight must be an integer, not string "10"`},
		{"tracked interface of another type", `track_interfaces = [true]`, `track_interfaces[0]: must be an interface name or a table`},
		{"duplicate weighted interface", `track_interfaces = ["eth1", { interface = "eth1", weight = 5 }]`, `track_interfaces[1]: "eth1" is already listed as track_interfaces[0]`},
		{"group without user", "[[instance.track_script]]\nname = \"a\"\ncommand = [\"/bin/true\"]\ngroup = \"nogroup\"", `track_script[0] "a": group: needs user`},
		{"empty user", "[instance.notify]\nmaster = [\"/bin/true\"]\nuser = \"\"", `notify.user: must not be empty`},
		{"unknown user", "[[instance.track_script]]\nname = \"a\"\ncommand = [\"/bin/true\"]\nuser = \"no-such-user-here\"", `track_script[0] "a": user: "no-such-user-here" is not a user of this host`},
		{"unknown notify group", "[instance.notify]\nmaster = [\"/bin/true\"]\nuser = \"root\"\ngroup = \"no-such-group-here\"", `notify.user: "no-such-group-here" is not a group of this host`},
		{"notify timeout", `notify_timeout = "1ms"`, `notify_timeout: must be 100ms..1h, not 1ms`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Parse([]byte(base+tt.conf+"\n"), "")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse: %v\nwant an error containing %q", err, tt.want)
			}
		})
	}
	for _, m := range []string{"9650", "127.0.0.1", "example.com:9650", "127.0.0.1:0"} {
		if _, err := config.Parse([]byte(insecure+"[status]\nmetrics = \""+m+"\"\n"), ""); err == nil || !strings.Contains(err.Error(), "status.metrics") {
			t.Errorf("status.metrics = %q: %v, want an error", m, err)
		}
	}
}
