package monitoring

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// Exported is what a set of scrapes showed: for each series name, the
// values seen for each of its labels.
type Exported map[string]map[string]map[string]bool

// NewExported collects samples.
func NewExported(samples []Sample) Exported {
	e := Exported{}
	for _, s := range samples {
		ls := e[s.Name]
		if ls == nil {
			ls = map[string]map[string]bool{}
			e[s.Name] = ls
		}
		for k, v := range s.Labels {
			if ls[k] == nil {
				ls[k] = map[string]bool{}
			}
			ls[k][v] = true
		}
	}
	return e
}

// Problems lists what in q does not match the series exported: a series
// name that is neither exported, nor recorded by a rule, nor made by
// Prometheus; a label a selector or a grouping names that no such series
// has; a label value a selector asks for that was never seen.
func (e Exported) Problems(q Query, recorded []string) []string {
	expr, readLabel, err := q.Parse()
	if err != nil {
		return []string{err.Error()}
	}
	var problems []string
	report := func(format string, args ...any) {
		problems = append(problems, q.Where+": "+fmt.Sprintf(format, args...))
	}
	known := e.labelNames()
	checkLabel := func(l string) {
		if l != "" && l != labels.MetricName && !known[l] && !slices.Contains(TargetLabels, l) {
			report("label %s: no series havip exports has it", l)
		}
	}
	checkLabel(readLabel)
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		switch n := n.(type) {
		case *parser.VectorSelector:
			problems = append(problems, e.selectorProblems(q.Where, n, recorded)...)
		case *parser.AggregateExpr:
			for _, l := range n.Grouping {
				checkLabel(l)
			}
		case *parser.BinaryExpr:
			if n.VectorMatching != nil {
				for _, l := range append(slices.Clone(n.VectorMatching.MatchingLabels), n.VectorMatching.Include...) {
					checkLabel(l)
				}
			}
		}
		return nil
	})
	return problems
}

// selectorProblems checks one selector's name, labels and values.
func (e Exported) selectorProblems(where string, vs *parser.VectorSelector, recorded []string) []string {
	var problems []string
	report := func(format string, args ...any) {
		problems = append(problems, fmt.Sprintf("%s: %s: ", where, vs)+fmt.Sprintf(format, args...))
	}
	switch {
	case vs.Name == "":
		report("no series name")
		return problems
	case slices.Contains(recorded, vs.Name), slices.Contains(PrometheusMade, vs.Name):
		return nil
	}
	series, ok := e[vs.Name]
	if !ok {
		report("havip exports no series %s", vs.Name)
		return problems
	}
	for _, m := range vs.LabelMatchers {
		if m.Name == labels.MetricName || slices.Contains(TargetLabels, m.Name) {
			continue
		}
		values, ok := series[m.Name]
		switch {
		case !ok:
			report("%s has no label %s (it has %s)", vs.Name, m.Name, strings.Join(slices.Sorted(maps.Keys(series)), ", "))
		case (m.Type == labels.MatchEqual || m.Type == labels.MatchRegexp) && !anyMatches(m, values):
			report("%s never had %s (values seen: %s)", vs.Name, m, strings.Join(slices.Sorted(maps.Keys(values)), ", "))
		}
	}
	return problems
}

func anyMatches(m *labels.Matcher, values map[string]bool) bool {
	for v := range values {
		if m.Matches(v) {
			return true
		}
	}
	return false
}

// labelNames are every label of every exported series.
func (e Exported) labelNames() map[string]bool {
	names := map[string]bool{}
	for _, ls := range e {
		for l := range ls {
			names[l] = true
		}
	}
	return names
}
