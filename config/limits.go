package config

import "fmt"

// checkLimits checks the cloud's documented limits on VIPs (see
// MaxNICsPerVIP, MaxVIPsPerNIC and WarnVIPsPerServer) for every setup:
// the console binding with provider "none", which docs/cloud.md
// recommends for Huawei Cloud, meets them as much as an API binding.
// A witness binds no VIP, so its own file is not checked; and since one
// of the peers a server lists may be a witness, 11 members draw a
// warning and only more draw an error.
func checkLimits(cfg *Config, c *collector) {
	if len(cfg.Instances) == 0 {
		return
	}
	switch n := cfg.Cluster.Size(); {
	case n > MaxNICsPerVIP+1:
		c.add("cluster.peers", "%d members would bind each VIP to %d servers; the cloud binds one VIP to at most %d (a witness, without instances, binds none)",
			n, n, MaxNICsPerVIP)
	case n == MaxNICsPerVIP+1:
		cfg.Warnings = append(cfg.Warnings, fmt.Sprintf("cluster.peers: %d members: the cloud binds one VIP to at most %d servers, so one of them must be a witness (no instances)",
			n, MaxNICsPerVIP))
	}
	perNIC := map[string]int{}
	var order []string
	total := 0
	for _, in := range cfg.Instances {
		for _, p := range in.VIPs {
			ifname := in.Place(p).Interface
			if _, seen := perNIC[ifname]; !seen {
				order = append(order, ifname)
			}
			perNIC[ifname]++
		}
		total += len(in.VIPs)
	}
	for _, ifname := range order {
		if n := perNIC[ifname]; n > MaxVIPsPerNIC {
			c.add("instance", "%d VIPs on interface %s; the cloud allows at most %d on one NIC", n, ifname, MaxVIPsPerNIC)
		}
	}
	if total > WarnVIPsPerServer {
		cfg.Warnings = append(cfg.Warnings, fmt.Sprintf("instance: %d VIPs on this server; the cloud advises at most %d", total, WarnVIPsPerServer))
	}
}

// cloudChecksLimits reports whether buildCloud checks the limits itself
// (the providers that call a cloud API), so that they are not reported
// twice.
func cloudChecksLimits(cfg *Config) bool {
	return cfg.Cloud.Enabled() && cfg.Cloud.Provider != ProviderExec
}

// checkCloudPlaces refuses a VIP on another interface than its
// instance's with a provider that binds the VIPs through the cloud's
// API: the binding goes to the port of the instance's interface, where
// the cloud would not forward that VIP.
func checkCloudPlaces(cfg *Config, c *collector) {
	if !cloudChecksLimits(cfg) {
		return
	}
	for i, in := range cfg.Instances {
		for j, p := range in.VIPs {
			if ifname := in.Place(p).Interface; ifname != in.Interface {
				c.add(cfg.VIPKey(i, j), "is on interface %s, but cloud.provider %q binds the instance's VIPs to the port of its interface, %s: give the VIP an instance of its own on %s",
					ifname, cfg.Cloud.Provider, in.Interface, ifname)
			}
		}
	}
}
