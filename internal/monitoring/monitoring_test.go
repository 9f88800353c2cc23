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
)

const (
	rulesFile     = "../../examples/prometheus/havip-rules.yml"
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
		{`havip_instance_holdin`, "havip exports no series havip_instance_holdin"},
		{`havip_instance_state{stat="MASTER"}`, "havip_instance_state has no label stat (it has exported_instance, instance, job, state)"},
		{`havip_instance_state{state="master"}`, `havip_instance_state never had state="master" (values seen: BACKUP, MASTER)`},
		{`havip_instance_state{state=~"FAULT|INIT"}`, `havip_instance_state never had state=~"FAULT|INIT"`},
		{`sum by (exported_instanc) (havip_instance_holding)`, "label exported_instanc: no series havip exports has it"},
		{`havip_instance_holding * on (instanc) havip_instance_holding`, "label instanc: no series havip exports has it"},
		{`label_values(havip_instance_state, clustr)`, "label clustr: no series havip exports has it"},
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
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Scraped (-want +got):\n%s", diff)
	}
}
