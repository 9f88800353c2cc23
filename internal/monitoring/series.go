package monitoring

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	dto "github.com/prometheus/client_model/go"
)

// TargetLabels are the labels the scrape configuration of
// docs/monitoring.md gives every series of a node: the job, the scraped
// address and the havip cluster.
var TargetLabels = []string{"job", "instance", "cluster"}

// PrometheusMade are the series Prometheus writes for each target itself.
var PrometheusMade = []string{"up"}

// Sample is one series of a scrape as Prometheus stores it.
type Sample struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// String is the sample's series in PromQL notation, labels sorted.
func (s Sample) String() string {
	var b strings.Builder
	b.WriteString(s.Name)
	b.WriteByte('{')
	for i, k := range slices.Sorted(maps.Keys(s.Labels)) {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%s", k, strconv.Quote(s.Labels[k]))
	}
	b.WriteByte('}')
	return b.String()
}

// Scraped returns the samples Prometheus stores from one scrape of fams
// with the target labels target: a label of the daemon's that a target
// label also names is kept as exported_<name> (honor_labels: false), and
// a histogram becomes its _bucket (with le), _sum and _count series.
func Scraped(fams map[string]*dto.MetricFamily, target map[string]string) []Sample {
	var out []Sample
	for _, name := range slices.Sorted(maps.Keys(fams)) {
		for _, m := range fams[name].GetMetric() {
			labels := maps.Clone(target)
			for _, l := range m.GetLabel() {
				k := l.GetName()
				if _, clash := target[k]; clash {
					k = "exported_" + k
				}
				labels[k] = l.GetValue()
			}
			out = append(out, samples(name, labels, m)...)
		}
	}
	return out
}

// samples are the series of one metric.
func samples(name string, labels map[string]string, m *dto.Metric) []Sample {
	switch {
	case m.Histogram != nil:
		h := m.GetHistogram()
		out := []Sample{{name + "_sum", labels, h.GetSampleSum()}, {name + "_count", labels, float64(h.GetSampleCount())}}
		for _, b := range h.GetBucket() {
			out = append(out, Sample{name + "_bucket", with(labels, "le", b.GetUpperBound()), float64(b.GetCumulativeCount())})
		}
		if bs := h.GetBucket(); len(bs) == 0 || !math.IsInf(bs[len(bs)-1].GetUpperBound(), 1) {
			// Implicit in the protobuf form, written in the text form.
			out = append(out, Sample{name + "_bucket", with(labels, "le", math.Inf(1)), float64(h.GetSampleCount())})
		}
		return out
	case m.Summary != nil:
		s := m.GetSummary()
		out := []Sample{{name + "_sum", labels, s.GetSampleSum()}, {name + "_count", labels, float64(s.GetSampleCount())}}
		for _, q := range s.GetQuantile() {
			out = append(out, Sample{name, with(labels, "quantile", q.GetQuantile()), q.GetValue()})
		}
		return out
	case m.Counter != nil:
		return []Sample{{name, labels, m.GetCounter().GetValue()}}
	case m.Gauge != nil:
		return []Sample{{name, labels, m.GetGauge().GetValue()}}
	}
	return []Sample{{name, labels, m.GetUntyped().GetValue()}}
}

// with returns labels and name=v, v formatted as Prometheus does (le="+Inf").
func with(labels map[string]string, name string, v float64) map[string]string {
	l := maps.Clone(labels)
	l[name] = strconv.FormatFloat(v, 'g', -1, 64)
	if math.IsInf(v, 1) {
		l[name] = "+Inf"
	}
	return l
}
