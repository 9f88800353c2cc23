package main

import (
	"os"
	"testing"
)

// TestMain lets a test run this binary as havip itself (see
// unprivileged_linux_test.go): with HAVIP_TEST_RUN=1 it runs the
// command line and exits with its code.
func TestMain(m *testing.M) {
	if os.Getenv("HAVIP_TEST_RUN") == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}
