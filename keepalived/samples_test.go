package keepalived

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// samplesDir is where Debian's keepalived package puts keepalived's own
// sample configurations (scripts/deps.sh installs it).
const samplesDir = "/usr/share/doc/keepalived/samples"

// sample reads a sample, gunzipping it when the package compressed it,
// into a file of the same name (includes are relative to it).
func sample(t *testing.T, path string) string {
	t.Helper()
	if !strings.HasSuffix(path, ".gz") {
		return path
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if _, err := io.Copy(&b, zr); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), strings.TrimSuffix(filepath.Base(path), ".gz"))
	if err := os.WriteFile(out, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

// samplesRequired says whether a test must fail, not skip, when
// keepalived's samples are missing: in CI (CI=true) as root, where
// scripts/deps.sh installs them, a skip would hide that they are gone.
func samplesRequired(getenv func(string) string, euid int) bool {
	return getenv("CI") == "true" && euid == 0
}

// needSamples ends a test that cannot find keepalived's samples.
func needSamples(t *testing.T) {
	t.Helper()
	msg := fmt.Sprintf("keepalived's samples are not in %s: install Debian's keepalived package (scripts/deps.sh does)", samplesDir)
	if samplesRequired(os.Getenv, os.Geteuid()) {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

func TestSamplesRequired(t *testing.T) {
	for _, tt := range []struct {
		ci   string
		euid int
		want bool
	}{{"true", 0, true}, {"true", 1000, false}, {"", 0, false}, {"false", 0, false}} {
		getenv := func(k string) string {
			if k == "CI" {
				return tt.ci
			}
			return ""
		}
		if got := samplesRequired(getenv, tt.euid); got != tt.want {
			t.Errorf("CI=%q, euid %d: required %t, want %t", tt.ci, tt.euid, got, tt.want)
		}
	}
}

// sampleWant is what a sample must give: the instances, and findings
// that some lines of the report contain.
type sampleWant struct {
	instances []string
	findings  []string
}

// checkSample converts one sample: it must not crash the converter, and
// must give a configuration havip loads or, when nothing in it is
// havip's job, a report saying why; want, when set, is checked too.
func checkSample(t *testing.T, path, name string, want *sampleWant) {
	t.Helper()
	cfg, err := ParseFile(path, ParseOptions{ConfigID: "backup"})
	if err != nil {
		t.Fatal(err)
	}
	res := Convert(cfg, Options{Hostname: "lb1"})
	if len(res.Instances) > 0 {
		if text, err := res.Check(name + ".toml"); err != nil {
			t.Fatalf("the converted configuration does not load: %v\n%s", err, text)
		}
	} else if res.Report.Count(Dropped) == 0 {
		t.Errorf("no instance and no directive reported as not carried over:\n%s", reportText(res.Report))
	}
	if want == nil {
		return
	}
	var got []string
	for _, in := range res.Instances {
		got = append(got, in.Name)
	}
	if strings.Join(got, ",") != strings.Join(want.instances, ",") {
		t.Errorf("instances %v, want %v", got, want.instances)
	}
	for _, f := range want.findings {
		if !strings.Contains(reportText(res.Report), f) {
			t.Errorf("no finding with %q in:\n%s", f, reportText(res.Report))
		}
	}
}

// TestSamples converts every sample configuration of keepalived (see
// checkSample).
func TestSamples(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(samplesDir, "keepalived.conf.*"))
	if len(files) == 0 {
		needSamples(t)
	}
	if len(files) < 20 {
		t.Fatalf("only %d samples in %s: the package ships about 25", len(files), samplesDir)
	}
	// What some samples must give: instances, and a finding each.
	want := map[string]sampleWant{
		"keepalived.conf.vrrp": {[]string{"VI_1", "VI_2", "VI_3", "VI_4"},
			[]string{"virtual_ipaddress 192.168.200.18: note: listed twice: kept once", "vrrp_instance VI_1: garp_master_delay: changed"}},
		"keepalived.conf.vrrp.scripts": {[]string{"VI_1", "G1"},
			[]string{"vrrp_sync_group G1: changed: vrrp_instance VI_2, vrrp_instance VI_3 are merged"}},
		"keepalived.conf.vrrp.localcheck": {[]string{"VI_1", "VI_2", "VI_3", "VI_4", "VI_5", "VI_6", "VI_7", "VI_8", "VI_9"},
			[]string{`vrrp_script chk_http_port: script: changed: "</dev/tcp/127.0.0.1/80" has shell syntax`}},
		"keepalived.conf.vrrp.routes":   {[]string{"VI_1"}, []string{"vrrp_instance VI_1: virtual_routes: not carried over"}},
		"keepalived.conf.HTTP_GET.port": {nil, []string{"virtual_server: not carried over: havip does not configure LVS"}},
	}
	for _, path := range files {
		name := strings.TrimSuffix(filepath.Base(path), ".gz")
		t.Run(name, func(t *testing.T) {
			var w *sampleWant
			if v, ok := want[name]; ok {
				w = &v
			}
			checkSample(t, sample(t, path), name, w)
		})
	}
}

// TestSampleShapes converts configurations written for these tests in
// the shape of keepalived's samples that Debian's package does not ship
// (keepalived's own are GPL-2.0 and stay out of this repository), and
// the published kubeadm template with its placeholders unfilled. Every
// file of testdata/samples must have its entry.
func TestSampleShapes(t *testing.T) {
	lvs := "virtual_server: not carried over: havip does not configure LVS"
	want := map[string]sampleWant{
		// HTTP_GET.auth: VRRP only for 127.0.0.1 on lo, which havip
		// cannot hold; the rest is LVS.
		"lvs-loopback-auth.conf": {nil, []string{
			`:18: vrrp_instance LOOP: virtual_ipaddress 127.0.0.1: problem: "127.0.0.1" cannot be a VIP: it is a loopback address: left out`,
			":12: vrrp_instance LOOP: not carried over: no VIP havip can hold: the instance is left out",
			":22: " + lvs}},
		// HTTP_GET.auth.simple, ci-linux, failover_pool: LVS only.
		"lvs-auth-only.conf": {nil, []string{":4: " + lvs}},
		"lvs-ci-linux.conf": {nil, []string{
			":5: global_defs: lvs_id: not carried over: havip does not configure LVS", ":9: " + lvs}},
		"lvs-failover-pool.conf": {nil, []string{":5: " + lvs}},
		// routes: the VIPs on other interfaces are kept, the routes not.
		"routes.conf": {[]string{"GW"}, []string{
			":9: static_route: not carried over",
			":23: vrrp_instance GW: virtual_routes: not carried over: havip adds no routes or rules"}},
		// The template: each placeholder reported where it is, and no
		// configuration with "${INTERFACE}" in it.
		"kubeadm-placeholders.conf": {nil, []string{
			":16: problem: ${STATE} is not defined: keepalived leaves it as written; define it ($STATE=VALUE) or write the value",
			":17: problem: ${INTERFACE} is not defined",
			`:17: vrrp_instance VI_1: interface: problem: "${INTERFACE}" holds ${INTERFACE}, a parameter that is not defined: the instance is left out`,
			":18: problem: ${ROUTER_ID} is not defined",
			":19: problem: ${PRIORITY} is not defined",
			":22: problem: ${AUTH_PASS} is not defined",
			":25: problem: ${APISERVER_VIP} is not defined"}},
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "samples", "*.conf"))
	if len(files) != len(want) {
		t.Errorf("%d files in testdata/samples, %d expected", len(files), len(want))
	}
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			w, ok := want[name]
			if !ok {
				t.Fatalf("%s has no entry in TestSampleShapes", path)
			}
			checkSample(t, path, name, &w)
		})
	}
}

// TestConditionalSample reads the sample made for keepalived -i high and
// -i low.
func TestConditionalSample(t *testing.T) {
	path := filepath.Join(samplesDir, "keepalived.conf.conditional_conf")
	if _, err := os.Stat(path); err != nil {
		needSamples(t)
	}
	for id, want := range map[string]struct {
		priority int
		script   string
	}{
		// 170 and 85, raised by eth2's positive weight (see trackInterface).
		"high": {190, "/etc/keepalived/scripts/check_high_VI_0.sh"},
		"low":  {105, "/etc/keepalived/scripts/check_low_VI_0.sh"},
	} {
		cfg, err := ParseFile(path, ParseOptions{ConfigID: id})
		if err != nil {
			t.Fatal(err)
		}
		res := Convert(cfg, Options{})
		if len(res.Instances) != 1 {
			t.Fatalf("-i %s: %d instances, want 1", id, len(res.Instances))
		}
		in := res.Instances[0]
		if in.Priority != want.priority || len(in.TrackScripts) != 1 || in.TrackScripts[0].Command[0] != want.script {
			t.Errorf("-i %s: priority %d, scripts %+v; want %d and %s", id, in.Priority, in.TrackScripts, want.priority, want.script)
		}
		if ts := in.TrackScripts[0]; ts.Rise != 3 || ts.Fall != 3 || ts.Interval != "1s" || ts.Timeout != "10s" || ts.Weight != 0 {
			t.Errorf("-i %s: script %+v, want rise 3, fall 3, every 1s, timeout 10s, weight 0", id, ts)
		}
		if want := []Tracked{{Interface: "eth3"}, {Interface: "eth2", Weight: 20}}; !slices.Equal(in.TrackInterfaces, want) {
			t.Errorf("-i %s: tracked interfaces %+v, want %+v", id, in.TrackInterfaces, want)
		}
	}
}
