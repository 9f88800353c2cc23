package daemon

import (
	"context"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/havip/havip/cloudbind"
	"github.com/havip/havip/config"
	"github.com/havip/havip/election"
	"github.com/havip/havip/health"
	"github.com/havip/havip/internal/httpserve"
	"github.com/havip/havip/internal/proc"
	"github.com/havip/havip/notify"
	"github.com/havip/havip/status"
)

// metrics are the Prometheus metrics of one daemon, in a registry of its
// own (no global state). Counters and histograms are updated as things
// happen; states are read from the election at scrape time.
type metrics struct {
	d   *Daemon
	reg *prometheus.Registry

	transitions    *prometheus.CounterVec
	failover       *prometheus.HistogramVec
	scriptRuns     *prometheus.CounterVec
	scriptDuration *prometheus.HistogramVec
	notifyRuns     *prometheus.CounterVec
	// state reads the election's state at scrape time.
	state *stateCollector
}

var states = []election.State{election.StateInit, election.StateBackup, election.StateMaster, election.StateFault}

var memberStates = []election.MemberState{election.MemberAlive, election.MemberSuspect, election.MemberDead, election.MemberLeft}

func newMetrics(d *Daemon) *metrics {
	m := &metrics{
		d:   d,
		reg: prometheus.NewRegistry(),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "havip_transitions_total",
			Help: "State transitions of each instance on this node.",
		}, []string{"instance", "from", "to"}),
		failover: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "havip_failover_duration_seconds",
			Help:    "Time from seeing the previous master go (left, dead or released) to this node holding the VIPs as MASTER.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"instance"}),
		scriptRuns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "havip_track_script_runs_total",
			Help: "Track script runs by result: success, failure or timeout.",
		}, []string{"instance", "script", "result"}),
		scriptDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "havip_track_script_duration_seconds",
			Help:    "How long track script runs took.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"instance", "script"}),
		notifyRuns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "havip_notify_runs_total",
			Help: "Notify command runs by state and result: success, failure or timeout.",
		}, []string{"instance", "state", "result"}),
		state: &stateCollector{d: d},
	}
	m.reg.MustRegister(m.transitions, m.failover, m.scriptRuns, m.scriptDuration, m.notifyRuns,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.state)
	return m
}

func (m *metrics) transition(t election.Transition) {
	m.transitions.WithLabelValues(t.Instance, t.From.String(), t.To.String()).Inc()
	if t.To == election.StateMaster && !t.MasterLost.IsZero() {
		// Now, not t.At: the transition is reported once the VIPs are on
		// the interface, and that is what the takeover is waiting for.
		m.failover.WithLabelValues(t.Instance).Observe(time.Since(t.MasterLost).Seconds())
	}
}

func result(r proc.Result) string {
	switch {
	case r.OK():
		return "success"
	case r.TimedOut:
		return "timeout"
	}
	return "failure"
}

func (m *metrics) scriptResult(instance string, st health.Status) {
	m.scriptRuns.WithLabelValues(instance, st.Name, result(st.Last)).Inc()
	m.scriptDuration.WithLabelValues(instance, st.Name).Observe(st.Last.Duration.Seconds())
}

func (m *metrics) notifyDone(e notify.Event, r proc.Result) {
	m.notifyRuns.WithLabelValues(e.Instance, e.State, result(r)).Inc()
}

// serve answers /metrics on l until ctx is done: the metrics task.
func (m *metrics) serve(ctx context.Context, l net.Listener) error {
	mux := http.NewServeMux()
	mux.Handle("/metrics", m.handler())
	return httpserve.Serve(ctx, l, mux, httpserve.WithLogger(m.d.log))
}

// handler answers a scrape.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// stateCollector reads the election's and the checks' state at scrape
// time.
type stateCollector struct {
	d *Daemon
	// status, when set, is read instead of the election's Status
	// (tests).
	status func() election.Status
}

var (
	descState = prometheus.NewDesc("havip_instance_state",
		"1 for the instance's current state on this node, 0 for the others.", []string{"instance", "state"}, nil)
	descMaster = prometheus.NewDesc("havip_instance_master",
		"1 for the node this node sees as the instance's master.", []string{"instance", "master"}, nil)
	descHolding = prometheus.NewDesc("havip_instance_holding",
		"1 while this node holds the instance's VIPs: as MASTER, or in FAULT while a failed release is tried again.", []string{"instance"}, nil)
	descPriority = prometheus.NewDesc("havip_instance_priority",
		"Configured priority.", []string{"instance"}, nil)
	descEffective = prometheus.NewDesc("havip_instance_effective_priority",
		"Priority this node publishes (0: not eligible).", []string{"instance"}, nil)
	descAnnounce = prometheus.NewDesc("havip_announcements_sent_total",
		"Gratuitous ARP and unsolicited neighbour advertisements sent.", []string{"instance"}, nil)
	descScriptHealthy = prometheus.NewDesc("havip_track_script_healthy",
		"1 while the track script counts as healthy (after rise and fall).", []string{"instance", "script"}, nil)
	descLinkUp = prometheus.NewDesc("havip_interface_up",
		"1 while an interface an instance uses or tracks is up.", []string{"interface"}, nil)
	descMember = prometheus.NewDesc("havip_member_state",
		"1 for each member's current state as this node sees it.", []string{"member", "state"}, nil)
	descMemberPriority = prometheus.NewDesc("havip_member_priority",
		"A member's highest effective priority over its instances.", []string{"member"}, nil)
	descMaintenance = prometheus.NewDesc("havip_maintenance",
		"1 while this node is drained.", nil, nil)
	descQuorum = prometheus.NewDesc("havip_quorum_members",
		"Members seen (this node included) and needed (0: quorum off).", []string{"kind"}, nil)
	descCloudBound = prometheus.NewDesc("havip_cloud_bound",
		"1 while the cloud forwards the instance's VIPs to this node, as its last successful step found.", []string{"instance"}, nil)
	descCloudAgrees = prometheus.NewDesc("havip_cloud_agrees",
		"1 while the cloud's binding matches this node's role, 0 while it does not; absent while unknown (not MASTER, or the last step failed).", []string{"instance"}, nil)
	descCloudError = prometheus.NewDesc("havip_cloud_error",
		"1 while the last step of the instance's cloud binding failed.", []string{"instance"}, nil)
	descCloudMoves = prometheus.NewDesc("havip_cloud_moves_total",
		"Writes this node made to the instance's cloud binding.", []string{"instance"}, nil)
	descCloudCalls = prometheus.NewDesc("havip_cloud_api_calls_total",
		"Cloud API calls (exec: command runs) the provider made since start, for all instances.", []string{"provider"}, nil)
)

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descState, descMaster, descHolding, descPriority, descEffective, descAnnounce,
		descScriptHealthy, descLinkUp, descMember, descMemberPriority, descMaintenance, descQuorum,
		descCloudBound, descCloudAgrees, descCloudError, descCloudMoves, descCloudCalls} {
		ch <- d
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	d := c.d
	d.mu.Lock()
	node := d.node
	sent := map[string]float64{}
	clouds := map[string]*status.Cloud{}
	for name, h := range d.holders {
		sent[name] = float64(h.sent.Load())
		if h.cloud != nil {
			clouds[name] = h.cloud.status()
		}
	}
	prov := d.cloud
	type sc struct {
		instance string
		st       health.Status
	}
	var scripts []sc
	for name, cs := range d.scripts {
		for _, c := range cs {
			scripts = append(scripts, sc{name, c.script.Status()})
		}
	}
	d.mu.Unlock()
	d.fmu.Lock()
	for ifname, reason := range d.linkState {
		ch <- prometheus.MustNewConstMetric(descLinkUp, prometheus.GaugeValue, b2f(reason == ""), ifname)
	}
	d.fmu.Unlock()
	for _, s := range scripts {
		ch <- prometheus.MustNewConstMetric(descScriptHealthy, prometheus.GaugeValue, b2f(s.st.Healthy), s.instance, s.st.Name)
	}
	for name, n := range sent {
		ch <- prometheus.MustNewConstMetric(descAnnounce, prometheus.CounterValue, n, name)
	}
	collectCloud(ch, prov, clouds)
	var s election.Status
	switch {
	case c.status != nil:
		s = c.status()
	case node != nil:
		s = node.Status()
	default:
		return
	}
	ch <- prometheus.MustNewConstMetric(descMaintenance, prometheus.GaugeValue, b2f(s.Maintenance))
	ch <- prometheus.MustNewConstMetric(descQuorum, prometheus.GaugeValue, float64(s.QuorumSeen), "seen")
	ch <- prometheus.MustNewConstMetric(descQuorum, prometheus.GaugeValue, float64(s.QuorumNeeded), "needed")
	for _, in := range s.Instances {
		for _, st := range states {
			ch <- prometheus.MustNewConstMetric(descState, prometheus.GaugeValue, b2f(in.State == st), in.Name, st.String())
		}
		if in.Master != "" {
			ch <- prometheus.MustNewConstMetric(descMaster, prometheus.GaugeValue, 1, in.Name, labelValue(in.Master))
		}
		ch <- prometheus.MustNewConstMetric(descHolding, prometheus.GaugeValue, b2f(in.Holding), in.Name)
		ch <- prometheus.MustNewConstMetric(descPriority, prometheus.GaugeValue, float64(in.Priority), in.Name)
		ch <- prometheus.MustNewConstMetric(descEffective, prometheus.GaugeValue, float64(in.EffectivePriority), in.Name)
	}
	for _, m := range s.Members {
		for _, st := range memberStates {
			ch <- prometheus.MustNewConstMetric(descMember, prometheus.GaugeValue, b2f(m.State == st), labelValue(m.Name), string(st))
		}
		ch <- prometheus.MustNewConstMetric(descMemberPriority, prometheus.GaugeValue, float64(m.Priority), labelValue(m.Name))
	}
}

// collectCloud sends each instance's cloud binding and the provider's
// calls; nothing with provider none.
func collectCloud(ch chan<- prometheus.Metric, prov cloudbind.Provider, clouds map[string]*status.Cloud) {
	if prov == nil || prov.Name() == config.ProviderNone {
		return
	}
	ch <- prometheus.MustNewConstMetric(descCloudCalls, prometheus.CounterValue, float64(prov.Calls()), prov.Name())
	for name, c := range clouds {
		ch <- prometheus.MustNewConstMetric(descCloudBound, prometheus.GaugeValue, b2f(c.Bound), name)
		if c.Agrees != nil {
			ch <- prometheus.MustNewConstMetric(descCloudAgrees, prometheus.GaugeValue, b2f(*c.Agrees), name)
		}
		ch <- prometheus.MustNewConstMetric(descCloudError, prometheus.GaugeValue, b2f(c.Result == "error"), name)
		ch <- prometheus.MustNewConstMetric(descCloudMoves, prometheus.CounterValue, float64(c.Moves), name)
	}
}
