package monitoring

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"
)

// Query is one PromQL expression and where it was found.
type Query struct {
	Where string
	Expr  string
}

// Rules are what a Prometheus rule file holds.
type Rules struct {
	Queries []Query
	// Recorded are the names the recording rules write.
	Recorded []string
	// Alerts are the alerting rules' names, in file order.
	Alerts []string
}

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Record string `yaml:"record"`
			Alert  string `yaml:"alert"`
			Expr   string `yaml:"expr"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// ReadRules reads a Prometheus rule file. It checks only what it reads:
// promtool check rules checks the rest.
func ReadRules(path string) (Rules, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Rules{}, err
	}
	var f ruleFile
	if err := yaml.Unmarshal(data, &f); err != nil {
		return Rules{}, fmt.Errorf("%s: %w", path, err)
	}
	var r Rules
	for _, g := range f.Groups {
		for _, rule := range g.Rules {
			where := fmt.Sprintf("%s: group %s: record %s", path, g.Name, rule.Record)
			if rule.Alert != "" {
				where = fmt.Sprintf("%s: group %s: alert %s", path, g.Name, rule.Alert)
				r.Alerts = append(r.Alerts, rule.Alert)
			} else {
				r.Recorded = append(r.Recorded, rule.Record)
			}
			r.Queries = append(r.Queries, Query{Where: where, Expr: rule.Expr})
		}
	}
	if len(r.Queries) == 0 {
		return Rules{}, fmt.Errorf("%s: no rules", path)
	}
	return r, nil
}

// dashboardQueries is the part of a dashboard's JSON that holds queries.
type dashboardQueries struct {
	Panels     []panelQueries `json:"panels"`
	Templating struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

type panelQueries struct {
	Title   string `json:"title"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
	// Panels are a collapsed row's.
	Panels []panelQueries `json:"panels"`
}

// ReadDashboard reads a Grafana dashboard, checks it against Grafana's
// dashboard schema (every field known and of its type, the required ones
// present, as Grafana exports them) and returns the queries of its panels
// and its query variables.
func ReadDashboard(path string) ([]Query, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if err := validDashboard(data); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var d dashboardQueries
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var qs []Query
	var walk func([]panelQueries)
	walk = func(ps []panelQueries) {
		for _, p := range ps {
			for _, t := range p.Targets {
				qs = append(qs, Query{Where: fmt.Sprintf("%s: panel %q: query %s", path, p.Title, t.RefID), Expr: t.Expr})
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		q, ok := v.Query.(string)
		if !ok {
			return nil, fmt.Errorf("%s: variable %s: the query is not a string", path, v.Name)
		}
		qs = append(qs, Query{Where: fmt.Sprintf("%s: variable %s", path, v.Name), Expr: q})
	}
	if len(qs) == 0 {
		return nil, fmt.Errorf("%s: no queries", path)
	}
	return qs, nil
}

// validDashboard checks data against the dashboard schema of Grafana's
// foundation SDK, with the panel types Grafana ships.
func validDashboard(data []byte) error {
	plugins.RegisterDefaultPlugins()
	var d dashboard.Dashboard
	err := d.UnmarshalJSONStrict(data)
	// The SDK returns its error list typed even when it is empty.
	if be := (cog.BuildErrors)(nil); errors.As(err, &be) && len(be) == 0 {
		err = nil
	}
	if err != nil {
		return err
	}
	return d.Validate()
}

// grafanaVar is a Grafana variable in a query: $name, ${name} or
// ${name:format}.
var grafanaVar = regexp.MustCompile(`\$(\w+)|\$\{(\w+)(:\w+)?\}`)

// labelValues is the variable query label_values(selector, label).
var labelValues = regexp.MustCompile(`^\s*label_values\((.*),\s*(\w+)\s*\)\s*$`)

// promQL returns the PromQL of q: Grafana's interval and range variables
// become 5m, every other variable (used in label matchers) .*, and
// label_values(selector, label) the selector. label is the label that
// label_values reads, if any.
func promQL(q Query) (expr, label string) {
	expr = grafanaVar.ReplaceAllStringFunc(q.Expr, func(v string) string {
		m := grafanaVar.FindStringSubmatch(v)
		switch m[1] + m[2] {
		case "__interval", "__rate_interval", "__range":
			return "5m"
		}
		return ".*"
	})
	if m := labelValues.FindStringSubmatch(expr); m != nil {
		return m[1], m[2]
	}
	return strings.TrimSpace(expr), ""
}

// Parse parses q as PromQL, Grafana's variables replaced as promQL does;
// label is the label a label_values query reads.
func (q Query) Parse() (expr parser.Expr, label string, err error) {
	src, label := promQL(q)
	expr, err = parser.NewParser(parser.Options{}).ParseExpr(src)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", q.Where, err)
	}
	return expr, label, nil
}
