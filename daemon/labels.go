package daemon

import "strings"

// labelValue makes a name another member chose usable as a Prometheus
// label value, which must be valid UTF-8: one bad name would otherwise
// fail the whole scrape (MustNewConstMetric panics in the registry's
// collector).
func labelValue(s string) string {
	return strings.ToValidUTF8(s, "\uFFFD")
}
