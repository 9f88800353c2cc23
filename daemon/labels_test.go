package daemon

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// A member name that is not UTF-8 still makes a metric.
func TestLabelValue(t *testing.T) {
	desc := prometheus.NewDesc("havip_test", "test", []string{"member"}, nil)
	bad := "node\xff\xfe"
	if _, err := prometheus.NewConstMetric(desc, prometheus.GaugeValue, 1, bad); err == nil {
		t.Fatal("the registry takes invalid UTF-8 now: labelValue may go")
	}
	if got := labelValue(bad); got != "node\uFFFD" {
		t.Errorf("labelValue(%q) = %q", bad, got)
	}
	if _, err := prometheus.NewConstMetric(desc, prometheus.GaugeValue, 1, labelValue(bad)); err != nil {
		t.Errorf("metric with the cleaned name: %v", err)
	}
	if got := labelValue("node-b"); got != "node-b" {
		t.Errorf("labelValue changed a plain name: %q", got)
	}
}
