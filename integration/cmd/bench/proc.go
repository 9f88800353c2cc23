package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat;
// 100 on every Linux architecture Go supports.
const clockTicks = 100

// procUsage is one process tree's CPU time and resident memory.
type procUsage struct {
	CPUTicks uint64 // utime + stime of the tree, in clock ticks
	RSSKiB   uint64 // VmRSS of the tree
	Switches uint64 // context switches of every thread of the tree
	Procs    int
}

// children lists the direct children of pid.
func children(pid int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := readStat(p)
		if err != nil {
			continue
		}
		if st.ppid == pid {
			out = append(out, p)
		}
	}
	return out
}

// treeUsage sums the usage of pid and its descendants.
func treeUsage(pid int) (procUsage, error) {
	var u procUsage
	todo := []int{pid}
	for len(todo) > 0 {
		p := todo[0]
		todo = todo[1:]
		st, err := readStat(p)
		if err != nil {
			if p == pid {
				return u, err
			}
			continue
		}
		rss, err := readRSS(p)
		if err != nil && p == pid {
			return u, err
		}
		u.CPUTicks += st.utime + st.stime
		u.RSSKiB += rss
		u.Switches += threadSwitches(p)
		u.Procs++
		todo = append(todo, children(p)...)
	}
	return u, nil
}

type stat struct {
	ppid         int
	utime, stime uint64
}

// readStat reads /proc/PID/stat: the fields after the command name,
// which is in parentheses and may contain anything.
func readStat(pid int) (stat, error) {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return stat{}, err
	}
	return parseStat(string(data))
}

func parseStat(s string) (stat, error) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return stat{}, fmt.Errorf("malformed stat %q", s)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
	if len(f) < 13 {
		return stat{}, fmt.Errorf("short stat %q", s)
	}
	ppid, err1 := strconv.Atoi(f[1])
	ut, err2 := strconv.ParseUint(f[11], 10, 64)
	st, err3 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return stat{}, fmt.Errorf("malformed stat %q", s)
	}
	return stat{ppid: ppid, utime: ut, stime: st}, nil
}

// readRSS reads VmRSS (KiB) from /proc/PID/status.
func readRSS(pid int) (uint64, error) {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, err
	}
	return parseRSS(string(data))
}

func parseRSS(s string) (uint64, error) {
	for _, line := range strings.Split(s, "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) < 1 {
				break
			}
			return strconv.ParseUint(f[0], 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmRSS in status")
}

// threadSwitches sums the voluntary and involuntary context switches of
// every thread of pid. On a virtual machine an idle daemon's CPU time is
// mostly the cost of waking up, which varies with the host's load; the
// number of wakeups does not.
func threadSwitches(pid int) uint64 {
	dir := filepath.Join("/proc", strconv.Itoa(pid), "task")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	var n uint64
	for _, e := range ents {
		data, err := os.ReadFile(filepath.Join(dir, e.Name(), "status"))
		if err != nil {
			continue
		}
		n += parseSwitches(string(data))
	}
	return n
}

func parseSwitches(s string) uint64 {
	var n uint64
	for _, line := range strings.Split(s, "\n") {
		for _, key := range []string{"voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:"} {
			if rest, ok := strings.CutPrefix(line, key); ok {
				v, err := strconv.ParseUint(strings.TrimSpace(rest), 10, 64)
				if err == nil {
					n += v
				}
			}
		}
	}
	return n
}

// loadAvg is the machine's load average over 1, 5 and 15 minutes, as
// /proc/loadavg gives it.
func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(data)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "unknown"
}
