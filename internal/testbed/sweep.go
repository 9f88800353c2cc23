package testbed

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// checkPrefix keeps namespace names short, plain and specific enough that a
// sweep by prefix can only match this package's namespaces.
func checkPrefix(p string) error {
	if len(p) < 3 || len(p) > 40 {
		return fmt.Errorf("testbed: namespace prefix %q: want 3..40 characters", p)
	}
	for _, r := range p {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.'
		if !ok {
			return fmt.Errorf("testbed: namespace prefix %q: only letters, digits, '-', '_' and '.' are allowed", p)
		}
	}
	return nil
}

// Namespaces lists the named network namespaces (ip netns list).
func Namespaces() ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	out, err := run(ctx, "ip", "netns", "list")
	if err != nil {
		return nil, err
	}
	return parseNetnsList(string(out)), nil
}

// parseNetnsList reads "name (id: 3)" or "name" lines.
func parseNetnsList(out string) []string {
	var names []string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	return names
}

// Sweep deletes every named network namespace whose name starts with
// prefix, which must be at least 4 characters long.
func Sweep(prefix string) error {
	if len(prefix) < 4 {
		return fmt.Errorf("testbed: sweep prefix %q is too short", prefix)
	}
	return sweepMatching(func(name string) bool { return strings.HasPrefix(name, prefix) })
}

// SweepRun deletes the namespaces of every topology with a default prefix
// that this process created and did not close (RunPrefix).
func SweepRun() error { return Sweep(RunPrefix()) }

// SweepStale deletes the namespaces left behind by processes that no longer
// run: names "hvt-<pid>-…" whose pid is gone (a test binary killed by its
// timeout does not run its cleanups).
func SweepStale() error {
	return sweepMatching(func(name string) bool {
		pid, ok := runPID(name)
		return ok && !processAlive(pid)
	})
}

// runPID extracts the pid from a default namespace name "hvt-<pid>-…".
func runPID(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, "hvt-")
	if !ok {
		return 0, false
	}
	digits, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	pid, err := strconv.Atoi(digits)
	if err != nil || pid <= 0 {
		return 0, false
	}
	return pid, true
}

func sweepMatching(match func(string) bool) error {
	names, err := Namespaces()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*opTimeout)
	defer cancel()
	var errs []error
	for _, name := range names {
		if !match(name) {
			continue
		}
		if _, err := run(ctx, "ip", "netns", "delete", name); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
