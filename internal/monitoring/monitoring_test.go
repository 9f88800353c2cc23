package monitoring

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"
)

const (
	rulesFile     = "../../examples/prometheus/havip-rules.yml"
	ruleTestsFile = "../../examples/prometheus/havip-rules.test.yml"
	dashboardFile = "../../examples/grafana/havip.json"
	monitoringDoc = "../../docs/monitoring.md"
)

func TestRulesParse(t *testing.T) {
	r, err := ReadRules(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range r.Queries {
		if _, _, err := q.Parse(); err != nil {
			t.Error(err)
		}
	}
	if len(r.Alerts) == 0 || len(r.Recorded) == 0 {
		t.Errorf("%d alerts and %d recording rules, want some of each", len(r.Alerts), len(r.Recorded))
	}
}

// TestEveryAlertFires: every alert of the rules has a promtool test in
// which it fires. A test that expects silence alone would pass for an
// alert whose expression never matches anything.
func TestEveryAlertFires(t *testing.T) {
	r, err := ReadRules(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	tests, err := ReadRuleTests(ruleTestsFile)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(tests.RuleFiles, filepath.Base(rulesFile)) {
		t.Errorf("%s tests %q, not %s", ruleTestsFile, tests.RuleFiles, filepath.Base(rulesFile))
	}
	for _, p := range r.UntestedAlerts(tests) {
		t.Errorf("%s: %s", ruleTestsFile, p)
	}
}

func TestUntestedAlerts(t *testing.T) {
	r := Rules{Alerts: []string{"Fires", "Quiet", "Untested"}}
	tests := RuleTests{}
	if err := yaml.Unmarshal([]byte(`
tests:
  - alert_rule_test:
      - {eval_time: 1m, alertname: Fires, exp_alerts: [{exp_labels: {severity: warning}}]}
      - {eval_time: 1m, alertname: Quiet, exp_alerts: []}
      - {eval_time: 1m, alertname: Typo, exp_alerts: []}
`), &tests); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"tests[0]: alert_rule_test of Typo at 1m: no such alert",
		"alert Quiet: no alert_rule_test expects it to fire",
		"alert Untested: no alert_rule_test expects it to fire",
	}
	if diff := cmp.Diff(want, r.UntestedAlerts(tests)); diff != "" {
		t.Errorf("UntestedAlerts (-want +got):\n%s", diff)
	}
}

// TestRecordingRuleNames: each recording rule's level (the part of its
// name before the first colon) lists the labels it aggregates by, in
// order, as Problems assumes of a recorded series.
func TestRecordingRuleNames(t *testing.T) {
	r, err := ReadRules(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	for i, name := range r.Recorded {
		q := r.Queries[slices.IndexFunc(r.Queries, func(q Query) bool { return strings.HasSuffix(q.Where, "record "+name) })]
		expr, _, err := q.Parse()
		if err != nil {
			t.Fatal(err)
		}
		agg, ok := expr.(*parser.AggregateExpr)
		if !ok || agg.Without {
			t.Errorf("record %s: %s is no aggregation by labels", name, expr)
			continue
		}
		level, _, _ := strings.Cut(name, ":")
		if want := strings.Join(agg.Grouping, "_"); level != want {
			t.Errorf("recorded[%d]: %s: level %q, want %q (the labels of by (...))", i, name, level, want)
		}
	}
}

// TestAlertsDocumented: docs/monitoring.md has a section, saying what it
// means and what to do, for each alert and for no other.
func TestAlertsDocumented(t *testing.T) {
	r, err := ReadRules(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(monitoringDoc)
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	for _, m := range regexp.MustCompile(`(?m)^### (Havip\w+)$`).FindAllStringSubmatch(string(doc), -1) {
		documented = append(documented, m[1])
	}
	if diff := cmp.Diff(r.Alerts, documented); diff != "" {
		t.Errorf("alerts in %s (-) against sections in %s (+):\n%s", rulesFile, monitoringDoc, diff)
	}
}

func TestDashboardParses(t *testing.T) {
	qs, err := ReadDashboard(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range qs {
		if _, _, err := q.Parse(); err != nil {
			t.Error(err)
		}
	}
}

// TestDashboardSchema: a field Grafana does not know, or of the wrong
// type, is refused with its path.
func TestDashboardSchema(t *testing.T) {
	good, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, old, new, want string }{
		{"unknown field", `"legendFormat"`, `"legendFormatt"`, "unexpected field 'legendFormatt'"},
		{"wrong type", `"refresh": "30s"`, `"refresh": 30`, "refresh"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(string(good), tc.old) {
				t.Fatalf("%s has no %s", dashboardFile, tc.old)
			}
			bad := filepath.Join(t.TempDir(), "bad.json")
			if err := os.WriteFile(bad, []byte(strings.Replace(string(good), tc.old, tc.new, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := ReadDashboard(bad)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ReadDashboard with %s: %v, want an error naming %s", tc.new, err, tc.want)
			}
		})
	}
}

// scrape is a few series as the daemon exports them.
const scrape = `# TYPE havip_instance_state gauge
havip_instance_state{instance="web",state="BACKUP"} 0
havip_instance_state{instance="web",state="MASTER"} 1
# TYPE havip_instance_holding gauge
havip_instance_holding{instance="web"} 1
# TYPE havip_interface_up gauge
havip_interface_up{interface="eth0"} 1
# TYPE havip_failover_duration_seconds histogram
havip_failover_duration_seconds_bucket{instance="web",le="0.5"} 1
havip_failover_duration_seconds_bucket{instance="web",le="+Inf"} 1
havip_failover_duration_seconds_sum{instance="web"} 0.01
havip_failover_duration_seconds_count{instance="web"} 1
`

func parseScrape(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(scrape))
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

func exported(t *testing.T) Exported {
	t.Helper()
	return NewExported(Scraped(parseScrape(t), map[string]string{"job": "havip", "instance": "192.168.0.11:9650"}))
}

func TestProblems(t *testing.T) {
	e := exported(t)
	recorded := []string{"cluster_exported_instance:havip_instance_holding:sum"}
	for _, tc := range []struct{ expr, want string }{
		{`sum by (cluster, exported_instance) (havip_instance_holding)`, ""},
		{`havip_instance_state{exported_instance="web", state="MASTER"} == 1`, ""},
		{`histogram_quantile(0.9, sum by (le) (rate(havip_failover_duration_seconds_bucket{le="+Inf"}[5m])))`, ""},
		{`havip_failover_duration_seconds_count / havip_failover_duration_seconds_sum`, ""},
		{`cluster_exported_instance:havip_instance_holding:sum > 1`, ""},
		{`up{job="havip"} == 0`, ""},
		{`havip_instance_state{state=~"FAULT|MASTER"}`, ""},
		{`increase(havip_instance_holding{exported_instance=~"$havip_instance"}[$__rate_interval])`, ""},
		{`label_values(havip_instance_state{cluster=~"${cluster}"}, exported_instance)`, ""},
		{`havip_instance_holding * on (exported_instance) group_left (state) havip_instance_state`, ""},
		{`sum by (state) (havip_instance_holding * on (exported_instance) group_left (state) havip_instance_state)`, ""},
		{`sum by (state) (havip_instance_holding * on (exported_instance) group_right havip_instance_state)`, ""},
		{`havip_instance_holding and ignoring (state) havip_instance_state{state="MASTER"}`, ""},
		{`sum by (s) (label_replace(havip_instance_holding, "s", "$1", "exported_instance", "(.*)"))`, ""},
		{`sum by (value) (count_values("value", havip_instance_holding))`, ""},
		{`sum by (state) (topk(1, havip_instance_state))`, ""},
		{`sum by (exported_instance) (cluster_exported_instance:havip_instance_holding:sum)`, ""},
		{`sum by (interface) (havip_instance_holding or havip_interface_up)`, ""},
		{`havip_instance_holdin`, "havip exports no series havip_instance_holdin"},
		{`havip_instance_state{stat="MASTER"}`, "havip_instance_state has no label stat (it has exported_instance, instance, job, state)"},
		{`havip_instance_state{state="master"}`, `havip_instance_state never had state="master" (values seen: BACKUP, MASTER)`},
		{`havip_instance_state{state=~"FAULT|INIT"}`, `havip_instance_state never had state=~"FAULT|INIT"`},
		{`sum by (exported_instanc) (havip_instance_holding)`, "by (exported_instanc): label exported_instanc: havip_instance_holding has no such label"},
		{`havip_instance_holding * on (instanc) havip_instance_holding`, "on (instanc): label instanc: the left side (havip_instance_holding) has no such label"},
		{`label_values(havip_instance_state, clustr)`, "label_values: label clustr: havip_instance_state has no such label"},
		// Labels that exist, but on another series than the one at hand.
		{`sum by (state) (havip_instance_holding)`, "by (state): label state: havip_instance_holding has no such label (its labels: cluster, exported_instance, instance, job)"},
		{`sum by (interface) (havip_instance_holding or havip_instance_state)`, "by (interface): label interface: havip_instance_holding or havip_instance_state has no such label"},
		{`sum by (exported_instance, interface) (havip_interface_up)`, "by (exported_instance, interface): label exported_instance: havip_interface_up has no such label"},
		{`sum without (stat) (havip_instance_state)`, "without (stat): label stat: havip_instance_state has no such label"},
		{`label_values(havip_instance_holding, state)`, "label_values: label state: havip_instance_holding has no such label"},
		{`havip_instance_holding * on (exported_instance, state) havip_instance_state`, "on (exported_instance, state): label state: the left side (havip_instance_holding) has no such label"},
		{`havip_instance_holding * on (exported_instance) group_left (le) havip_instance_state`, "group_left (le): label le: the right side (havip_instance_state) has no such label"},
		{`havip_instance_holding and ignoring (interface) havip_instance_state`, "ignoring (interface): label interface: havip_instance_holding or havip_instance_state has no such label"},
		{`label_replace(havip_instance_holding, "s", "$1", "state", "(.*)")`, "label_replace: label state: havip_instance_holding has no such label"},
		// An inner aggregation or matching drops labels.
		{`sum by (state) (max by (exported_instance) (havip_instance_state))`, "by (state): label state: havip_instance_state has no such label (its labels: exported_instance)"},
		{`sum by (state) (havip_instance_state * on (exported_instance) havip_instance_holding)`, "by (state): label state: havip_instance_state or havip_instance_holding has no such label (its labels: exported_instance)"},
		{`sum by (le) (histogram_quantile(0.9, rate(havip_failover_duration_seconds_bucket[5m])))`, "by (le): label le"},
		// A recorded series has the labels of its name's level.
		{`sum by (instance) (cluster_exported_instance:havip_instance_holding:sum)`, "by (instance): label instance: cluster_exported_instance:havip_instance_holding:sum has no such label (its labels: cluster, exported_instance)"},
		{`sum(`, "unclosed left parenthesis"},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			got := e.Problems(Query{Where: "test", Expr: tc.expr}, recorded)
			if tc.want == "" {
				if len(got) > 0 {
					t.Errorf("problems: %q, want none", got)
				}
				return
			}
			if !slices.ContainsFunc(got, func(p string) bool { return strings.Contains(p, tc.want) }) {
				t.Errorf("problems: %q, want one saying %q", got, tc.want)
			}
		})
	}
}

// TestScraped: the daemon's instance label is stored as
// exported_instance, and histograms as their three series.
func TestScraped(t *testing.T) {
	var got []string
	for _, s := range Scraped(parseScrape(t), map[string]string{"job": "havip", "instance": "a:9650"}) {
		got = append(got, s.String())
	}
	want := []string{
		`havip_failover_duration_seconds_sum{exported_instance="web",instance="a:9650",job="havip"}`,
		`havip_failover_duration_seconds_count{exported_instance="web",instance="a:9650",job="havip"}`,
		`havip_failover_duration_seconds_bucket{exported_instance="web",instance="a:9650",job="havip",le="0.5"}`,
		`havip_failover_duration_seconds_bucket{exported_instance="web",instance="a:9650",job="havip",le="+Inf"}`,
		`havip_instance_holding{exported_instance="web",instance="a:9650",job="havip"}`,
		`havip_instance_state{exported_instance="web",instance="a:9650",job="havip",state="BACKUP"}`,
		`havip_instance_state{exported_instance="web",instance="a:9650",job="havip",state="MASTER"}`,
		`havip_interface_up{instance="a:9650",interface="eth0",job="havip"}`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Scraped (-want +got):\n%s", diff)
	}
}
