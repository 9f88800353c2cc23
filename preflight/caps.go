package preflight

import (
	"fmt"
	"strings"
)

// Capability is one Linux capability havip needs to hold a VIP.
type Capability struct {
	Name string
	// Bit is the capability's number (linux/capability.h).
	Bit uint
	// For says what havip does with it.
	For string
}

// Needed are the capabilities a node with instances needs; a witness
// needs none.
var Needed = []Capability{
	{"CAP_NET_ADMIN", 12, "adding and removing the VIPs"},
	{"CAP_NET_RAW", 13, "gratuitous ARP and neighbour advertisements"},
}

// CapabilityFunc returns the capabilities of Needed the process lacks
// in its effective set.
type CapabilityFunc func() ([]Capability, error)

// missingFrom returns the capabilities of Needed that the effective set
// eff (a bit per capability) lacks.
func missingFrom(eff uint64) []Capability {
	var out []Capability
	for _, c := range Needed {
		if eff&(1<<c.Bit) == 0 {
			out = append(out, c)
		}
	}
	return out
}

// capabilityFix is how to grant them.
const capabilityFix = "run havip as root, or grant them to its service: AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW (kept in CapabilityBoundingSet; `systemctl edit havip`)"

// capabilityMsg says which capabilities are missing and what for.
func capabilityMsg(missing []Capability) string {
	parts := make([]string, len(missing))
	for i, c := range missing {
		parts[i] = fmt.Sprintf("%s (%s)", c.Name, c.For)
	}
	return "this process lacks " + strings.Join(parts, " and ") + ", which a node with instances needs"
}

// capabilities adds a finding for missing capabilities.
func (c *checker) capabilities() {
	if c.o.Capabilities == nil || len(c.cfg.Instances) == 0 {
		return
	}
	missing, err := c.o.Capabilities()
	switch {
	case err != nil:
		c.add(Warning, "capabilities", "", "reading this process's capabilities: %v", err)
	case len(missing) > 0:
		c.add(Error, "capabilities", capabilityFix, "%s", capabilityMsg(missing))
	}
}
