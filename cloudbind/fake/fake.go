package fake

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"
)

// Port is a port of the fake cloud.
type Port struct {
	ID          string   `json:"id"`
	NetworkID   string   `json:"network_id"`
	DeviceOwner string   `json:"device_owner"`
	MAC         string   `json:"mac_address"`
	FixedIPs    []string `json:"fixed_ips"`
	// Pairs are the allowed_address_pairs' IP addresses (or CIDRs).
	Pairs    []string `json:"allowed_address_pairs"`
	Revision int      `json:"revision_number"`
	// Region is the OpenStack region of the port; empty: the first of
	// Config.Regions.
	Region string `json:"region,omitempty"`
}

// Caller is what the metadata service tells one server, chosen by the
// request's source address.
type Caller struct {
	MAC    string `json:"mac"`
	PortID string `json:"port_id"`
	// NoAgency: no agency is attached to the server, so securitykey
	// has no credentials to give.
	NoAgency bool `json:"no_agency,omitempty"`
}

// Fault changes the next Count API answers (metadata excluded).
type Fault struct {
	// Status is the answer (429, 500, ...); 0 answers normally.
	Status int `json:"status"`
	// RetryAfter is sent with a 429 in whole seconds.
	RetryAfter time.Duration `json:"retry_after"`
	// Delay holds the answer back.
	Delay time.Duration `json:"delay"`
	Count int           `json:"count"`
}

// Call is one request the fake answered.
type Call struct {
	At     time.Time `json:"at"`
	From   string    `json:"from"`
	Method string    `json:"method"`
	Path   string    `json:"path"`
	// Query is the query as sent.
	Query  string `json:"query,omitempty"`
	Status int    `json:"status"`
	// Signed lists the headers an AK/SK signature covered.
	Signed []string `json:"signed,omitempty"`
	// MetadataToken is set when a metadata read carried a token.
	MetadataToken bool `json:"metadata_token,omitempty"`
}

// State is a snapshot of the fake, for tests.
type State struct {
	Ports map[string]Port `json:"ports"`
	Calls []Call          `json:"calls"`
	// Early counts requests from a caller that came before the
	// Retry-After of a 429 it was given had passed (after a grace of
	// 50ms for requests already in flight).
	Early int `json:"early"`
	// Rejected counts requests refused for bad signatures, tokens,
	// fields or filters.
	Rejected int `json:"rejected"`
	// FloatingIPs maps floating IPs to the port they are on.
	FloatingIPs map[string]string `json:"floating_ips"`
	// Secrets are the temporary credentials and tokens it handed out,
	// so that tests can look for them where they must not be.
	Secrets []string `json:"secrets"`
}

// Metadata token modes of the metadata service (Config.MetadataTokens).
const (
	// TokensOptional hands out tokens and checks those sent, but reads
	// without one work too (ECS http_tokens = optional, the default).
	TokensOptional = "optional"
	// TokensRequired refuses reads without a valid token (ECS
	// http_tokens = required).
	TokensRequired = "required"
	// TokensUnsupported has no token API at all (Nova).
	TokensUnsupported = "unsupported"
)

// Config sets a fake up.
type Config struct {
	ProjectID string `json:"project_id"`
	// Keys maps access keys to secret keys (AK/SK signing).
	Keys map[string]string `json:"keys"`
	// AgencyTTL is the lifetime of agency credentials; 0 is one hour.
	AgencyTTL time.Duration `json:"agency_ttl"`
	// Users maps "user@domain" and application credential IDs to their
	// password or secret (Keystone).
	Users map[string]string `json:"users"`
	// TokenTTL is the lifetime of Keystone tokens; 0 is one hour.
	TokenTTL time.Duration `json:"token_ttl"`
	Ports    []Port        `json:"ports"`
	// Callers maps a source address to its metadata.
	Callers map[string]Caller `json:"callers"`
	// FloatingIPs maps floating IP IDs to the port they are on.
	FloatingIPs map[string]string `json:"floating_ips"`
	// MetadataTokens is TokensOptional (the default), TokensRequired or
	// TokensUnsupported.
	MetadataTokens string `json:"metadata_tokens,omitempty"`
	// Regions are the regions of the Keystone catalog, each with its
	// own Neutron; empty: "RegionOne".
	Regions []string `json:"regions,omitempty"`
	// PageSize is the most ports one listing answers (Neutron's
	// pagination_max_limit, the VPC API's page limit); 0: Neutron
	// answers everything, the VPC API 2000.
	PageSize int `json:"page_size,omitempty"`
	// NoRevisions is a Neutron without the standard-attr-revisions
	// extension: ports have no revision_number.
	NoRevisions bool `json:"no_revisions,omitempty"`
	// Unrouted are networks no router connects to the external network:
	// a floating IP cannot be associated with their ports.
	Unrouted []string `json:"unrouted,omitempty"`
}

// Server is the fake cloud. Its Handler serves the metadata service, the
// Huawei VPC v1 ports API, Keystone v3 tokens and Neutron v2.0 ports and
// floating IPs.
type Server struct {
	cfg Config
	now func() time.Time

	mu         sync.Mutex
	ports      map[string]*Port
	fips       map[string]*floatingIP
	callers    map[netip.Addr]Caller
	temp       map[string]tempCred  // AK -> agency credentials
	tokens     map[string]time.Time // Keystone tokens
	metaTokens map[string]time.Time // metadata tokens
	faults     []Fault
	calls      []Call
	notBefore  map[string]throttled // caller -> its last Retry-After
	early      int
	rejected   int
	secrets    []string
	race       map[string]string // port -> address a concurrent writer adds
}

type floatingIP struct {
	port, fixed string
}

// throttled is a 429 given to a caller: when, and until when it must
// wait.
type throttled struct{ given, until time.Time }

// inFlight is how long after a 429 another request of the same caller
// counts as sent before the answer arrived (concurrent calls), not as
// ignoring it.
const inFlight = 50 * time.Millisecond

type tempCred struct {
	secret, token string
	expires       time.Time
}

// New makes a fake from cfg.
func New(cfg Config) *Server {
	if len(cfg.Regions) == 0 {
		cfg.Regions = []string{"RegionOne"}
	}
	if cfg.MetadataTokens == "" {
		cfg.MetadataTokens = TokensOptional
	}
	s := &Server{
		cfg:        cfg,
		now:        time.Now,
		ports:      map[string]*Port{},
		fips:       map[string]*floatingIP{},
		callers:    map[netip.Addr]Caller{},
		temp:       map[string]tempCred{},
		tokens:     map[string]time.Time{},
		metaTokens: map[string]time.Time{},
		notBefore:  map[string]throttled{},
		race:       map[string]string{},
	}
	for _, p := range cfg.Ports {
		s.addLocked(p)
	}
	for k, v := range cfg.FloatingIPs {
		s.fips[k] = &floatingIP{port: v}
		if p, ok := s.ports[v]; ok && len(p.FixedIPs) > 0 {
			s.fips[k].fixed = p.FixedIPs[0]
		}
	}
	for a, c := range cfg.Callers {
		if ip, err := netip.ParseAddr(a); err == nil {
			s.callers[ip] = c
		}
	}
	return s
}

func (s *Server) addLocked(p Port) {
	if p.Revision == 0 {
		p.Revision = 1
	}
	if p.Region == "" {
		p.Region = s.cfg.Regions[0]
	}
	p.FixedIPs = slices.Clone(p.FixedIPs)
	p.Pairs = slices.Clone(p.Pairs)
	s.ports[p.ID] = &p
}

// AddPort creates a port (a VIP created again, say).
func (s *Server) AddPort(p Port) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addLocked(p)
}

// DeletePort deletes a port. Its floating IPs stay, disassociated, as
// Neutron leaves them.
func (s *Server) DeletePort(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.ports, id)
	for _, f := range s.fips {
		if f.port == id {
			f.port, f.fixed = "", ""
		}
	}
}

// SetPairs changes a port's allowed_address_pairs behind everyone's back.
func (s *Server) SetPairs(id string, ips ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.ports[id]
	if !ok {
		return fmt.Errorf("no port %s", id)
	}
	p.Pairs = slices.Clone(ips)
	p.Revision++
	return nil
}

// RaceNextUpdate makes another writer add ip to a port's pairs just
// before the next update of that port arrives, as if it had won a race:
// Neutron then refuses an update guarded by the old revision (412); the
// VPC API, which has no such guard, lets the later write replace it.
func (s *Server) RaceNextUpdate(id, ip string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.race[id] = ip
}

// raceLocked applies a pending race on p.
func (s *Server) raceLocked(p *Port) {
	if ip, ok := s.race[p.ID]; ok {
		delete(s.race, p.ID)
		p.Pairs = append(p.Pairs, ip)
		p.Revision++
	}
}

// Pairs returns a port's allowed_address_pairs.
func (s *Server) Pairs(id string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.ports[id]; ok {
		return slices.Clone(p.Pairs)
	}
	return nil
}

// FloatingIPPort returns the port a floating IP is on.
func (s *Server) FloatingIPPort(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, ok := s.fips[id]; ok {
		return f.port
	}
	return ""
}

// Inject queues a fault.
func (s *Server) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, f)
}

// State returns a snapshot.
func (s *Server) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := State{Ports: map[string]Port{}, Calls: slices.Clone(s.calls), Early: s.early, Rejected: s.rejected,
		Secrets: slices.Clone(s.secrets), FloatingIPs: map[string]string{}}
	for k, v := range s.fips {
		st.FloatingIPs[k] = v.port
	}
	for id, p := range s.ports {
		c := *p
		c.Pairs = slices.Clone(p.Pairs)
		st.Ports[id] = c
	}
	return st
}

// Handler serves the cloud APIs.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(s.serve)
}

func source(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// recorder keeps the status and what the handlers note about a call.
type recorder struct {
	http.ResponseWriter
	status int
	call   *Call
}

// note records something about the call being answered.
func note(w http.ResponseWriter, f func(*Call)) {
	if rec, ok := w.(*recorder); ok {
		f(rec.call)
	}
}

func (w *recorder) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	from := source(r)
	call := Call{At: s.now(), From: from, Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery}
	rec := &recorder{ResponseWriter: w, status: 200, call: &call}
	defer func() {
		call.Status = rec.status
		s.mu.Lock()
		s.calls = append(s.calls, call)
		if len(s.calls) > 10000 {
			s.calls = s.calls[len(s.calls)-10000:]
		}
		s.mu.Unlock()
	}()
	if strings.HasPrefix(r.URL.Path, "/openstack/") || strings.HasPrefix(r.URL.Path, "/meta-data/") {
		s.metadata(rec, r, from)
		return
	}
	if s.fault(rec, r, from, call.At) {
		return
	}
	switch {
	case strings.HasPrefix(r.URL.Path, "/v1/"):
		s.huawei(rec, r)
	case r.URL.Path == "/v3/auth/tokens":
		s.keystone(rec, r)
	case strings.HasPrefix(r.URL.Path, "/v2.0/"):
		s.neutron(rec, r, s.cfg.Regions[0], strings.TrimPrefix(r.URL.Path, "/v2.0/"))
	case strings.HasPrefix(r.URL.Path, "/neutron/"):
		region, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/neutron/"), "/")
		rest, ok := strings.CutPrefix(rest, "v2.0/")
		if !ok || !slices.Contains(s.cfg.Regions, region) {
			neutronError(rec, 404, "HTTPNotFound", "The resource could not be found.")
			return
		}
		s.neutron(rec, r, region, rest)
	default:
		plainError(rec, 404, "404 page not found")
	}
}

// fault answers with the next injected fault, if any, and tracks
// callers that come back before a Retry-After has passed.
func (s *Server) fault(w http.ResponseWriter, r *http.Request, from string, at time.Time) bool {
	s.mu.Lock()
	if nb, ok := s.notBefore[from]; ok {
		switch {
		case !at.Before(nb.until):
			delete(s.notBefore, from)
		case at.Sub(nb.given) > inFlight:
			s.early++
			delete(s.notBefore, from)
		}
	}
	var f Fault
	if len(s.faults) > 0 {
		f = s.faults[0]
		s.faults[0].Count--
		if s.faults[0].Count <= 0 {
			s.faults = s.faults[1:]
		}
	}
	if f.Status == http.StatusTooManyRequests && f.RetryAfter > 0 {
		s.notBefore[from] = throttled{given: at, until: at.Add(f.RetryAfter)}
	}
	s.mu.Unlock()

	if f.Delay > 0 {
		select {
		case <-time.After(f.Delay):
		case <-r.Context().Done():
			return true
		}
	}
	if f.Status == 0 {
		return false
	}
	if f.Status == http.StatusTooManyRequests && f.RetryAfter > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(int((f.RetryAfter+time.Second-1)/time.Second)))
	}
	huawei := strings.HasPrefix(r.URL.Path, "/v1/")
	switch {
	case huawei && f.Status == http.StatusTooManyRequests:
		apigwError(w, f.Status, "APIGW.0308", "The throttling threshold has been reached: policy user over ratelimit,limit:200,time:5 minute")
	case huawei:
		apigwError(w, f.Status, "APIGW.0201", "Request error: backend unavailable")
	case r.URL.Path == "/v3/auth/tokens":
		keystoneError(w, f.Status, http.StatusText(f.Status), "injected fault")
	default:
		neutronError(w, f.Status, "HTTP"+strings.ReplaceAll(http.StatusText(f.Status), " ", ""), "injected fault")
	}
	return true
}

func randHex(n int) string {
	b := make([]byte, n/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *Server) countRejected() {
	s.mu.Lock()
	s.rejected++
	s.mu.Unlock()
}

// decodeStrict decodes JSON refusing unknown fields and trailing data.
func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data")
	}
	return nil
}

func readAll(r *http.Request) ([]byte, error) {
	return io.ReadAll(io.LimitReader(r.Body, 1<<20))
}

// filterPorts returns, sorted by ID, the ports of region that match the
// filters both APIs share: id, network_id, device_owner, mac_address
// and fixed_ips=ip_address=X. s.mu held.
func (s *Server) filterPorts(q map[string][]string, region string) ([]*Port, error) {
	var wantIPs []string
	for _, f := range q["fixed_ips"] {
		v, ok := strings.CutPrefix(f, "ip_address=")
		if _, err := netip.ParseAddr(v); !ok || err != nil {
			return nil, fmt.Errorf("invalid fixed_ips filter %q", f)
		}
		wantIPs = append(wantIPs, v)
	}
	one := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	var out []*Port
	for _, id := range slices.Sorted(maps.Keys(s.ports)) {
		p := s.ports[id]
		switch {
		case region != "" && p.Region != region,
			one("id") != "" && p.ID != one("id"),
			one("network_id") != "" && p.NetworkID != one("network_id"),
			one("device_owner") != "" && p.DeviceOwner != one("device_owner"),
			one("mac_address") != "" && p.MAC != one("mac_address"):
			continue
		}
		if len(wantIPs) > 0 && !slices.ContainsFunc(wantIPs, func(ip string) bool { return slices.Contains(p.FixedIPs, ip) }) {
			continue
		}
		out = append(out, p)
	}
	return out, nil
}

// page cuts a sorted listing at marker (the last ID of the previous
// page) to at most limit ports; more reports whether some are left.
func page(ports []*Port, marker string, limit int) (out []*Port, more bool, err error) {
	start := 0
	if marker != "" {
		i := slices.IndexFunc(ports, func(p *Port) bool { return p.ID == marker })
		if i < 0 {
			return nil, false, fmt.Errorf("marker %s not found", marker)
		}
		start = i + 1
	}
	ports = ports[start:]
	if limit > 0 && len(ports) > limit {
		return ports[:limit], true, nil
	}
	return ports, false, nil
}

// pairAddr parses an allowed address pair: an address or a CIDR.
func pairAddr(s string) (netip.Prefix, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	p, err := netip.ParsePrefix(s)
	return p, err == nil
}
