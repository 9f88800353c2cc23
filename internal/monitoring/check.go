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
// Prometheus; a label a selector names that its series does not have; a
// label value a selector asks for that was never seen; a label that an
// aggregation groups by, a vector matching matches on or copies, or
// label_values reads, that the series it applies to do not have.
//
// The labels of a recorded series are those its name's level lists
// (level:metric:operations, Prometheus' naming convention; the rules'
// test holds havip's recording rules to it); where the level does not
// spell labels known here, any label passes.
func (e Exported) Problems(q Query, recorded []string) []string {
	expr, readLabel, err := q.Parse()
	if err != nil {
		return []string{err.Error()}
	}
	c := &checker{e: e, recorded: recorded, where: q.Where, known: e.labelNames()}
	for _, l := range TargetLabels {
		c.known[l] = true
	}
	got := c.labels(expr)
	if readLabel != "" && !got.has(readLabel) {
		c.missing("label_values", readLabel, got)
	}
	return c.problems
}

// labelSet is what Problems knows of the labels an expression's series
// carry: the names, and the series they come from. any is set where
// they are not known.
type labelSet struct {
	names map[string]bool
	any   bool
	from  []string
}

func newLabelSet(names []string, from ...string) labelSet {
	s := labelSet{names: map[string]bool{}, from: from}
	for _, n := range names {
		s.names[n] = true
	}
	return s
}

func (s labelSet) has(l string) bool { return s.any || s.names[l] || l == labels.MetricName }

func (s labelSet) union(o labelSet) labelSet {
	u := labelSet{names: maps.Clone(s.names), any: s.any || o.any, from: slices.Clone(s.from)}
	if u.names == nil {
		u.names = map[string]bool{}
	}
	maps.Copy(u.names, o.names)
	for _, f := range o.from {
		if !slices.Contains(u.from, f) {
			u.from = append(u.from, f)
		}
	}
	return u
}

// only keeps the labels in keep, as `by` and `on` do.
func (s labelSet) only(keep []string) labelSet {
	return newLabelSet(keep, s.from...)
}

// without drops the labels in drop, as `without` and `ignoring` do.
func (s labelSet) without(drop ...string) labelSet {
	w := labelSet{names: maps.Clone(s.names), any: s.any, from: s.from}
	for _, d := range drop {
		delete(w.names, d)
	}
	return w
}

func (s labelSet) with(add ...string) labelSet {
	return s.union(newLabelSet(add))
}

// describe names the series of s for a message.
func (s labelSet) describe() string {
	if len(s.from) == 0 {
		return "the expression"
	}
	return strings.Join(s.from, " or ")
}

func (s labelSet) list() string {
	if len(s.names) == 0 {
		return "none"
	}
	return strings.Join(slices.Sorted(maps.Keys(s.names)), ", ")
}

// checker walks one query, collecting its problems.
type checker struct {
	e        Exported
	recorded []string
	where    string
	// known are every label of every exported series and the target
	// labels: what a recorded series' level may list.
	known    map[string]bool
	problems []string
}

func (c *checker) report(format string, args ...any) {
	c.problems = append(c.problems, c.where+": "+fmt.Sprintf(format, args...))
}

// missing reports label l, which clause names, absent from in.
func (c *checker) missing(clause, l string, in labelSet) {
	c.report("%s: label %s: %s has no such label (its labels: %s)", clause, l, in.describe(), in.list())
}

// labels checks n and returns the labels of its result.
func (c *checker) labels(n parser.Node) labelSet {
	switch n := n.(type) {
	case *parser.VectorSelector:
		c.problems = append(c.problems, c.e.selectorProblems(c.where, n, c.recorded)...)
		return c.selectorLabels(n)
	case *parser.MatrixSelector:
		return c.labels(n.VectorSelector)
	case *parser.SubqueryExpr:
		return c.labels(n.Expr)
	case *parser.ParenExpr:
		return c.labels(n.Expr)
	case *parser.UnaryExpr:
		return c.labels(n.Expr)
	case *parser.StepInvariantExpr:
		return c.labels(n.Expr)
	case *parser.NumberLiteral, *parser.StringLiteral:
		return newLabelSet(nil)
	case *parser.AggregateExpr:
		return c.aggregateLabels(n)
	case *parser.Call:
		return c.callLabels(n)
	case *parser.BinaryExpr:
		return c.binaryLabels(n)
	}
	// Whatever else: check what it holds; its labels are not known.
	for _, child := range parser.Children(n) {
		c.labels(child)
	}
	return labelSet{any: true}
}

// selectorLabels are the labels of a selector's series.
func (c *checker) selectorLabels(vs *parser.VectorSelector) labelSet {
	switch {
	case slices.Contains(c.recorded, vs.Name):
		return c.recordedLabels(vs.Name)
	case slices.Contains(PrometheusMade, vs.Name):
		return newLabelSet(TargetLabels, vs.Name)
	}
	series, ok := c.e[vs.Name]
	if !ok {
		// Reported by selectorProblems.
		return labelSet{any: true}
	}
	return newLabelSet(TargetLabels, vs.Name).with(slices.Collect(maps.Keys(series))...)
}

// recordedLabels are the labels a recorded series' level lists:
// cluster_exported_instance:havip_instance_holding:sum has cluster and
// exported_instance.
func (c *checker) recordedLabels(name string) labelSet {
	level, _, ok := strings.Cut(name, ":")
	if !ok {
		return labelSet{any: true, from: []string{name}}
	}
	names, ok := splitLevel(level, c.known)
	if !ok {
		return labelSet{any: true, from: []string{name}}
	}
	return newLabelSet(names, name)
}

// splitLevel splits a recording rule's level into known label names
// joined by "_" (label names have underscores of their own).
func splitLevel(level string, known map[string]bool) ([]string, bool) {
	if level == "" {
		return nil, true
	}
	// Longer names first: exported_instance before a label "exported".
	for i := len(level); i > 0; i-- {
		if i < len(level) && level[i] != '_' {
			continue
		}
		if !known[level[:i]] {
			continue
		}
		rest := strings.TrimPrefix(level[i:], "_")
		if i < len(level) && rest == "" {
			continue
		}
		if more, ok := splitLevel(rest, known); ok {
			return append([]string{level[:i]}, more...), true
		}
	}
	return nil, false
}

func (c *checker) aggregateLabels(n *parser.AggregateExpr) labelSet {
	if n.Param != nil {
		c.labels(n.Param)
	}
	in := c.labels(n.Expr)
	clause := "by"
	if n.Without {
		clause = "without"
	}
	clause = fmt.Sprintf("%s (%s)", clause, strings.Join(n.Grouping, ", "))
	for _, l := range n.Grouping {
		if !in.has(l) {
			c.missing(clause, l, in)
		}
	}
	var out labelSet
	switch {
	case n.Op == parser.TOPK, n.Op == parser.BOTTOMK, n.Op == parser.LIMITK, n.Op == parser.LIMIT_RATIO:
		// They pick series, which keep their labels.
		return in
	case n.Without:
		out = in.without(n.Grouping...)
	default:
		out = in.only(n.Grouping)
	}
	if s, ok := n.Param.(*parser.StringLiteral); ok && n.Op == parser.COUNT_VALUES {
		out = out.with(s.Val)
	}
	return out
}

func (c *checker) callLabels(n *parser.Call) labelSet {
	out := newLabelSet(nil)
	var args []labelSet
	for _, a := range n.Args {
		ls := c.labels(a)
		args = append(args, ls)
		if t := a.Type(); t == parser.ValueTypeVector || t == parser.ValueTypeMatrix {
			out = out.union(ls)
		}
	}
	str := func(i int) (string, bool) {
		if i >= len(n.Args) {
			return "", false
		}
		lit, ok := n.Args[i].(*parser.StringLiteral)
		if !ok {
			return "", false
		}
		return lit.Val, true
	}
	switch n.Func.Name {
	case "label_replace", "label_join":
		// label_replace(v, dst, replacement, src, regex);
		// label_join(v, dst, separator, src...).
		srcs := []int{3}
		if n.Func.Name == "label_join" {
			srcs = nil
			for i := 3; i < len(n.Args); i++ {
				srcs = append(srcs, i)
			}
		}
		for _, i := range srcs {
			if src, ok := str(i); ok && src != "" && !args[0].has(src) {
				c.missing(n.Func.Name, src, args[0])
			}
		}
		if dst, ok := str(1); ok {
			out = out.with(dst)
		}
	case "histogram_quantile", "histogram_fraction":
		out = out.without("le")
	}
	return out
}

func (c *checker) binaryLabels(n *parser.BinaryExpr) labelSet {
	l, r := c.labels(n.LHS), c.labels(n.RHS)
	lv, rv := n.LHS.Type() == parser.ValueTypeVector, n.RHS.Type() == parser.ValueTypeVector
	switch {
	case !lv && !rv:
		return newLabelSet(nil)
	case !rv:
		return l
	case !lv:
		return r
	}
	m := n.VectorMatching
	if m == nil {
		return l.union(r)
	}
	side := func(name string, s labelSet) labelSet {
		d := s
		d.from = []string{"the " + name + " side (" + s.describe() + ")"}
		return d
	}
	if m.On {
		clause := fmt.Sprintf("on (%s)", strings.Join(m.MatchingLabels, ", "))
		for _, lbl := range m.MatchingLabels {
			if !l.has(lbl) {
				c.missing(clause, lbl, side("left", l))
			}
			if !r.has(lbl) {
				c.missing(clause, lbl, side("right", r))
			}
		}
	} else {
		// A label ignored needs to be on one side only: that is why it
		// is ignored.
		clause := fmt.Sprintf("ignoring (%s)", strings.Join(m.MatchingLabels, ", "))
		for _, lbl := range m.MatchingLabels {
			if !l.has(lbl) && !r.has(lbl) {
				c.missing(clause, lbl, l.union(r))
			}
		}
	}
	// group_left copies labels from the right side, group_right from the
	// left.
	one, group, oneName := r, "group_left", "right"
	if m.Card == parser.CardOneToMany {
		one, group, oneName = l, "group_right", "left"
	}
	for _, lbl := range m.Include {
		if !one.has(lbl) {
			c.missing(fmt.Sprintf("%s (%s)", group, strings.Join(m.Include, ", ")), lbl, side(oneName, one))
		}
	}
	// The result's labels, as the engine's resultMetric makes them; it
	// comes from the series of both sides.
	var out labelSet
	switch {
	case n.Op == parser.LOR:
		out = l.union(r)
	case n.Op.IsSetOperator():
		out = l
	case m.Card == parser.CardOneToOne && m.On:
		out = l.only(m.MatchingLabels)
	case m.Card == parser.CardOneToOne:
		out = l.without(m.MatchingLabels...)
	case m.Card == parser.CardOneToMany:
		out = r.with(m.Include...)
	default:
		out = l.with(m.Include...)
	}
	out.from = l.union(r).from
	return out
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
