package keepalived

import (
	"bytes"
	"compress/gzip"
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

// TestSamples converts every sample configuration of keepalived: none
// crashes the converter, and each gives a configuration havip loads or,
// when nothing in it is havip's job, a report saying why.
func TestSamples(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(samplesDir, "keepalived.conf.*"))
	if len(files) == 0 {
		t.Skipf("keepalived's samples are not in %s: install Debian's keepalived package (scripts/deps.sh does)", samplesDir)
	}
	if len(files) < 20 {
		t.Fatalf("only %d samples in %s: the package ships about 25", len(files), samplesDir)
	}
	// What some samples must give: instances, and a finding each.
	want := map[string]struct {
		instances []string
		findings  []string
	}{
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
			cfg, err := ParseFile(sample(t, path), ParseOptions{ConfigID: "backup"})
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
			w, ok := want[name]
			if !ok {
				return
			}
			var got []string
			for _, in := range res.Instances {
				got = append(got, in.Name)
			}
			if strings.Join(got, ",") != strings.Join(w.instances, ",") {
				t.Errorf("instances %v, want %v", got, w.instances)
			}
			for _, f := range w.findings {
				if !strings.Contains(reportText(res.Report), f) {
					t.Errorf("no finding with %q in:\n%s", f, reportText(res.Report))
				}
			}
		})
	}
}

// TestConditionalSample reads the sample made for keepalived -i high and
// -i low.
func TestConditionalSample(t *testing.T) {
	path := filepath.Join(samplesDir, "keepalived.conf.conditional_conf")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("keepalived's samples are not in %s: install Debian's keepalived package (scripts/deps.sh does)", samplesDir)
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
