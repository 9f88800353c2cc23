package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// DefaultNotifyTimeout ends a notify command that runs longer.
const DefaultNotifyTimeout = 30 * time.Second

// DefaultBind is the memberlist address used when node.bind is not set.
const DefaultBind = "0.0.0.0:7946"

// MaxInstances is the most instances one file may define. Every member
// publishes the state of each instance (name, priority, flags) in its
// memberlist node metadata, which memberlist limits to 512 bytes (it
// panics beyond); 12 instances with names of up to MaxInstanceNameLen
// bytes leave room for the encoding and a format version.
const MaxInstances = 12

// MaxInstanceNameLen is the longest instance name, for the same reason.
const MaxInstanceNameLen = 32

// maxNameLen is the longest node or cluster name.
const maxNameLen = 64

// maxSocketPath is the longest path a unix socket address can hold
// (sun_path is 108 bytes with its terminating NUL).
const maxSocketPath = 107

// ParseOptions changes what ParseWithOptions checks.
type ParseOptions struct {
	// SkipKeyFile leaves cluster.secret_key_file (and the cloud credential
	// files) unread: its path is still resolved, but the file is not
	// opened and SecretKey stays nil. For
	// checking a file away from the machine it is meant for; never for
	// running the daemon.
	SkipKeyFile bool
}

// Load reads the configuration file at path; see Parse.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, Errors{{File: path, Msg: "cannot read the configuration: " + errText(err)}}
	}
	return Parse(data, path)
}

// Parse decodes, completes and checks a configuration, and reads the
// secret key file it names. path is the file the data came from: it
// appears in messages, and relative paths in the file (the key file, the
// status socket) are relative to its directory; it may be empty.
//
// On failure the error is an Errors holding every problem found, each
// an *Error naming the file, the key and what is wrong.
func Parse(data []byte, path string) (*Config, error) {
	return ParseWithOptions(data, path, ParseOptions{})
}

// ParseWithOptions is Parse with options.
func ParseWithOptions(data []byte, path string, opts ParseOptions) (*Config, error) {
	c := &collector{file: path}

	// A first, generic decoding finds syntax errors, unknown keys and
	// tables given as plain values.
	var doc map[string]any
	if _, err := toml.Decode(string(data), &doc); err != nil {
		c.decodeError(err)
		return nil, c.errs
	}
	if !checkShape(doc, c) {
		return nil, c.errs
	}

	var raw rawFile
	if _, err := toml.Decode(string(data), &raw); err != nil {
		// checkShape has ruled out what could fail here.
		c.decodeError(err)
		return nil, c.errs
	}
	applyDefaults(&raw, c)
	cfg := build(&raw, path, opts, c)
	if len(c.errs) > 0 {
		return nil, c.errs
	}
	return cfg, nil
}

// collector gathers the problems of one file.
type collector struct {
	file string
	errs Errors
}

func (c *collector) add(key, format string, args ...any) {
	c.errs = append(c.errs, &Error{File: c.file, Key: key, Msg: fmt.Sprintf(format, args...)})
}

// valid reports a leaf's type problem, if any, and says whether its value
// can be used.
func (c *collector) valid(key, problem string) bool {
	if problem != "" {
		c.add(key, "%s", problem)
		return false
	}
	return true
}

func (c *collector) decodeError(err error) {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		c.errs = append(c.errs, &Error{File: c.file, Line: pe.Position.Line, Msg: pe.Message})
		return
	}
	c.add("", "%s", strings.TrimPrefix(err.Error(), "toml: "))
}

// applyDefaults fills in every key the file leaves out. It is the one
// place defaults are set. Keys stay marked as not set, so that messages
// can tell a value from the file from a default. The advertise address
// is the exception: it follows node.bind, so build derives it.
func applyDefaults(f *rawFile, c *collector) {
	if !f.Node.Name.set {
		h, err := os.Hostname()
		if err != nil {
			c.add("node.name", "not set, and the hostname cannot be read (%v); set node.name", err)
		}
		f.Node.Name.val = h
	}
	f.Node.Bind.setDefault(DefaultBind)
	f.Node.StateDir.setDefault(DefaultStateDir)

	f.Cluster.Quorum.setDefault(string(QuorumAuto))
	f.Cluster.Timing.setDefault(DefaultProfile)
	// The raw knobs start from the profile; an unknown profile is
	// reported by build, and the knobs then start from the default one.
	profile, ok := Profile(f.Cluster.Timing.val)
	if !ok {
		profile, _ = Profile(DefaultProfile)
	}
	durs, ints := knobs(&f.Cluster.Tuning, &profile)
	for _, k := range durs {
		k.raw.setDefault(*k.val)
	}
	for _, k := range ints {
		k.raw.setDefault(*k.val)
	}

	for i := range f.Instances {
		in := &f.Instances[i]
		in.Priority.setDefault(100)
		in.Preempt.setDefault(true)
		in.PreemptDelay.setDefault(0)
		in.AnnounceCount.setDefault(5)
		in.AnnounceInterval.setDefault(200 * time.Millisecond)
		in.AnnounceRefresh.setDefault(0)
		in.NotifyTimeout.setDefault(DefaultNotifyTimeout)
		for j := range in.TrackScripts {
			sc := &in.TrackScripts[j]
			sc.Interval.setDefault(2 * time.Second)
			sc.Timeout.setDefault(time.Second)
			sc.Rise.setDefault(2)
			sc.Fall.setDefault(2)
			sc.Weight.setDefault(0)
		}
	}

	f.Status.Socket.setDefault(DefaultSocket)
	applyCloudDefaults(&f.Cloud)
}

func (o *optString) setDefault(v string) {
	if !o.set {
		o.val = v
	}
}

func (o *optInt) setDefault(v int) {
	if !o.set {
		o.val = v
	}
}

func (o *optBool) setDefault(v bool) {
	if !o.set {
		o.val = v
	}
}

func (o *optDuration) setDefault(v time.Duration) {
	if !o.set {
		o.val = v
	}
}

// durKnob and intKnob tie a [cluster.tuning] key to its Timing field and
// its lowest allowed value.
type durKnob struct {
	name string
	raw  *optDuration
	val  *time.Duration
	min  time.Duration
}

type intKnob struct {
	name string
	raw  *optInt
	val  *int
	min  int
}

func knobs(r *rawTuning, t *Timing) ([]durKnob, []intKnob) {
	const positive = time.Nanosecond
	durs := []durKnob{
		{"probe_interval", &r.ProbeInterval, &t.ProbeInterval, positive},
		{"probe_timeout", &r.ProbeTimeout, &t.ProbeTimeout, positive},
		{"gossip_interval", &r.GossipInterval, &t.GossipInterval, positive},
		{"push_pull_interval", &r.PushPullInterval, &t.PushPullInterval, positive},
		{"tcp_timeout", &r.TCPTimeout, &t.TCPTimeout, positive},
		{"rejoin_interval", &r.RejoinInterval, &t.RejoinInterval, positive},
		// 0 lets a node that reached no peer take its VIPs at once.
		{"startup_grace", &r.StartupGrace, &t.StartupGrace, 0},
		{"heartbeat_interval", &r.HeartbeatInterval, &t.HeartbeatInterval, positive},
		{"lease", &r.Lease, &t.Lease, positive},
		{"lease_margin", &r.LeaseMargin, &t.LeaseMargin, 0},
		// 0 leaves failure detection to memberlist.
		{"heartbeat_timeout", &r.HeartbeatTimeout, &t.HeartbeatTimeout, 0},
	}
	ints := []intKnob{
		{"suspicion_mult", &r.SuspicionMult, &t.SuspicionMult, 1},
		{"suspicion_max_timeout_mult", &r.SuspicionMaxTimeoutMult, &t.SuspicionMaxTimeoutMult, 1},
		// 0 turns indirect probes off.
		{"indirect_checks", &r.IndirectChecks, &t.IndirectChecks, 0},
		// 1 turns Lifeguard awareness off.
		{"awareness_max_multiplier", &r.AwarenessMaxMultiplier, &t.AwarenessMaxMultiplier, 1},
		{"gossip_nodes", &r.GossipNodes, &t.GossipNodes, 1},
		{"retransmit_mult", &r.RetransmitMult, &t.RetransmitMult, 1},
	}
	return durs, ints
}

// build turns the completed raw file into a Config, reporting every
// value that is wrong.
func build(f *rawFile, path string, opts ParseOptions, c *collector) *Config {
	dir := ""
	if path != "" {
		dir = filepath.Dir(path)
	}
	cfg := &Config{Path: path}
	buildNode(f, cfg, c)
	peerIPs := buildCluster(f, cfg, dir, opts, c)
	buildInstances(f, cfg, peerIPs, c)
	buildCloud(f, cfg, dir, opts, c)

	if c.valid("status.socket", f.Status.Socket.problem) {
		s := f.Status.Socket.val
		switch {
		case s == "":
			c.add("status.socket", "must not be empty")
		default:
			s = resolve(dir, s)
			if len(s) > maxSocketPath {
				c.add("status.socket", "%q is %d bytes long; a unix socket path holds at most %d", s, len(s), maxSocketPath)
			}
		}
		cfg.Status.Socket = s
	}
	if c.valid("status.metrics", f.Status.Metrics.problem) {
		if m := f.Status.Metrics.val; m != "" {
			if msg := checkListenAddr(m); msg != "" {
				c.add("status.metrics", "%s", msg)
			}
			cfg.Status.Metrics = m
		}
	}
	if c.valid("node.state_dir", f.Node.StateDir.problem) {
		if f.Node.StateDir.val == "" {
			c.add("node.state_dir", "must not be empty")
		}
		cfg.Node.StateDir = resolve(dir, f.Node.StateDir.val)
	}
	return cfg
}

// checkListenAddr says why s is not a "host:port" TCP address to listen
// on, or "". The host may be empty (every address), an IP address or
// "localhost".
func checkListenAddr(s string) string {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Sprintf(`%q is not "host:port" (for example "127.0.0.1:9650")`, s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Sprintf("%q: port %q is not a number in 1..65535", s, port)
	}
	if host != "" && host != "localhost" {
		if _, err := netip.ParseAddr(host); err != nil {
			return fmt.Sprintf("%q: %q is not an IP address", s, host)
		}
	}
	return ""
}

func buildNode(f *rawFile, cfg *Config, c *collector) {
	n := &f.Node
	if c.valid("node.name", n.Name.problem) && (n.Name.set || n.Name.val != "") {
		if msg := checkName(n.Name.val, maxNameLen); msg != "" {
			if n.Name.set {
				c.add("node.name", "%q %s", n.Name.val, msg)
			} else {
				c.add("node.name", "not set, and the hostname %q %s; set node.name", n.Name.val, msg)
			}
		}
		cfg.Node.Name = n.Name.val
	}

	bindPort := uint16(DefaultPort)
	if c.valid("node.bind", n.Bind.problem) {
		ap, msg := parseAddrPort(n.Bind.val, DefaultPort)
		if msg == "" {
			msg = badUse(ap.Addr(), "a bind address", false)
		}
		if msg != "" {
			c.add("node.bind", "%s", msg)
		} else {
			cfg.Node.Bind = ap
			bindPort = ap.Port()
		}
	}

	if c.valid("node.advertise", n.Advertise.problem) {
		switch {
		case n.Advertise.val != "":
			// Without a port, peers reach us on the port we bind.
			ap, msg := parseAddrPort(n.Advertise.val, bindPort)
			if msg == "" {
				msg = badUse(ap.Addr(), "an advertise address", true)
			}
			if msg != "" {
				c.add("node.advertise", "%s", msg)
			} else {
				cfg.Node.Advertise = ap
			}
		case cfg.Node.Bind.IsValid() && !cfg.Node.Bind.Addr().IsUnspecified():
			cfg.Node.Advertise = cfg.Node.Bind
		default:
			// Bound to every address: memberlist picks one to advertise.
		}
	}
}

// buildCluster fills cfg.Cluster and returns the peers given as IP
// addresses, by key, for the VIP checks.
func buildCluster(f *rawFile, cfg *Config, dir string, opts ParseOptions, c *collector) map[netip.Addr]string {
	r := &f.Cluster
	out := &cfg.Cluster

	if c.valid("cluster.name", r.Name.problem) {
		if !r.Name.set {
			c.add("cluster.name", "is required (it keeps clusters on one network apart)")
		} else if msg := checkName(r.Name.val, maxNameLen); msg != "" {
			c.add("cluster.name", "%q %s", r.Name.val, msg)
		}
		out.Name = r.Name.val
	}

	peerIPs := map[netip.Addr]string{}
	if c.valid("cluster.peers", r.Peers.problem) {
		out.Peers = []string{}
		seen := map[string]int{}
		for i, p := range r.Peers.val {
			key := fmt.Sprintf("cluster.peers[%d]", i)
			out.Peers = append(out.Peers, p)
			norm, ap, msg := parsePeer(p)
			if msg != "" {
				c.add(key, "%s", msg)
				continue
			}
			if j, dup := seen[norm]; dup {
				c.add(key, "%q is already listed as cluster.peers[%d]", p, j)
				continue
			}
			seen[norm] = i
			if !ap.IsValid() {
				continue
			}
			for _, own := range []struct {
				key string
				ap  netip.AddrPort
			}{{"node.bind", cfg.Node.Bind}, {"node.advertise", cfg.Node.Advertise}} {
				if own.ap.IsValid() && !own.ap.Addr().IsUnspecified() &&
					own.ap.Addr().Unmap() == ap.Addr() && own.ap.Port() == ap.Port() {
					c.add(key, "%q is this node's own address (%s); list only the other members", p, own.key)
					break
				}
			}
			peerIPs[ap.Addr()] = key
		}
	}

	keyOK := c.valid("cluster.secret_key_file", r.SecretKeyFile.problem)
	insecureOK := c.valid("cluster.insecure", r.Insecure.problem)
	keyFile := r.SecretKeyFile.val
	out.Insecure = r.Insecure.val
	if keyFile != "" {
		out.SecretKeyFile = resolve(dir, keyFile)
	}
	switch {
	case !keyOK || !insecureOK:
	case keyFile != "" && out.Insecure:
		c.add("cluster.insecure", "cannot be true together with cluster.secret_key_file; remove one of them")
	case keyFile == "" && !out.Insecure:
		c.add("cluster.secret_key_file", "not set: give a file holding a base64 key (make one with %q), or set cluster.insecure = true to run without encryption", keygenHint)
	case keyFile != "" && !opts.SkipKeyFile:
		key, problems := readKey(out.SecretKeyFile)
		for _, p := range problems {
			c.add("cluster.secret_key_file", "%s", p)
		}
		if len(problems) == 0 {
			out.SecretKey = key
		}
	}

	if c.valid("cluster.quorum", r.Quorum.problem) {
		switch q := Quorum(r.Quorum.val); q {
		case QuorumAuto, QuorumMajority, QuorumOff:
			out.Quorum = q
		default:
			c.add("cluster.quorum", "unknown quorum mode %q (want %s)", r.Quorum.val,
				orList([]string{string(QuorumAuto), string(QuorumMajority), string(QuorumOff)}))
		}
	}

	if c.valid("cluster.timing", r.Timing.problem) {
		if _, ok := Profile(r.Timing.val); !ok {
			c.add("cluster.timing", "unknown timing profile %q (want %s)", r.Timing.val, orList(ProfileNames()))
		}
		out.Timing.Profile = r.Timing.val
	}
	buildTiming(r, &out.Timing, c)
	return peerIPs
}

// buildTiming copies and checks the knobs, already filled from the
// profile by applyDefaults.
func buildTiming(r *rawCluster, t *Timing, c *collector) {
	durs, ints := knobs(&r.Tuning, t)
	profile := r.Timing.val
	if _, ok := Profile(profile); !ok {
		profile = DefaultProfile
	}
	from := func(set bool) string {
		if set {
			return ""
		}
		return fmt.Sprintf(" (from timing profile %q)", profile)
	}
	bad := map[string]bool{}
	for _, k := range durs {
		key := "cluster.tuning." + k.name
		if !c.valid(key, k.raw.problem) {
			bad[k.name] = true
			continue
		}
		if k.raw.val < k.min {
			bad[k.name] = true
			if k.min == 0 {
				c.add(key, "must not be negative, not %s", k.raw.val)
			} else {
				c.add(key, "must be more than 0, not %s", k.raw.val)
			}
		}
		*k.val = k.raw.val
	}
	for _, k := range ints {
		key := "cluster.tuning." + k.name
		if !c.valid(key, k.raw.problem) {
			continue
		}
		if k.raw.val < k.min {
			c.add(key, "must be at least %d, not %d", k.min, k.raw.val)
		}
		*k.val = k.raw.val
	}

	hb, ls := &r.Tuning.HeartbeatInterval, &r.Tuning.Lease
	if !bad["heartbeat_interval"] && !bad["lease"] && ls.val < 2*hb.val {
		key := "cluster.tuning.heartbeat_interval"
		if ls.set {
			key = "cluster.tuning.lease"
		}
		c.add(key, "lease %s%s must be at least twice heartbeat_interval %s%s",
			ls.val, from(ls.set), hb.val, from(hb.set))
	}

	if ht := &r.Tuning.HeartbeatTimeout; !bad["heartbeat_interval"] && !bad["heartbeat_timeout"] && ht.val > 0 && ht.val < 2*hb.val {
		key := "cluster.tuning.heartbeat_interval"
		if ht.set {
			key = "cluster.tuning.heartbeat_timeout"
		}
		c.add(key, "heartbeat_timeout %s%s must be 0 (off) or at least twice heartbeat_interval %s%s",
			ht.val, from(ht.set), hb.val, from(hb.set))
	}

	pi, pt := &r.Tuning.ProbeInterval, &r.Tuning.ProbeTimeout
	if !bad["probe_interval"] && !bad["probe_timeout"] && pt.val >= pi.val {
		key := "cluster.tuning.probe_interval"
		if pt.set {
			key = "cluster.tuning.probe_timeout"
		}
		c.add(key, "probe_timeout %s%s must be shorter than probe_interval %s%s",
			pt.val, from(pt.set), pi.val, from(pi.set))
	}
}

func buildInstances(f *rawFile, cfg *Config, peerIPs map[netip.Addr]string, c *collector) {
	if n := len(f.Instances); n > MaxInstances {
		c.add("instance", "%d instances; at most %d fit in the node metadata every member publishes", n, MaxInstances)
	}
	names := map[string]int{}
	vips := map[netip.Prefix]string{}
	own := map[netip.Addr]string{}
	if cfg.Node.Bind.IsValid() && !cfg.Node.Bind.Addr().IsUnspecified() {
		own[cfg.Node.Bind.Addr().Unmap()] = "node.bind"
	}
	if a := cfg.Node.Advertise; a.IsValid() && own[a.Addr().Unmap()] == "" {
		own[a.Addr().Unmap()] = "node.advertise"
	}

	cfg.Instances = make([]Instance, len(f.Instances))
	for i := range f.Instances {
		r := &f.Instances[i]
		out := &cfg.Instances[i]
		var name any
		if r.Name.problem == "" {
			name = r.Name.val
		}
		at := itemKey("instance", i, name)
		key := func(k string) string { return joinKey(at, k) }

		if c.valid(key("name"), r.Name.problem) {
			switch {
			case !r.Name.set:
				c.add(key("name"), "is required")
			default:
				if msg := checkName(r.Name.val, MaxInstanceNameLen); msg != "" {
					c.add(key("name"), "%q %s", r.Name.val, msg)
				} else if j, dup := names[r.Name.val]; dup {
					c.add(key("name"), "%q is already the name of instance[%d]", r.Name.val, j)
				} else {
					names[r.Name.val] = i
				}
			}
			out.Name = r.Name.val
		}

		if c.valid(key("interface"), r.Interface.problem) {
			switch {
			case !r.Interface.set:
				c.add(key("interface"), "is required")
			case !validIfName(r.Interface.val):
				c.add(key("interface"), "%q is not a valid interface name (%s)", r.Interface.val, ifNameRule)
			}
			out.Interface = r.Interface.val
		}

		if c.valid(key("vips"), r.VIPs.problem) {
			if len(r.VIPs.val) == 0 {
				c.add(key("vips"), "at least one VIP is required")
			}
			out.VIPs = []netip.Prefix{}
			for j, s := range r.VIPs.val {
				vkey := key(fmt.Sprintf("vips[%d]", j))
				p, msg := parseVIP(s)
				if msg != "" {
					c.add(vkey, "%s", msg)
					continue
				}
				if prev, dup := vips[p]; dup {
					c.add(vkey, "%q is already used at %s", s, prev)
					continue
				}
				vips[p] = fmt.Sprintf("%s vips[%d]", at, j)
				if k, ok := own[p.Addr()]; ok {
					c.add(vkey, "%q is this node's own address (%s); a VIP must be an address no member owns", s, k)
				} else if k, ok := peerIPs[p.Addr()]; ok {
					c.add(vkey, "%q is the address of a peer (%s); a VIP must be an address no member owns", s, k)
				}
				out.VIPs = append(out.VIPs, p)
			}
		}

		if c.valid(key("priority"), r.Priority.problem) {
			if v := r.Priority.val; v < 1 || v > 255 {
				c.add(key("priority"), "must be 1..255, not %d", v)
			}
			out.Priority = r.Priority.val
		}
		if c.valid(key("preempt"), r.Preempt.problem) {
			out.Preempt = r.Preempt.val
		}
		if c.valid(key("preempt_delay"), r.PreemptDelay.problem) {
			if v := r.PreemptDelay.val; v < 0 {
				c.add(key("preempt_delay"), "must not be negative, not %s", v)
			}
			out.PreemptDelay = r.PreemptDelay.val
		}
		if c.valid(key("announce_count"), r.AnnounceCount.problem) {
			if v := r.AnnounceCount.val; v < 1 || v > 100 {
				c.add(key("announce_count"), "must be 1..100, not %d", v)
			}
			out.Announce.Count = r.AnnounceCount.val
		}
		if c.valid(key("announce_interval"), r.AnnounceInterval.problem) {
			if v := r.AnnounceInterval.val; v < time.Millisecond || v > 10*time.Second {
				c.add(key("announce_interval"), "must be 1ms..10s, not %s", v)
			}
			out.Announce.Interval = r.AnnounceInterval.val
		}
		if c.valid(key("announce_refresh"), r.AnnounceRefresh.problem) {
			if v := r.AnnounceRefresh.val; v != 0 && v < time.Second {
				c.add(key("announce_refresh"), "must be 0 (off) or at least 1s, not %s", v)
			}
			out.Announce.Refresh = r.AnnounceRefresh.val
		}
		buildHealth(r, out, key, c)
	}
}

// buildHealth checks an instance's track_interfaces, track_script and
// notify keys.
func buildHealth(r *rawInstance, out *Instance, key func(string) string, c *collector) {
	if c.valid(key("track_interfaces"), r.TrackInterfaces.problem) {
		seen := map[string]int{}
		for j, ifname := range r.TrackInterfaces.val {
			k := key(fmt.Sprintf("track_interfaces[%d]", j))
			switch prev, dup := seen[ifname]; {
			case !validIfName(ifname):
				c.add(k, "%q is not a valid interface name (1 to 15 bytes, no '/', ':', spaces or control characters)", ifname)
			case dup:
				c.add(k, "%q is already listed as track_interfaces[%d]", ifname, prev)
			default:
				seen[ifname] = j
				out.TrackInterfaces = append(out.TrackInterfaces, ifname)
			}
		}
	}

	names := map[string]int{}
	for j := range r.TrackScripts {
		rs := &r.TrackScripts[j]
		var name any
		if rs.Name.problem == "" {
			name = rs.Name.val
		}
		at := itemKey(key("track_script"), j, name)
		sk := func(k string) string { return joinKey(at, k) }
		var ts TrackScript
		if c.valid(sk("name"), rs.Name.problem) {
			switch {
			case !rs.Name.set:
				c.add(sk("name"), "is required")
			default:
				if msg := checkName(rs.Name.val, maxNameLen); msg != "" {
					c.add(sk("name"), "%q %s", rs.Name.val, msg)
				} else if prev, dup := names[rs.Name.val]; dup {
					c.add(sk("name"), "%q is already the name of track_script[%d]", rs.Name.val, prev)
				} else {
					names[rs.Name.val] = j
				}
			}
			ts.Name = rs.Name.val
		}
		if c.valid(sk("command"), rs.Command.problem) {
			if msg := checkArgv(rs.Command.val, rs.Command.set); msg != "" {
				c.add(sk("command"), "%s", msg)
			}
			ts.Command = rs.Command.val
		}
		if c.valid(sk("interval"), rs.Interval.problem) {
			if v := rs.Interval.val; v < 10*time.Millisecond || v > time.Hour {
				c.add(sk("interval"), "must be 10ms..1h, not %s", v)
			}
			ts.Interval = rs.Interval.val
		}
		if c.valid(sk("timeout"), rs.Timeout.problem) {
			if v := rs.Timeout.val; v < 10*time.Millisecond || v > time.Hour {
				c.add(sk("timeout"), "must be 10ms..1h, not %s", v)
			}
			ts.Timeout = rs.Timeout.val
		}
		for _, n := range []struct {
			name string
			raw  *optInt
			val  *int
		}{{"rise", &rs.Rise, &ts.Rise}, {"fall", &rs.Fall, &ts.Fall}} {
			if c.valid(sk(n.name), n.raw.problem) {
				if v := n.raw.val; v < 1 || v > 100 {
					c.add(sk(n.name), "must be 1..100, not %d", v)
				}
				*n.val = n.raw.val
			}
		}
		if c.valid(sk("weight"), rs.Weight.problem) {
			if v := rs.Weight.val; v < 0 || v > 254 {
				c.add(sk("weight"), "must be 0 (a failure means FAULT) or 1..254 (a failure lowers the priority by that much), not %d", v)
			}
			ts.Weight = rs.Weight.val
		}
		out.TrackScripts = append(out.TrackScripts, ts)
	}

	for _, n := range []struct {
		name string
		raw  *optStrings
		val  *[]string
	}{{"master", &r.Notify.Master, &out.Notify.Master}, {"backup", &r.Notify.Backup, &out.Notify.Backup}, {"fault", &r.Notify.Fault, &out.Notify.Fault}} {
		k := key("notify." + n.name)
		if !n.raw.set || !c.valid(k, n.raw.problem) {
			continue
		}
		if msg := checkArgv(n.raw.val, true); msg != "" {
			c.add(k, "%s", msg)
		}
		*n.val = n.raw.val
	}
	if c.valid(key("notify_timeout"), r.NotifyTimeout.problem) {
		if v := r.NotifyTimeout.val; v < 100*time.Millisecond || v > time.Hour {
			c.add(key("notify_timeout"), "must be 100ms..1h, not %s", v)
		}
		out.Notify.Timeout = r.NotifyTimeout.val
	}
}

// checkArgv says why a command (an argv run without a shell) is unusable,
// or "".
func checkArgv(argv []string, set bool) string {
	switch {
	case !set:
		return `is required: the program and its arguments, as a list (["/usr/bin/curl", "-fsS", "http://127.0.0.1/"])`
	case len(argv) == 0:
		return "must name a program: the list is empty"
	case strings.TrimSpace(argv[0]) == "":
		return "must name a program: the first item is empty"
	case len(argv) == 1 && strings.ContainsAny(strings.TrimSpace(argv[0]), " \t"):
		return fmt.Sprintf("%q is run as one program name, without a shell; give the program and each argument as separate items", argv[0])
	}
	return ""
}

// checkName returns why s is not a valid node, cluster or instance name,
// or "".
func checkName(s string, maxLen int) string {
	ok := len(s) >= 1 && len(s) <= maxLen
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-') {
			ok = false
		}
	}
	if ok {
		return ""
	}
	return fmt.Sprintf("is not a valid name (1 to %d characters of A-Z, a-z, 0-9, '_', '.' and '-')", maxLen)
}

// parseAddrPort parses "ip", "[ipv6]" or "ip:port"; an address without a
// port gets defPort. It returns a message instead of an error.
func parseAddrPort(s string, defPort uint16) (netip.AddrPort, string) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		if ap.Port() == 0 {
			return netip.AddrPort{}, fmt.Sprintf("%q: port must be 1..65535, not 0", s)
		}
		return ap, ""
	}
	h := s
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		h = h[1 : len(h)-1]
	}
	if a, err := netip.ParseAddr(h); err == nil {
		return netip.AddrPortFrom(a, defPort), ""
	}
	if host, port, err := net.SplitHostPort(s); err == nil {
		if _, err := netip.ParseAddr(host); err == nil {
			return netip.AddrPort{}, fmt.Sprintf("%q: port %q is not a number in 1..65535", s, port)
		}
	}
	return netip.AddrPort{}, fmt.Sprintf(`%q is not an IP address or "IP:port"`, s)
}

// badUse says why a cannot be used as what, or "". Bind addresses may be
// unspecified (0.0.0.0 or ::); advertise addresses may not.
func badUse(a netip.Addr, what string, needSpecified bool) string {
	kind := ""
	switch {
	case a.IsUnspecified() && needSpecified:
		kind = "unspecified"
	case a.IsMulticast():
		kind = "multicast"
	case a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		kind = "the broadcast address"
	}
	if kind == "" {
		return ""
	}
	return fmt.Sprintf("%q cannot be %s: it is %s", a, what, kind)
}

// parsePeer checks a "host:port" peer address. It returns a form for
// finding duplicates, the address when the host is an IP address, and a
// message when the peer is unusable.
func parsePeer(s string) (norm string, ap netip.AddrPort, msg string) {
	bare := strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	if a, err := netip.ParseAddr(bare); err == nil {
		hint := netip.AddrPortFrom(a, DefaultPort).String()
		return "", ap, fmt.Sprintf("%q has no port (write %q)", s, hint)
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		var ae *net.AddrError
		if errors.As(err, &ae) && ae.Err == "missing port in address" {
			return "", ap, fmt.Sprintf("%q has no port (write %q)", s, s+":"+strconv.Itoa(DefaultPort))
		}
		return "", ap, fmt.Sprintf(`%q is not "host:port" (write IPv6 addresses in brackets: "[2001:db8::1]:7946")`, s)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 || port[0] == '+' || port[0] == '-' {
		return "", ap, fmt.Sprintf("%q: port %q is not a number in 1..65535", s, port)
	}
	if host == "" {
		return "", ap, fmt.Sprintf("%q has no host", s)
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if msg := badUse(a, "a peer address", true); msg != "" {
			return "", ap, msg
		}
		ap = netip.AddrPortFrom(a.Unmap(), uint16(n))
		return ap.String(), ap, ""
	}
	if looksNumeric(host) {
		return "", ap, fmt.Sprintf("%q is not an IP address", host)
	}
	if !validDNSName(host) {
		return "", ap, fmt.Sprintf("%q is not an IP address or a DNS name", host)
	}
	return strings.ToLower(strings.TrimSuffix(host, ".")) + ":" + port, ap, ""
}

// looksNumeric reports whether host's last label is all digits, as in a
// mistyped IPv4 address ("10.0.0.300"); no top-level domain is numeric.
func looksNumeric(host string) bool {
	last := host[strings.LastIndex(strings.TrimSuffix(host, "."), ".")+1:]
	last = strings.TrimSuffix(last, ".")
	if last == "" {
		return false
	}
	for _, r := range last {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// validDNSName checks a host name: labels of 1 to 63 letters, digits and
// hyphens, not starting or ending with a hyphen; 253 characters at most;
// an optional final dot.
func validDNSName(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// parseVIP parses a VIP: an address, or an address with /32 or /128.
func parseVIP(s string) (netip.Prefix, string) {
	var a netip.Addr
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Sprintf("%q is not an IP address", s)
		}
		if p.Bits() != p.Addr().BitLen() {
			return netip.Prefix{}, fmt.Sprintf("%q must be a host address (/32 or /128)", s)
		}
		a = p.Addr()
	} else {
		var err error
		if a, err = netip.ParseAddr(s); err != nil {
			return netip.Prefix{}, fmt.Sprintf("%q is not an IP address", s)
		}
	}
	kind := ""
	switch {
	case a.Zone() != "":
		return netip.Prefix{}, fmt.Sprintf("%q cannot be a VIP: remove the zone", s)
	case a.Is4In6():
		return netip.Prefix{}, fmt.Sprintf("%q cannot be a VIP: it is an IPv4-mapped IPv6 address; write %q", s, a.Unmap())
	case a.IsUnspecified():
		kind = "unspecified"
	case a.IsLoopback():
		kind = "a loopback address"
	case a.IsMulticast():
		kind = "multicast"
	case a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		kind = "the broadcast address"
	case a.Is6() && a.IsLinkLocalUnicast():
		kind = "an IPv6 link-local address"
	}
	if kind != "" {
		return netip.Prefix{}, fmt.Sprintf("%q cannot be a VIP: it is %s", s, kind)
	}
	return netip.PrefixFrom(a, a.BitLen()), ""
}

// readKey reads and checks a secret key file. It returns the key, or
// every problem with the file.
func readKey(path string) ([]byte, []string) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, []string{fmt.Sprintf("cannot read %q: %s", path, errText(err))}
	}
	if !fi.Mode().IsRegular() {
		return nil, []string{fmt.Sprintf("%q is not a regular file", path)}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, []string{fmt.Sprintf("cannot read %q: %s", path, errText(err))}
	}

	problems := keyAccessProblems(path, fi)

	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(data)))
	switch {
	case err != nil:
		problems = append(problems, fmt.Sprintf("%q is not valid base64 (%v); make a key with %q", path, err, keygenHint))
	case len(key) != 16 && len(key) != 24 && len(key) != 32:
		problems = append(problems, fmt.Sprintf("%q decodes to %d bytes; a key must be 16, 24 or 32 bytes", path, len(key)))
	}
	if len(problems) > 0 {
		return nil, problems
	}
	return key, nil
}

// resolve makes a relative path relative to the configuration's directory.
func resolve(dir, p string) string {
	if dir == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

// errText is the reason of a file error without the path it repeats.
func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// orList joins names as `"a", "b" or "c"`.
func orList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	if len(q) < 2 {
		return strings.Join(q, "")
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}
