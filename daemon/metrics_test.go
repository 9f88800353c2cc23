package daemon

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/havip/havip/cloudbind"
	"github.com/havip/havip/config"
	"github.com/havip/havip/election"
)

// callsProvider is a fake provider that has made calls API calls.
type callsProvider struct {
	fakeProvider
	calls int64
}

func (p callsProvider) Calls() int64 { return p.calls }

// gathered returns the daemon's series whose name starts with prefix, one
// "name{label="value",...} value" line each, sorted.
func gathered(t *testing.T, d *Daemon, prefix string) []string {
	t.Helper()
	fams, err := d.metrics.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range fams {
		if !strings.HasPrefix(f.GetName(), prefix) {
			continue
		}
		for _, m := range f.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			v := m.GetGauge().GetValue() + m.GetCounter().GetValue()
			out = append(out, fmt.Sprintf("%s{%s} %g", f.GetName(), strings.Join(ls, ","), v))
		}
	}
	slices.Sort(out)
	return out
}

// cloudRunnerFor adds a holder for instance name whose cloud binding
// goes through b.
func cloudRunnerFor(t *testing.T, d *Daemon, name string, b *fakeBinder) *cloudRunner {
	t.Helper()
	h, _, _ := testHolder(0)
	h.cloud = newCloudRunner(d.cloud, b, time.Hour, h.log, func() {})
	t.Cleanup(func() {
		h.cloud.stop()
		h.cloud.wait(5 * time.Second)
	})
	d.holders[name] = h
	return h.cloud
}

// TestCloudMetrics: each instance's binding (bound, agreement while
// known, a failed last step, moves) and the provider's calls are read
// from the cloud runners at scrape time.
func TestCloudMetrics(t *testing.T) {
	d := bareDaemon()
	d.cloud = callsProvider{calls: 7}
	d.holders = map[string]*holder{}

	web := cloudRunnerFor(t, d, "web", &fakeBinder{moved: true})
	web.start()
	eventually(t, "web bound", func() bool { return web.status().Result == "bound" })

	db := cloudRunnerFor(t, d, "db", &fakeBinder{fail: errors.New("403 Forbidden")})
	db.start()
	eventually(t, "db failing", func() bool { return db.status().Result == "error" })

	cloudRunnerFor(t, d, "api", &fakeBinder{}) // never master: idle

	// A binding found pointing elsewhere.
	no := false
	cloudRunnerFor(t, d, "app", &fakeBinder{}).set(0, "bound", nil, false, &no)

	want := []string{
		`havip_cloud_agrees{instance="app"} 0`,
		`havip_cloud_agrees{instance="web"} 1`,
		`havip_cloud_api_calls_total{provider="huaweicloud"} 7`,
		`havip_cloud_bound{instance="api"} 0`,
		`havip_cloud_bound{instance="app"} 0`,
		`havip_cloud_bound{instance="db"} 0`,
		`havip_cloud_bound{instance="web"} 1`,
		`havip_cloud_error{instance="api"} 0`,
		`havip_cloud_error{instance="app"} 0`,
		`havip_cloud_error{instance="db"} 1`,
		`havip_cloud_error{instance="web"} 0`,
		`havip_cloud_moves_total{instance="api"} 0`,
		`havip_cloud_moves_total{instance="app"} 0`,
		`havip_cloud_moves_total{instance="db"} 0`,
		`havip_cloud_moves_total{instance="web"} 1`,
	}
	if diff := cmp.Diff(want, gathered(t, d, "havip_cloud_")); diff != "" {
		t.Errorf("cloud metrics (-want +got):\n%s", diff)
	}

	// Stepping down releases the binding: bound and agreement go.
	web.stop()
	eventually(t, "web released", func() bool { return web.status().Result == "released" })
	got := gathered(t, d, "havip_cloud_")
	for _, gone := range []string{`havip_cloud_bound{instance="web"} 1`, `havip_cloud_agrees{instance="web"} 1`} {
		if slices.Contains(got, gone) {
			t.Errorf("after the release, still %s", gone)
		}
	}
	if !slices.Contains(got, `havip_cloud_bound{instance="web"} 0`) {
		t.Errorf("after the release, no havip_cloud_bound 0 for web in %q", got)
	}
}

// TestNoCloudMetrics: without a provider there is no cloud series.
func TestNoCloudMetrics(t *testing.T) {
	d := bareDaemon()
	prov, err := cloudbind.New(config.Cloud{Provider: config.ProviderNone}, cloudbind.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d.cloud = prov
	h, _, _ := testHolder(0)
	d.holders = map[string]*holder{"web": h}
	if got := gathered(t, d, "havip_cloud_"); len(got) > 0 {
		t.Errorf("cloud series with provider none: %q", got)
	}
	if got := gathered(t, d, "havip_announcements_sent_total"); len(got) != 1 {
		t.Errorf("announcements %q, want web's: the collector ran", got)
	}
}

// TestScrapeNameNotUTF8: a member, and a master, whose name is not
// valid UTF-8 (another member chose it) still makes a whole scrape,
// with the name's bad bytes replaced; one bad label would otherwise fail
// the scrape.
func TestScrapeNameNotUTF8(t *testing.T) {
	d := bareDaemon()
	d.metrics.state.status = func() election.Status {
		return election.Status{
			Node:      "a",
			Instances: []election.InstanceStatus{{Name: "web", State: election.StateBackup, Master: "b\xff"}},
			Members:   []election.MemberStatus{{Name: "a", State: election.MemberAlive}, {Name: "b\xff", State: election.MemberAlive, Priority: 100}},
		}
	}
	rec := httptest.NewRecorder()
	d.metrics.handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape: %d %s", rec.Code, rec.Body)
	}
	body := rec.Body.String()
	for _, want := range []string{
		"havip_member_state{member=\"b\uFFFD\",state=\"alive\"} 1",
		"havip_member_priority{member=\"b\uFFFD\"} 100",
		"havip_instance_master{instance=\"web\",master=\"b\uFFFD\"} 1",
		`havip_member_state{member="a",state="alive"} 1`,
		`havip_instance_state{instance="web",state="BACKUP"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
}
