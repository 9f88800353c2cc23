package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/havip/havip/internal/monitoring"
	"github.com/havip/havip/internal/testbed"
)

const (
	rulesFile     = "../examples/prometheus/havip-rules.yml"
	dashboardFile = "../examples/grafana/havip.json"
	// monCluster is the cluster target label the scrapes are given.
	monCluster = "havip-test"
)

// situation is what Prometheus would have stored from scraping the
// cluster in one state, and the alerts that must fire on it.
type situation struct {
	name    string
	samples []monitoring.Sample
	// alerts are "alertname" or "alertname instance=..." or
	// "alertname member=...".
	alerts []string
}

// TestMonitoring runs two daemons with metrics, a track script and notify
// hooks through several situations (a failing check, a partition with
// and without quorum, a stopped node, a drained one) and scrapes both in
// each. Every series, label and label value that the rules and the
// dashboard in examples/ ask for must be among those scraped; and the
// rules, evaluated by promtool on what was scraped, must fire the
// situation's alerts and no other.
func TestMonitoring(t *testing.T) {
	c := newCluster(t, 2, false)
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool (Debian's prometheus package) is needed: scripts/deps.sh installs it: %v", err)
	}
	vip := testbed.VIP4(0)
	inst := web(true, 150, 100)
	inst.Extra = flagScript(c.dir, 0, 1, 1) + "[instance.notify]\nmaster = ['/bin/true']\nbackup = ['/bin/true']\nfault = ['/bin/true']\n"
	o := c.opts(inst)
	// Two members without quorum: a partition leaves two holders.
	o.Quorum = "off"
	o.StatusExtra = `metrics = "127.0.0.1:9650"`
	c.configure(o)
	c.startAll()
	c.waitHolders(vip, 0)
	c.waitStatus(allNodes(2), expectRole("web", 0))

	var sits []situation
	record := func(name string, up []int, alerts ...string) {
		t.Helper()
		sits = append(sits, situation{name, c.scrapeAll(up), alerts})
	}
	node := func(i int) string { return "instance=" + monTarget(i) }
	member := func(i int) string { return "member=" + testbed.NodeName(i) }

	record("healthy", []int{0, 1})

	c.setFlag(0, true)
	c.waitHolders(vip, 1)
	c.waitStatus([]int{0}, expectState("web", "FAULT"))
	record("node 0's check fails", []int{0, 1}, "HavipInstanceFault "+node(0), "HavipTrackScriptFailing "+node(0))
	c.setFlag(0, false)
	c.waitHolders(vip, 0)

	if err := c.net.Partition([]int{0}, []int{1}); err != nil {
		t.Fatal(err)
	}
	c.waitHolders(vip, 0, 1)
	c.waitStatus(allNodes(2), otherNotAlive)
	record("partition, quorum off", []int{0, 1}, "HavipTwoHolders", "HavipMemberDown "+member(0), "HavipMemberDown "+member(1))

	o.Quorum = "majority"
	c.reconfigure(o)
	c.waitHolders(vip)
	record("partition, quorum on", []int{0, 1}, "HavipNoHolder", "HavipQuorumLost "+node(0), "HavipQuorumLost "+node(1),
		"HavipMemberDown "+member(0), "HavipMemberDown "+member(1))

	if err := c.net.Heal(); err != nil {
		t.Fatal(err)
	}
	o.Quorum = "off"
	c.reconfigure(o)
	c.waitHolders(vip, 0)
	c.waitStatus(allNodes(2), expectRole("web", 0))
	if code := c.stop(0); code != 0 {
		t.Fatalf("node 0 exited %d", code)
	}
	c.waitHolders(vip, 1)
	c.waitStatus([]int{1}, seesNotAlive(0))
	record("node 0 stopped", []int{1}, "HavipMemberDown "+member(0), "HavipMetricsDown "+node(0))

	if _, stderr, err := c.havip(1, "maintenance", "on", "--socket", c.nodes[1].socket); err != nil {
		t.Fatalf("havip maintenance on: %v: %s", err, stderr)
	}
	c.waitHolders(vip)
	record("node 1 drained", []int{1}, "HavipNoHolder", "HavipMemberDown "+member(0), "HavipMetricsDown "+node(0))

	var all []monitoring.Sample
	for _, s := range sits {
		all = append(all, s.samples...)
	}
	checkQueries(t, monitoring.NewExported(all))
	for _, s := range sits {
		t.Run(strings.ReplaceAll(s.name, " ", "_"), func(t *testing.T) {
			runPromtool(t, promtool, s)
		})
	}
}

// otherNotAlive is a waitStatus check for two nodes: each sees the
// other as anything but alive.
func otherNotAlive(i int, s *status) error {
	return seesNotAlive(1-i)(i, s)
}

// seesNotAlive is a waitStatus check: member j is seen as anything but
// alive.
func seesNotAlive(j int) func(i int, s *status) error {
	return func(_ int, s *status) error {
		name := testbed.NodeName(j)
		m, ok := s.member(name)
		if !ok || m.State == "alive" {
			return fmt.Errorf("member %s: %+v, want it seen not alive", name, m)
		}
		return nil
	}
}

// reconfigure writes o to every node and has every running daemon reload
// it.
func (c *cluster) reconfigure(o testbed.ClusterOpts) {
	c.t.Helper()
	c.configure(o)
	for i := range c.nodes {
		if err := c.running(i).Signal(syscall.SIGHUP); err != nil {
			c.t.Fatalf("node %d: SIGHUP: %v", i, err)
		}
	}
}

// monTarget is node i's scrape target, the instance label Prometheus
// gives its series.
func monTarget(i int) string { return testbed.NodeName(i) + ":9650" }

// scrapeAll returns what Prometheus stores from scraping the nodes in up
// (havip's own series) and failing to scrape the others: up is 1 for the
// first, 0 for the second.
func (c *cluster) scrapeAll(up []int) []monitoring.Sample {
	c.t.Helper()
	var out []monitoring.Sample
	for i := range c.nodes {
		target := map[string]string{"job": "havip", "cluster": monCluster, "instance": monTarget(i)}
		if !slices.Contains(up, i) {
			out = append(out, monitoring.Sample{Name: "up", Labels: target, Value: 0})
			continue
		}
		out = append(out, monitoring.Sample{Name: "up", Labels: target, Value: 1})
		for _, s := range monitoring.Scraped(c.metrics(i), target) {
			if strings.HasPrefix(s.Name, "havip_") {
				out = append(out, s)
			}
		}
	}
	return out
}

// checkQueries fails for every series, label or value that a query of the
// rules or the dashboard names and the daemons did not export.
func checkQueries(t *testing.T, e monitoring.Exported) {
	t.Helper()
	rules, err := monitoring.ReadRules(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	panels, err := monitoring.ReadDashboard(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range append(rules.Queries, panels...) {
		for _, p := range e.Problems(q, rules.Recorded) {
			t.Error(p)
		}
	}
}

// promtool's unit test file (promtool test rules).
type ruleTests struct {
	RuleFiles          []string   `yaml:"rule_files"`
	EvaluationInterval string     `yaml:"evaluation_interval"`
	Tests              []ruleTest `yaml:"tests"`
}

type ruleTest struct {
	Interval    string        `yaml:"interval"`
	InputSeries []inputSeries `yaml:"input_series"`
	ExprTests   []exprTest    `yaml:"promql_expr_test"`
}

type inputSeries struct {
	Series string `yaml:"series"`
	Values string `yaml:"values"`
}

type exprTest struct {
	Expr       string      `yaml:"expr"`
	EvalTime   string      `yaml:"eval_time"`
	ExpSamples []expSample `yaml:"exp_samples"`
}

type expSample struct {
	Labels string  `yaml:"labels"`
	Value  float64 `yaml:"value"`
}

// firing lists the alerts firing, one sample per alert and instance or
// member.
const firing = `count by (alertname, instance, member) (ALERTS{alertstate="firing"})`

// runPromtool evaluates the rules on s's samples, held for 10 minutes,
// and checks which alerts fire after 5.
func runPromtool(t *testing.T, promtool string, s situation) {
	rules, err := filepath.Abs(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	rt := ruleTest{Interval: "15s", ExprTests: []exprTest{{Expr: firing, EvalTime: "5m", ExpSamples: []expSample{}}}}
	for _, sample := range s.samples {
		v := strconv.FormatFloat(sample.Value, 'g', -1, 64)
		rt.InputSeries = append(rt.InputSeries, inputSeries{Series: sample.String(), Values: v + "x40"})
	}
	for _, a := range s.alerts {
		name, label, _ := strings.Cut(a, " ")
		ls := fmt.Sprintf("{alertname=%q}", name)
		if k, v, ok := strings.Cut(label, "="); ok {
			ls = fmt.Sprintf("{alertname=%q,%s=%q}", name, k, v)
		}
		rt.ExprTests[0].ExpSamples = append(rt.ExprTests[0].ExpSamples, expSample{Labels: ls, Value: 1})
	}
	data, err := yaml.Marshal(ruleTests{RuleFiles: []string{rules}, EvaluationInterval: "15s", Tests: []ruleTest{rt}})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "situation.test.yml")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), cmdWait)
	defer cancel()
	out, err := exec.CommandContext(ctx, promtool, "test", "rules", file).CombinedOutput()
	if err != nil {
		t.Errorf("%s: want firing %v: promtool test rules: %v\n%s", s.name, s.alerts, err, out)
	}
}
