package main

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// fakeResults is a bench with results as a run at three sizes, two havip
// profiles and one keepalived setting would leave them.
func fakeResults() *bench {
	b := &bench{
		sizes:     []size{{3, 1}, {10, 1}, {10, 8}},
		setups:    []setup{{"havip", "default"}, {"havip", "fast"}, {"keepalived", "1"}},
		losses:    []int{5},
		idle:      time.Minute,
		soak:      time.Minute,
		scenarios: map[string]bool{"hard": true, "graceful": true, "false": true, "resources": true},
		failover:  map[fkey][]time.Duration{}, failed: map[fkey][]string{}, metrics: map[string][]string{},
		falses: map[falseKey]falseResult{}, usages: map[usageKey]usageResult{}, broken: map[usageKey]string{},
	}
	base := map[string]map[setup]time.Duration{
		metricCutGARP:  {b.setups[0]: 800 * time.Millisecond, b.setups[1]: 200 * time.Millisecond, b.setups[2]: 2900 * time.Millisecond},
		metricHandover: {b.setups[0]: time.Millisecond, b.setups[1]: time.Millisecond, b.setups[2]: 620 * time.Millisecond},
	}
	for sc, m := range map[string]string{"hard": metricCutGARP, "graceful": metricHandover} {
		b.metrics[sc] = []string{m}
		for zi, z := range b.sizes {
			for _, s := range b.setups {
				for r := range 5 {
					d := base[m][s] * time.Duration(100+10*zi+r) / 100
					b.failover[fkey{sc, z, s, m}] = append(b.failover[fkey{sc, z, s, m}], d)
				}
			}
		}
	}
	for zi, z := range b.sizes {
		for si, s := range b.setups {
			b.falses[falseKey{z, s, 5}] = falseResult{changes: si, d: time.Minute}
			u := usageResult{d: time.Minute}
			for i := range z.nodes {
				u.cpu = append(u.cpu, 0.3*float64(1+zi)+0.02*float64(i%2)+0.01*float64(si))
				u.rss = append(u.rss, 18000)
				u.switches = append(u.switches, 70*float64(1+zi))
				u.txRate = append(u.txRate, 1000*float64(1+zi)*float64(z.instances))
			}
			b.usages[usageKey{z, s}] = u
		}
	}
	return b
}

func TestWritePlots(t *testing.T) {
	b := fakeResults()
	dir := t.TempDir()
	files, err := b.writePlots(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"hard": "report-hard.svg", "graceful": "report-graceful.svg", "false": "report-false.svg",
		"idle-cpu": "report-idle-cpu.svg", "idle-wakeups": "report-idle-wakeups.svg", "idle-tx": "report-idle-tx.svg",
	}
	if len(files) != len(want) {
		t.Errorf("files %v, want %v", files, want)
	}
	for key, name := range want {
		if files[key] != name {
			t.Errorf("%s: file %q, want %q", key, files[key], name)
			continue
		}
		texts := svgTexts(t, filepath.Join(dir, name))
		// Every setup and every size appears: the setups on the x axis,
		// the sizes in the legend.
		for _, s := range b.setups {
			if !slices.Contains(texts, s.String()) {
				t.Errorf("%s: no label %q in %q", name, s, texts)
			}
		}
		for _, z := range b.sizes {
			if !slices.ContainsFunc(texts, func(x string) bool { return strings.HasPrefix(x, z.String()) }) {
				t.Errorf("%s: no legend entry for %s in %q", name, z, texts)
			}
		}
		if !slices.Contains(texts, plotTitle(key)) {
			t.Errorf("%s: no title %q in %q", name, plotTitle(key), texts)
		}
	}
}

// svgTexts parses an SVG file as XML and returns the content of its text
// elements.
func svgTexts(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(bytes.NewReader(data))
	var texts []string
	inText := false
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: not XML: %v", path, err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			inText = tok.Name.Local == "text"
		case xml.EndElement:
			inText = false
		case xml.CharData:
			if inText {
				texts = append(texts, strings.TrimSpace(string(tok)))
			}
		}
	}
	return texts
}

func TestUseLog(t *testing.T) {
	tests := []struct {
		vs   []float64
		want bool
	}{
		{[]float64{1, 620}, true},     // graceful: havip ms beside keepalived's
		{[]float64{200, 2900}, false}, // link cut: within a decade and a half
		{[]float64{0, 0.3}, false},    // an idle backup's zero CPU
		{nil, false},
	}
	for _, tt := range tests {
		if got := useLog(tt.vs); got != tt.want {
			t.Errorf("useLog(%v) = %v, want %v", tt.vs, got, tt.want)
		}
	}
}

func TestReportSizes(t *testing.T) {
	b := fakeResults()
	var out bytes.Buffer
	b.report(&out, "-nodes 3,10,10x8", time.Minute, "load average 1 at the start, 2 at the end",
		map[string]string{"hard": "r-hard.svg", "idle-cpu": "r-idle-cpu.svg"})
	got := out.String()
	for _, want := range []string{
		"### 10 nodes × 8 instances",
		"![" + plotTitle("hard") + "](r-hard.svg)",
		"![" + plotTitle("idle-cpu") + "](r-idle-cpu.svg)",
		"load average 1 at the start, 2 at the end",
		// Hard failover medians grow 10 % per size in fakeResults.
		"Against 3 nodes × 1 instance, " + metricCutGARP + " medians:",
		"| havip/fast | 1.10 | 1.20 |",
		// Idle: the bytes sent per node, and the CPU medians by size.
		"| havip/default | 10 nodes × 8 instances | 0.91 / 0.92 | 17.6 / 17.6 | 210 / 210 | 24000 / 24000 |",
		"Against 3 nodes × 1 instance, idle CPU medians:",
		"| havip/default | 2.03 | 3.03 |",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
}

func TestUsageBetween(t *testing.T) {
	t0 := time.Unix(1000, 0)
	before := &idleSnapshot{at: t0, procs: []procUsage{{CPUTicks: 100, Switches: 50, RSSKiB: 1}}, tx: []uint64{1000}}
	after := &idleSnapshot{at: t0.Add(10 * time.Second), procs: []procUsage{{CPUTicks: 150, Switches: 1050, RSSKiB: 2048}}, tx: []uint64{61000}}
	u := usageBetween(before, after)
	if u.d != 10*time.Second || u.cpu[0] != 5 || u.switches[0] != 100 || u.txRate[0] != 6000 || u.rss[0] != 2048 {
		t.Errorf("usageBetween = %+v, want 10s, 5 %% CPU, 100 switches/s, 6000 bytes/s, 2048 KiB", u)
	}
}
