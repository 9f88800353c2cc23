// Package monitoring reads the Prometheus rules and the Grafana dashboard
// shipped in examples/ and holds every query in them against the series
// havip exports, as Prometheus stores them after a scrape.
package monitoring
