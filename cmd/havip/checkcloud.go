package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/havip/havip/cloudbind"
	"github.com/havip/havip/config"
)

// checkCloudTimeout bounds each step of `havip check --cloud`.
const checkCloudTimeout = time.Minute

// checkCloud reads each instance's binding through the cloud API without
// changing it, with the metadata service's token mode and the state of
// every member's port.
func checkCloud(cfg *config.Config, stdout, stderr io.Writer) int {
	if !cfg.Cloud.Enabled() {
		fmt.Fprintln(stdout, "cloud: provider none, nothing to check")
		return exitOK
	}
	p, err := cloudbind.New(cfg.Cloud, cloudbind.Options{})
	if err != nil {
		fmt.Fprintf(stderr, "havip check: cloud: %v\n", err)
		return exitRuntime
	}
	code := exitOK
	if m, ok := p.(cloudbind.MetadataReporter); ok {
		ctx, cancel := context.WithTimeout(context.Background(), checkCloudTimeout)
		mode, err := m.Metadata(ctx)
		cancel()
		if err != nil {
			fmt.Fprintf(stderr, "havip check: cloud: metadata service %s: %v\n", cfg.Cloud.MetadataURL, err)
			code = exitRuntime
		} else {
			fmt.Fprintf(stdout, "cloud: metadata service: %s\n", metadataLine(mode))
		}
	}
	members, skipped := peerAddrs(cfg.Cluster.Peers)
	for _, s := range skipped {
		fmt.Fprintf(stdout, "cloud: peer %s is not an IP address; its port is not checked\n", s)
	}
	for _, in := range cfg.Instances {
		if c := checkInstance(p, cfg.Cloud, in, members, stdout, stderr); code == exitOK {
			code = c
		}
	}
	fmt.Fprintf(stdout, "cloud: %d read-only API calls\n", p.Calls())
	return code
}

// checkInstance reports one instance's binding and its members' ports.
// This server's port with its source/destination check on while
// manage_own_port = false is a warning: nothing is wrong until this
// server is master, and the daemon then reports it as a cloud error;
// the exit code stays 0, as for the other warnings of `havip check`.
func checkInstance(p cloudbind.Provider, cc config.Cloud, in config.Instance, members []netip.Addr, stdout, stderr io.Writer) int {
	ctx, cancel := context.WithTimeout(context.Background(), checkCloudTimeout)
	defer cancel()
	b := p.Binder(in)
	var rep cloudbind.Report
	var err error
	if insp, ok := b.(cloudbind.Inspector); ok {
		rep, err = insp.Inspect(ctx, members)
	} else {
		rep.Bound, err = b.Check(ctx)
	}
	switch {
	case errors.Is(err, cloudbind.ErrNoCheck):
		fmt.Fprintf(stdout, "cloud: instance %s: provider %s cannot be checked read-only\n", in.Name, p.Name())
		return exitOK
	case err != nil:
		fmt.Fprintf(stderr, "havip check: cloud: instance %s: %v\n", in.Name, err)
		return exitRuntime
	}
	yes := "no"
	if rep.Bound {
		yes = "yes"
	}
	fmt.Fprintf(stdout, "cloud: instance %s: credentials and ports OK; bound to this server: %s\n", in.Name, yes)
	for _, mp := range rep.Ports {
		fmt.Fprintf(stdout, "cloud: instance %s: %s\n", in.Name, portLine(p.Name(), cc.ManageOwnPort, mp))
	}
	for _, mp := range rep.Ports {
		if p.Name() == config.ProviderHuaweiCloud && mp.Self && mp.PortID != "" && !mp.Open && !cc.ManageOwnPort {
			fmt.Fprintf(stdout, "cloud: warning: instance %s: this server's port %s has its source/destination check on and manage_own_port = false: "+
				"as master this server would not get the VIPs' traffic; turn the check off (ECS console: the server, Network Interfaces, Source/Destination Check) or set manage_own_port = true\n",
				in.Name, mp.PortID)
		}
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(stdout, "cloud: instance %s: %s\n", in.Name, n)
	}
	return exitOK
}

func metadataLine(mode string) string {
	switch mode {
	case cloudbind.MetadataTokenRequired:
		return "tokens required (http_tokens = required); havip gets one and sends it on every read"
	case cloudbind.MetadataTokenOptional:
		return "tokens offered, not required; havip gets one and sends it on every read"
	case cloudbind.MetadataNoToken:
		return "no token API; havip reads it without a token"
	case cloudbind.MetadataUnused:
		return "not used (port_id set, credentials from the file)"
	}
	return mode
}

// portLine describes a member's port; manage is cloud.manage_own_port
// (whether a master turns the check of its own port off).
func portLine(provider string, manage bool, mp cloudbind.MemberPort) string {
	who := mp.Addr.String()
	if mp.Self {
		who += " (this server)"
	}
	if mp.PortID == "" {
		return who + ": no port with this address in this server's network"
	}
	var facts []string
	if provider == config.ProviderHuaweiCloud {
		if mp.Open {
			facts = append(facts, "source/destination check off")
		} else if manage {
			facts = append(facts, "source/destination check ON: its NIC drops the VIPs' traffic until havip binds there (manage_own_port) or you turn the check off")
		} else {
			facts = append(facts, "source/destination check ON: its NIC drops the VIPs' traffic; manage_own_port = false, so turn the check off on that NIC yourself")
		}
		if mp.Listed {
			facts = append(facts, "the VIP port lists it")
		} else {
			facts = append(facts, "the VIP port does not list it")
		}
	} else if mp.Open {
		facts = append(facts, "it allows the VIPs")
	} else {
		facts = append(facts, "it does not allow the VIPs")
	}
	return who + ": port " + mp.PortID + ", " + strings.Join(facts, ", ")
}

// peerAddrs returns the IP addresses of the peers; those given by name
// are returned apart.
func peerAddrs(peers []string) ([]netip.Addr, []string) {
	var addrs []netip.Addr
	var names []string
	for _, p := range peers {
		if ap, err := netip.ParseAddrPort(p); err == nil {
			addrs = append(addrs, ap.Addr().Unmap())
		} else if a, err := netip.ParseAddr(p); err == nil {
			addrs = append(addrs, a.Unmap())
		} else {
			names = append(names, p)
		}
	}
	return addrs, names
}
