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
	// configID is its -i (--config-id), which its @ lines are compared
	// with; "" for keepalived's default, the host name.
	configID string
}

// keepalivedConf is a configuration keepalived reads, and the
// config-id it reads it with.
type keepalivedConf struct {
	path, configID string
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
		what := p.config
		if p.configID != "" {
			what += ", config-id " + p.configID
		}
		c.add(Warning, "keepalived", keepalivedFix,
			"keepalived runs on this host (pid %d, %s): havip and keepalived do not see each other, so a VIP both manage is held by both", p.pid, what)
	}
	vips := c.vips()
	if len(vips) == 0 {
		return
	}
	configs := []keepalivedConf{{path: keepalived.DefaultPath}}
	for _, p := range procs {
		if k := (keepalivedConf{p.config, p.configID}); !slices.Contains(configs, k) {
			configs = append(configs, k)
		}
	}
	for _, k := range configs {
		cfg, err := keepalived.ParseFile(k.path, keepalived.ParseOptions{Root: c.o.Root, ConfigID: k.configID})
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
// configuration and config-id (the parent, with the lowest pid).
func (c *checker) keepalivedProcs() []keepalivedProc {
	dirs, _ := filepath.Glob(c.path("/proc/[0-9]*"))
	byConfig := map[keepalivedConf]int{}
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
		conf := keepalivedArgs(bytes.Split(bytes.TrimRight(cmdline, "\x00"), []byte{0}))
		if old, ok := byConfig[conf]; !ok || pid < old {
			byConfig[conf] = pid
		}
	}
	var out []keepalivedProc
	for conf, pid := range byConfig {
		out = append(out, keepalivedProc{pid: pid, config: conf.path, configID: conf.configID})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].pid < out[j].pid })
	return out
}

// keepalivedArgs returns the configuration a keepalived command line
// names with -f or --use-file (keepalived's default without), and the
// config-id it gives with -i or --config-id.
func keepalivedArgs(args [][]byte) keepalivedConf {
	k := keepalivedConf{path: keepalived.DefaultPath}
	for i := 1; i < len(args); i++ {
		if v, next, ok := optionValue(args, i, "-f", "--use-file"); ok {
			k.path, i = v, next
		} else if v, next, ok := optionValue(args, i, "-i", "--config-id"); ok {
			k.configID, i = v, next
		}
	}
	return k
}

// optionValue reads option short or long at args[i] with its value, in
// any of getopt's forms ("-f X", "-fX", "--use-file X",
// "--use-file=X"); next is the index of the argument that held the
// value.
func optionValue(args [][]byte, i int, short, long string) (value string, next int, ok bool) {
	s := string(args[i])
	switch {
	case (s == short || s == long) && i+1 < len(args):
		return string(args[i+1]), i + 1, true
	case strings.HasPrefix(s, long+"="):
		return s[len(long)+1:], i, true
	case strings.HasPrefix(s, short) && len(s) > 2 && !strings.HasPrefix(s, "--"):
		return s[2:], i, true
	}
	return "", i, false
}
