package preflight

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/havip/havip/config"
)

// Severity grades a finding.
type Severity int

const (
	// Info is advice; nothing is wrong.
	Info Severity = iota
	// Warning is something that may break failover or that is unusual.
	Warning
	// Error is something that stops havip from working on this host.
	Error
)

func (s Severity) String() string {
	switch s {
	case Info:
		return "info"
	case Warning:
		return "warning"
	case Error:
		return "error"
	}
	return fmt.Sprintf("Severity(%d)", int(s))
}

// Finding is one result of a check.
type Finding struct {
	Severity Severity
	// Check names the check: "capabilities", "interface", "vip",
	// "persistent-vip", "sysctl", "peer", "permissions", "keepalived".
	Check string
	// Msg says what was found.
	Msg string
	// Fix, when not empty, is what to run or change.
	Fix string
}

// LinkInfo is what the checks need to know about an interface.
type LinkInfo struct {
	// Up is true when the interface is administratively up.
	Up bool
	// Running is true when it has a carrier (operationally up).
	Running bool
}

// ErrNoLink is returned by Links.Link for an interface that does not exist.
var ErrNoLink = errors.New("no such interface")

// Links looks interfaces up.
type Links interface {
	// Link describes the interface called name, or returns ErrNoLink.
	Link(name string) (LinkInfo, error)
}

// DialFunc opens a connection, like net.Dialer.DialContext.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// Options select what Run checks and how.
type Options struct {
	// Root is prefixed to the files read from the system (the
	// NetworkManager, ifcfg and netplan directories, /proc/sys); "" is /.
	Root string
	// Links looks up interfaces; nil skips the interface checks.
	Links Links
	// Dial probes the peers' memberlist ports over TCP; nil skips the
	// peer check.
	Dial DialFunc
	// DialTimeout bounds each probe; 0 means one second.
	DialTimeout time.Duration
	// Host lists the host's addresses and routes, for the checks that no
	// VIP is already in use; nil skips them.
	Host Host
	// Capabilities reports the capabilities the process lacks; nil
	// skips the check.
	Capabilities CapabilityFunc
}

// Run checks the host for cfg and returns the findings, most severe first.
func Run(ctx context.Context, cfg *config.Config, o Options) []Finding {
	c := &checker{cfg: cfg, o: o}
	c.capabilities()
	c.interfaces()
	c.vipUses()
	c.persistentVIPs()
	c.sysctls()
	c.peers(ctx)
	c.permissions()
	c.keepalived()
	sort.SliceStable(c.out, func(i, j int) bool { return c.out[i].Severity > c.out[j].Severity })
	return c.out
}

// Worst returns the highest severity among findings, Info when there are none.
func Worst(findings []Finding) Severity {
	w := Info
	for _, f := range findings {
		w = max(w, f.Severity)
	}
	return w
}

// Write prints findings for a terminal, one per line with the fix
// indented below, followed by a count.
func Write(w io.Writer, findings []Finding) error {
	counts := map[Severity]int{}
	for _, f := range findings {
		counts[f.Severity]++
		if _, err := fmt.Fprintf(w, "%-7s  %s: %s\n", f.Severity, f.Check, f.Msg); err != nil {
			return err
		}
		if f.Fix != "" {
			for _, line := range strings.Split(f.Fix, "\n") {
				if _, err := fmt.Fprintf(w, "         %s\n", line); err != nil {
					return err
				}
			}
		}
	}
	_, err := fmt.Fprintf(w, "host: %s, %s, %s\n", count(counts[Error], "error"), count(counts[Warning], "warning"), count(counts[Info], "note"))
	return err
}

// count writes n things: "1 error", "2 errors", "0 notes".
func count(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

type checker struct {
	cfg *config.Config
	o   Options
	out []Finding
}

func (c *checker) add(sev Severity, check, fix, format string, args ...any) {
	c.out = append(c.out, Finding{Severity: sev, Check: check, Msg: fmt.Sprintf(format, args...), Fix: fix})
}

// path returns where the system file p is read from.
func (c *checker) path(p string) string {
	if c.o.Root == "" {
		return p
	}
	return filepath.Join(c.o.Root, p)
}

// interfaceNames returns the instances' interfaces, in order, once each.
func (c *checker) interfaceNames() []string {
	var out []string
	seen := map[string]bool{}
	for _, in := range c.cfg.Instances {
		if !seen[in.Interface] {
			seen[in.Interface] = true
			out = append(out, in.Interface)
		}
	}
	return out
}

// vips returns every VIP of the configuration with its instance.
func (c *checker) vips() map[netip.Addr]string {
	out := map[netip.Addr]string{}
	for _, in := range c.cfg.Instances {
		for _, p := range in.VIPs {
			out[p.Addr()] = in.Name
		}
	}
	return out
}

func (c *checker) interfaces() {
	if c.o.Links == nil {
		return
	}
	for _, name := range c.interfaceNames() {
		li, err := c.o.Links.Link(name)
		switch {
		case errors.Is(err, ErrNoLink):
			c.add(Error, "interface", "list the interfaces with `ip -br link` and fix instance.interface",
				"%s does not exist on this host", name)
			continue
		case err != nil:
			c.add(Error, "interface", "", "%s: %v", name, err)
			continue
		case !li.Up:
			c.add(Warning, "interface", "ip link set "+name+" up",
				"%s is down: its instances start in FAULT and never hold a VIP", name)
		case !li.Running:
			c.add(Warning, "interface", "check the cable, the switch port or the virtual NIC",
				"%s has no carrier: its instances start in FAULT", name)
		}
	}
}

// sysctl fix text: set now and persist.
func sysctlFix(key, value string) string {
	return fmt.Sprintf("sysctl -w %s=%s\necho '%s = %s' >> /etc/sysctl.d/90-havip.conf", key, value, key, value)
}
