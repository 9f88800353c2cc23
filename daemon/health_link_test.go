package daemon

import (
	"log/slog"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/havip/havip/config"
)

// healthDaemon is a daemon with only the health state.
func healthDaemon() *Daemon {
	return &Daemon{log: slog.New(slog.DiscardHandler), faults: map[string]map[string]string{},
		penalties: map[string]map[string]int{}, linkState: map[string]string{}}
}

// health returns an instance's fault sources and penalties.
func (d *Daemon) health(instance string) (map[string]string, map[string]int) {
	d.fmu.Lock()
	defer d.fmu.Unlock()
	f, p := map[string]string{}, map[string]int{}
	for k, v := range d.faults[instance] {
		f[k] = v
	}
	for k, v := range d.penalties[instance] {
		p[k] = v
	}
	return f, p
}

// TestLinkSources: an interface a VIP is on, or one tracked without a
// weight, means FAULT while it is down; one tracked with a weight lowers
// the priority by it instead.
func TestLinkSources(t *testing.T) {
	d := healthDaemon()
	in := config.Instance{
		Name: "web", Interface: "eth0",
		VIPs:            []netip.Prefix{netip.MustParsePrefix("10.0.0.5/32"), netip.MustParsePrefix("10.0.1.5/24")},
		Places:          map[netip.Prefix]config.VIPPlace{netip.MustParsePrefix("10.0.1.5/24"): {Interface: "eth1"}},
		TrackInterfaces: []string{"eth2", "eth3"},
		TrackWeights:    map[string]int{"eth3": 30},
	}
	for _, ifname := range []string{"eth0", "eth1", "eth2", "eth3"} {
		d.linkSources(in, ifname, "interface "+ifname+" down")
	}
	faults, penalties := d.health("web")
	wantFaults := map[string]string{
		"interface":            "interface eth0 down",
		"interface eth1":       "interface eth1 down",
		"track_interface eth2": "tracked interface eth2 down",
	}
	if diff := cmp.Diff(wantFaults, faults); diff != "" {
		t.Errorf("faults with every link down (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{"track_interface eth3": 30}, penalties); diff != "" {
		t.Errorf("penalties with every link down (-want +got):\n%s", diff)
	}
	for _, ifname := range []string{"eth0", "eth1", "eth2", "eth3"} {
		d.linkSources(in, ifname, "")
	}
	if faults, penalties := d.health("web"); len(faults) != 0 || len(penalties) != 0 {
		t.Errorf("with every link up: faults %v, penalties %v; want none", faults, penalties)
	}

	// A weight given to a tracked interface that is down turns its FAULT
	// into a penalty at the next reading; taken away, back.
	d.linkSources(in, "eth2", "interface eth2 down")
	weighted := in
	weighted.TrackWeights = map[string]int{"eth2": 10}
	d.linkSources(weighted, "eth2", "interface eth2 down")
	faults, penalties = d.health("web")
	if len(faults) != 0 || penalties["track_interface eth2"] != 10 {
		t.Errorf("after a weight: faults %v, penalties %v; want a penalty of 10 alone", faults, penalties)
	}
	d.linkSources(in, "eth2", "interface eth2 down")
	faults, penalties = d.health("web")
	if len(penalties) != 0 || faults["track_interface eth2"] == "" {
		t.Errorf("after the weight went: faults %v, penalties %v; want FAULT alone", faults, penalties)
	}
}

// TestDropLinkSources: a reload that takes the VIP off eth1 and stops
// tracking eth3 withdraws what they reported; the sources of the links
// still used stay.
func TestDropLinkSources(t *testing.T) {
	d := healthDaemon()
	old := config.Instance{
		Name: "web", Interface: "eth0",
		VIPs:            []netip.Prefix{netip.MustParsePrefix("10.0.1.5/24")},
		Places:          map[netip.Prefix]config.VIPPlace{netip.MustParsePrefix("10.0.1.5/24"): {Interface: "eth1"}},
		TrackInterfaces: []string{"eth2", "eth3"},
		TrackWeights:    map[string]int{"eth3": 30},
	}
	for _, ifname := range []string{"eth0", "eth1", "eth2", "eth3"} {
		d.linkSources(old, ifname, "interface "+ifname+" down")
	}
	next := old
	next.Places = nil
	next.TrackInterfaces = []string{"eth2"}
	next.TrackWeights = nil
	d.dropLinkSources(old, next)
	faults, penalties := d.health("web")
	want := map[string]string{"interface": "interface eth0 down", "track_interface eth2": "tracked interface eth2 down"}
	if diff := cmp.Diff(want, faults); diff != "" {
		t.Errorf("faults after the reload (-want +got):\n%s", diff)
	}
	if len(penalties) != 0 {
		t.Errorf("penalties after the reload: %v, want none", penalties)
	}
}

// TestStopScriptsKeepsLinkPenalties: restarting the track scripts (a
// reload) leaves the penalty of a weighted interface alone.
func TestStopScriptsKeepsLinkPenalties(t *testing.T) {
	d := healthDaemon()
	d.scripts = map[string][]*checker{}
	in := config.Instance{Name: "web", Interface: "eth0", TrackInterfaces: []string{"eth3"}, TrackWeights: map[string]int{"eth3": 30}}
	d.linkSources(in, "eth3", "interface eth3 down")
	d.setPenalty("web", srcScript+"app", 20)
	d.stopScripts("web", nil)
	if _, penalties := d.health("web"); !cmp.Equal(penalties, map[string]int{"track_interface eth3": 30}) {
		t.Errorf("penalties %v, want the interface's alone", penalties)
	}
	d.clearSources("web", "")
	if faults, penalties := d.health("web"); len(faults) != 0 || len(penalties) != 0 {
		t.Errorf("after clearSources: faults %v, penalties %v; want none", faults, penalties)
	}
}
