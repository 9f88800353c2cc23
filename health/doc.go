// Package health runs an instance's track scripts and turns their results,
// with rise and fall, into a healthy or failed verdict.
package health
