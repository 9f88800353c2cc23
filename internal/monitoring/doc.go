// Package monitoring reads the Prometheus rules, their promtool tests and
// the Grafana dashboard shipped in examples/ and holds every query in them
// against the series havip exports, as Prometheus stores them after a
// scrape, and every alert against a test in which it fires.
package monitoring
