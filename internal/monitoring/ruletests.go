package monitoring

import (
	"fmt"
	"os"
	"slices"

	"go.yaml.in/yaml/v3"
)

// RuleTests is the part of a promtool rule test file (promtool test
// rules) that says which alerts the tests evaluate.
type RuleTests struct {
	RuleFiles []string `yaml:"rule_files"`
	Tests     []struct {
		AlertRuleTests []AlertRuleTest `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

// AlertRuleTest is one alert_rule_test: the alerts expected to fire
// (none: the alert must stay quiet) at one evaluation time.
type AlertRuleTest struct {
	EvalTime  string `yaml:"eval_time"`
	AlertName string `yaml:"alertname"`
	ExpAlerts []struct {
		ExpLabels map[string]string `yaml:"exp_labels"`
	} `yaml:"exp_alerts"`
}

// ReadRuleTests reads a promtool rule test file.
func ReadRuleTests(path string) (RuleTests, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return RuleTests{}, err
	}
	var t RuleTests
	if err := yaml.Unmarshal(data, &t); err != nil {
		return RuleTests{}, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// UntestedAlerts lists the alerts of r that no test of t expects to
// fire (a test that only expects silence passes for a rule that never
// fires), and the alerts t tests that r does not have.
func (r Rules) UntestedAlerts(t RuleTests) []string {
	fires := map[string]bool{}
	var problems []string
	for i, tc := range t.Tests {
		for _, a := range tc.AlertRuleTests {
			if !slices.Contains(r.Alerts, a.AlertName) {
				problems = append(problems, fmt.Sprintf("tests[%d]: alert_rule_test of %s at %s: no such alert", i, a.AlertName, a.EvalTime))
			}
			if len(a.ExpAlerts) > 0 {
				fires[a.AlertName] = true
			}
		}
	}
	for _, a := range r.Alerts {
		if !fires[a] {
			problems = append(problems, fmt.Sprintf("alert %s: no alert_rule_test expects it to fire", a))
		}
	}
	return problems
}
