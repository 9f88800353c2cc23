package config_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/havip/havip/config"
)

// limitsConf is a cluster of members members (this node included) with
// vips VIPs on eth0 and none elsewhere; no instance at all with vips 0
// (a witness).
func limitsConf(members, vips int, extra string) string {
	var peers, list []string
	for i := range members - 1 {
		peers = append(peers, fmt.Sprintf("%q", fmt.Sprintf("10.0.1.%d:7946", i+2)))
	}
	for i := range vips {
		list = append(list, fmt.Sprintf("%q", fmt.Sprintf("10.0.0.%d", 100+i)))
	}
	conf := fmt.Sprintf("[cluster]\nname = \"c\"\ninsecure = true\npeers = [%s]\n", strings.Join(peers, ", "))
	if vips > 0 {
		conf += fmt.Sprintf("[[instance]]\nname = \"web\"\ninterface = \"eth0\"\nvips = [%s]\n", strings.Join(list, ", "))
	}
	return conf + extra
}

// The cloud's limits hold for every setup, not only with a provider
// that calls its API: the console binding (provider "none") meets them
// as well. A witness binds no VIP and is not checked.
func TestLimitsEverySetup(t *testing.T) {
	execCloud := "[cloud]\nprovider = \"exec\"\nacquire = [\"/bin/true\"]\n"
	tests := []struct {
		name    string
		conf    string
		err     string // "" for none
		warning string // "" for none
	}{
		{"8 VIPs", limitsConf(2, 8, ""), "", ""},
		{"9 VIPs", limitsConf(2, 9, ""), "", "instance: 9 VIPs on this server; the cloud advises at most 8"},
		{"9 VIPs, exec", limitsConf(2, 9, execCloud), "", "9 VIPs on this server"},
		{"11 VIPs on a NIC", limitsConf(2, 11, ""), "havip.toml: instance: 11 VIPs on interface eth0; the cloud allows at most 10 on one NIC", ""},
		{"10 members", limitsConf(10, 1, ""), "", ""},
		{"11 members: one must be a witness", limitsConf(11, 1, ""), "", "cluster.peers: 11 members: the cloud binds one VIP to at most 10 servers, so one of them must be a witness"},
		{"12 members", limitsConf(12, 1, ""), "havip.toml: cluster.peers: 12 members would bind each VIP to 12 servers; the cloud binds one VIP to at most 10", ""},
		{"12 members, exec", limitsConf(12, 1, execCloud), "12 members would bind each VIP", ""},
		{"a witness among 12", limitsConf(12, 0, ""), "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Parse([]byte(tt.conf), "havip.toml")
			switch {
			case tt.err == "" && err != nil:
				t.Fatalf("Parse: %v", err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Fatalf("Parse: %v, want an error containing %q", err, tt.err)
			case tt.err != "":
				return
			}
			warnings := strings.Join(cfg.Warnings, "\n")
			if tt.warning == "" && warnings != "" {
				t.Errorf("warnings %q, want none", warnings)
			}
			if !strings.Contains(warnings, tt.warning) {
				t.Errorf("warnings %q lack %q", warnings, tt.warning)
			}
		})
	}
}
