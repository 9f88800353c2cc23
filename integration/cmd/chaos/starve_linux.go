//go:build linux

package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// cpuRoot is where the cgroup v1 cpu controller is mounted.
const cpuRoot = "/sys/fs/cgroup/cpu"

// throttle holds one daemon in a cgroup of its own with a CPU quota:
// starvation confined to that node, whatever else the machine runs.
type throttle struct {
	pid  int
	dir  string
	back string // the cgroup the process came from
}

// throttlePID moves pid into a new cgroup name with pct % of one CPU.
// It needs the cgroup v1 cpu controller (with CFS quota); where that is
// missing the error says so and the fault is skipped.
func throttlePID(pid int, name string, pct int) (*throttle, error) {
	back, err := cpuCgroup(pid)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(cpuRoot, name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, err
	}
	t := &throttle{pid: pid, dir: dir, back: filepath.Join(cpuRoot, back)}
	const period = 100000
	err = errors.Join(
		write(filepath.Join(dir, "cpu.cfs_period_us"), period),
		write(filepath.Join(dir, "cpu.cfs_quota_us"), period*pct/100),
	)
	if err == nil {
		err = write(filepath.Join(dir, "cgroup.procs"), pid)
	}
	if err != nil {
		return nil, errors.Join(err, os.Remove(dir))
	}
	return t, nil
}

// undo moves the process back and removes the cgroup.
func (t *throttle) undo() error {
	err := write(filepath.Join(t.back, "cgroup.procs"), t.pid)
	if err != nil && !errors.Is(err, os.ErrNotExist) && !strings.Contains(err.Error(), "no such process") {
		return fmt.Errorf("moving pid %d back to %s: %w", t.pid, t.back, err)
	}
	return os.Remove(t.dir)
}

func write(path string, v int) error {
	return os.WriteFile(path, []byte(strconv.Itoa(v)), 0o644)
}

// cpuCgroup returns pid's cgroup path in the v1 cpu hierarchy.
func cpuCgroup(pid int) (string, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// hierarchy-ID:controller-list:path
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) == 3 && slices.Contains(strings.Split(parts[1], ","), "cpu") {
			if _, err := os.Stat(filepath.Join(cpuRoot, "cpu.cfs_quota_us")); err != nil {
				return "", fmt.Errorf("no CFS quota in %s: %w", cpuRoot, err)
			}
			return parts[2], nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", fmt.Errorf("no cgroup v1 cpu controller for pid %d", pid)
}
