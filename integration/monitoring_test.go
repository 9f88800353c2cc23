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

// TestMonitoring runs two daemons with metrics, a track script, notify
// hooks and a cloud binding through the exec provider through several
// situations (a failing check, a partition with and without quorum, a
// cloud binding that fails and one that hangs, a stopped node, a drained
// one) and scrapes both in each. Every series, label and label value
// that the rules and the dashboard in examples/ ask for must be among
// those scraped; and the rules, evaluated by promtool on what was
// scraped, must fire the situation's alerts and no other. The exec
// provider cannot read its binding back, so a binding found pointing
// elsewhere (havip_cloud_agrees 0) is tested by promtool only
// (examples/prometheus/havip-rules.test.yml).
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
	o.Extra = execCloud(c.dir)
	c.configure(o)
	c.startAll()
	c.waitHolders(vip, 0)
	c.waitStatus(allNodes(2), expectRole("web", 0))
	c.waitCloud(0, cloudBound)

	var sits []situation
	record := func(name string, up []int, alerts ...string) {
		t.Helper()
		sits = append(sits, situation{name, c.scrapeAll(up), alerts})
	}
	node := func(i int) string { return "instance=" + monTarget(i) }
	member := func(i int) string { return "member=" + testbed.NodeName(i) }
	maintenance := func(i int, onOff string) {
		t.Helper()
		if _, stderr, err := c.havip(i, "maintenance", onOff, "--socket", c.nodes[i].socket); err != nil {
			t.Fatalf("node %d: havip maintenance %s: %v: %s", i, onOff, err, stderr)
		}
	}

	record("healthy", []int{0, 1})

	c.setFlag(0, true)
	c.waitHolders(vip, 1)
	c.waitStatus([]int{0}, expectState("web", "FAULT"))
	c.waitCloud(1, cloudBound)
	record("node 0's check fails", []int{0, 1}, "HavipInstanceFault "+node(0), "HavipTrackScriptFailing "+node(0))
	c.setFlag(0, false)
	c.waitHolders(vip, 0)

	if err := c.net.Partition([]int{0}, []int{1}); err != nil {
		t.Fatal(err)
	}
	c.waitHolders(vip, 0, 1)
	c.waitStatus(allNodes(2), otherNotAlive)
	c.waitCloud(0, cloudBound)
	c.waitCloud(1, cloudBound)
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

	// Node 1 takes over while the cloud command fails.
	cloudFlag(t, c.dir, "fail", true)
	maintenance(0, "on")
	c.waitHolders(vip, 1)
	c.waitCloud(1, cloudFailing)
	record("node 1's cloud binding fails", []int{0, 1}, "HavipCloudBindingDisagrees "+node(1), "HavipCloudBindingFailing "+node(1))

	// Node 0 takes it back while the cloud command hangs.
	cloudFlag(t, c.dir, "fail", false)
	cloudFlag(t, c.dir, "hang", true)
	maintenance(0, "off")
	c.waitHolders(vip, 0)
	waitFile(t, filepath.Join(c.dir, "cloud.hung"))
	c.waitCloud(0, cloudUnbound)
	c.waitCloud(1, cloudUnbound)
	record("node 0's cloud binding hangs", []int{0, 1}, "HavipCloudBindingDisagrees "+node(0))
	cloudFlag(t, c.dir, "hang", false)
	c.waitCloud(0, cloudBound)

	if code := c.stop(0); code != 0 {
		t.Fatalf("node 0 exited %d", code)
	}
	c.waitHolders(vip, 1)
	c.waitStatus([]int{1}, seesNotAlive(0))
	c.waitCloud(1, cloudBound)
	record("node 0 stopped", []int{1}, "HavipMemberDown "+member(0), "HavipMetricsDown "+node(0))

	maintenance(1, "on")
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

// execCloud is a [cloud] table for the exec provider whose acquire
// command, run in dir, waits while the file cloud.hang exists (touching
// cloud.hung meanwhile), then fails if cloud.fail exists.
func execCloud(dir string) string {
	return fmt.Sprintf(`[cloud]
provider = "exec"
acquire = ['/bin/sh', '-c', 'while test -e "$0/cloud.hang"; do touch "$0/cloud.hung"; sleep 0.05; done; test ! -e "$0/cloud.fail"', '%s']
timeout = "1m"
retries = 0
`, dir)
}

// cloudFlag creates (on) or removes the file dir/cloud.<name> that
// execCloud's command reads.
func cloudFlag(t *testing.T, dir, name string, on bool) {
	t.Helper()
	p := filepath.Join(dir, "cloud."+name)
	if on {
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	} else if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
}

// waitFile waits until the file p exists.
func waitFile(t *testing.T, p string) {
	t.Helper()
	if err := waitFor(func() error { _, err := os.Stat(p); return err }); err != nil {
		t.Fatal(err)
	}
}

// Values of instance web's cloud series that waitCloud waits for.
var (
	cloudBound   = map[string]float64{"havip_cloud_bound": 1, "havip_cloud_agrees": 1, "havip_cloud_error": 0}
	cloudFailing = map[string]float64{"havip_cloud_bound": 0, "havip_cloud_error": 1}
	// cloudUnbound: a binding under way, or released.
	cloudUnbound = map[string]float64{"havip_cloud_bound": 0, "havip_cloud_error": 0}
)

// waitCloud waits until node i's /metrics has instance web's cloud
// series at the values in want.
func (c *cluster) waitCloud(i int, want map[string]float64) {
	c.t.Helper()
	err := waitFor(func() error {
		fams := c.metrics(i)
		for name, v := range want {
			if got := value(fams, name, map[string]string{"instance": "web"}); got != v {
				return fmt.Errorf("node %d: %s is %v, want %v", i, name, got, v)
			}
		}
		return nil
	})
	if err != nil {
		c.t.Fatal(err)
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
