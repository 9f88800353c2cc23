package preflight

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/havip/havip/keepalived"
)

// keepalivedProc is a running keepalived and the configuration it read.
type keepalivedProc struct {
	pid    int
	config string
}

const keepalivedFix = "stop keepalived on this host before havip holds its VIPs, in the order docs/keepalived.md gives:\n" +
	"systemctl disable --now keepalived"

// keepalived warns about a keepalived on this host: it and havip cannot
// see each other, so a VIP that both manage is held twice. It reports a
// running keepalived and every VIP of this configuration that a
// keepalived configuration also manages (the default one, and those the
// running daemons read).
func (c *checker) keepalived() {
	procs := c.keepalivedProcs()
	for _, p := range procs {
		c.add(Warning, "keepalived", keepalivedFix,
			"keepalived runs on this host (pid %d, %s): havip and keepalived do not see each other, so a VIP both manage is held by both", p.pid, p.config)
	}
	vips := c.vips()
	if len(vips) == 0 {
		return
	}
	configs := []string{keepalived.DefaultPath}
	for _, p := range procs {
		if !slices.Contains(configs, p.config) {
			configs = append(configs, p.config)
		}
	}
	for _, path := range configs {
		cfg, err := keepalived.ParseFile(path, keepalived.ParseOptions{Root: c.o.Root})
		if err != nil {
			continue // no such configuration
		}
		for _, v := range cfg.VIPs() {
			if inst, ok := vips[v.Addr]; ok {
				c.add(Warning, "keepalived", "remove it from keepalived's configuration, or stop keepalived before havip starts (docs/keepalived.md)",
					"VIP %s of instance %q is also a VIP of keepalived's vrrp_instance %s (%s): a running keepalived holds it too", v.Addr, inst, v.Instance, v.Pos)
			}
		}
	}
}

// keepalivedProcs finds the keepalived processes in /proc, one per
// configuration (the parent, with the lowest pid).
func (c *checker) keepalivedProcs() []keepalivedProc {
	dirs, _ := filepath.Glob(c.path("/proc/[0-9]*"))
	byConfig := map[string]int{}
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		comm, err := os.ReadFile(filepath.Join(d, "comm"))
		if err != nil || !strings.HasPrefix(strings.TrimSpace(string(comm)), "keepalived") {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join(d, "cmdline"))
		conf := keepalivedConfig(bytes.Split(bytes.TrimRight(cmdline, "\x00"), []byte{0}))
		if old, ok := byConfig[conf]; !ok || pid < old {
			byConfig[conf] = pid
		}
	}
	var out []keepalivedProc
	for conf, pid := range byConfig {
		out = append(out, keepalivedProc{pid: pid, config: conf})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].pid < out[j].pid })
	return out
}

// keepalivedConfig returns the configuration a keepalived command line
// names with -f or --use-file, or keepalived's default.
func keepalivedConfig(args [][]byte) string {
	for i, a := range args {
		s := string(a)
		switch {
		case (s == "-f" || s == "--use-file") && i+1 < len(args):
			return string(args[i+1])
		case strings.HasPrefix(s, "--use-file="):
			return strings.TrimPrefix(s, "--use-file=")
		case strings.HasPrefix(s, "-f") && len(s) > 2:
			return s[2:]
		}
	}
	return keepalived.DefaultPath
}
