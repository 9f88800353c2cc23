package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"
)

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

	peerIPs := buildPeers(r, cfg, c)
	buildSecretKey(r, out, dir, opts, c)

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
	buildTiming(r, &out.Timing, out.QuorumNeeded() > 0, c)
	return peerIPs
}

// buildPeers checks cluster.peers and fills cfg.Cluster.Peers. It returns
// the peers given as IP addresses, by key, for the VIP checks.
func buildPeers(r *rawCluster, cfg *Config, c *collector) map[netip.Addr]string {
	out := &cfg.Cluster
	peerIPs := map[netip.Addr]string{}
	if !c.valid("cluster.peers", r.Peers.problem) {
		return peerIPs
	}
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
	return peerIPs
}

// buildSecretKey checks cluster.secret_key_file and cluster.insecure, and
// reads the key unless opts says not to.
func buildSecretKey(r *rawCluster, out *Cluster, dir string, opts ParseOptions, c *collector) {
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
		// 0 adds the VIPs permanently; checkAddressLifetime has the
		// rest of the rules.
		{"address_lifetime", &r.AddressLifetime, &t.AddressLifetime, 0},
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

// buildTiming copies and checks the knobs, already filled from the
// profile by applyDefaults; quorum says whether the cluster runs with
// quorum on, where the lease's rules apply.
func buildTiming(r *rawCluster, t *Timing, quorum bool, c *collector) {
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

	if lm := &r.Tuning.LeaseMargin; quorum && !bad["heartbeat_interval"] && !bad["lease_margin"] && lm.val <= 2*hb.val {
		checkLeaseMargin(lm, hb, from, c)
	}

	if ht := &r.Tuning.HeartbeatTimeout; !bad["heartbeat_interval"] && !bad["heartbeat_timeout"] && ht.val > 0 && ht.val < 2*hb.val {
		key := "cluster.tuning.heartbeat_interval"
		if ht.set {
			key = "cluster.tuning.heartbeat_timeout"
		}
		c.add(key, "heartbeat_timeout %s%s must be 0 (off) or at least twice heartbeat_interval %s%s",
			ht.val, from(ht.set), hb.val, from(hb.set))
	}

	if !bad["address_lifetime"] && !bad["heartbeat_interval"] {
		checkAddressLifetime(&r.Tuning.AddressLifetime, hb, t, from, c)
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

// checkLeaseMargin refuses, under quorum, a lease_margin lm that is not
// more than twice heartbeat_interval hb. The others take over from a
// holder they no longer hear after lease + lease_margin; the holder,
// cut off, releases once its lease has run out, checked on its
// heartbeat ticks. The margin must cover the heartbeat interval by
// which the others may have last heard the holder before its last
// confirmed heartbeat, and the tick of the holder's lease check: what
// is left, lease_margin − 2 × heartbeat_interval, is how long the
// holder's daemon may be late (README, "the no-overlap guarantee"), and
// at 0 or less two members may hold a VIP at once.
func checkLeaseMargin(lm, hb *optDuration, from func(bool) string, c *collector) {
	key := "cluster.tuning.lease_margin"
	if !lm.set && hb.set {
		key = "cluster.tuning.heartbeat_interval"
	}
	c.add(key, "lease_margin %s%s must be more than twice heartbeat_interval %s%s under quorum: the others take over after lease + lease_margin, and the margin must cover a heartbeat interval and a tick of the holder's lease check, or a cut-off holder may still hold the VIPs when another member takes them",
		lm.val, from(lm.set), hb.val, from(hb.set))
}

// lifetimePerHeartbeat is how many heartbeat intervals an address
// lifetime must span at least. The holder renews the VIPs on its
// heartbeat ticks once half of the lifetime has passed (daemon
// lifetime.go), so a renewal comes at most half of it plus one interval
// after the last one; four intervals leave one whole interval for a
// late tick before the kernel removes them.
const lifetimePerHeartbeat = 4

// checkAddressLifetime checks cluster.tuning.address_lifetime: 0
// (permanent), or whole seconds (the kernel's unit), at least 1 s and at
// least lifetimePerHeartbeat × heartbeat_interval. Left to its profile's
// value, it is raised to that bound (rounded up to whole seconds) rather
// than refused, so that a file that sets a long heartbeat_interval and
// no address_lifetime keeps loading.
func checkAddressLifetime(al, hb *optDuration, t *Timing, from func(bool) string, c *collector) {
	const key = "cluster.tuning.address_lifetime"
	floor := lifetimePerHeartbeat * hb.val
	switch {
	case al.val == 0:
	case al.val < time.Second:
		c.add(key, "must be 0s (permanent addresses) or at least 1s, not %s", al.val)
	case al.val%time.Second != 0:
		c.add(key, "must be whole seconds (the kernel counts address lifetimes in seconds), not %s", al.val)
	case al.val >= floor:
	case al.set:
		c.add(key, "address_lifetime %s must be 0s (permanent addresses) or at least %d × heartbeat_interval %s%s, so that one late renewal does not let the VIPs expire",
			al.val, lifetimePerHeartbeat, hb.val, from(hb.set))
	default:
		t.AddressLifetime = floor.Truncate(time.Second)
		if t.AddressLifetime < floor {
			t.AddressLifetime += time.Second
		}
	}
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
