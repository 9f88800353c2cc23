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
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/havip/havip/cloudbind"
)

// Port is a port of the fake cloud.
type Port struct {
	ID          string   `json:"id"`
	NetworkID   string   `json:"network_id"`
	DeviceOwner string   `json:"device_owner"`
	MAC         string   `json:"mac_address"`
	FixedIPs    []string `json:"fixed_ips"`
	// Pairs are the allowed_address_pairs' IP addresses.
	Pairs    []string `json:"allowed_address_pairs"`
	Revision int      `json:"revision_number"`
}

// Caller is what the metadata service tells one server, chosen by the
// request's source address.
type Caller struct {
	MAC    string `json:"mac"`
	PortID string `json:"port_id"`
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
	Status int       `json:"status"`
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
}

// Server is the fake cloud. Its Handler serves the metadata service, the
// Huawei VPC v1 ports API, Keystone v3 tokens and Neutron v2.0 ports and
// floating IPs.
type Server struct {
	cfg Config
	now func() time.Time

	mu        sync.Mutex
	ports     map[string]*Port
	fips      map[string]string
	callers   map[netip.Addr]Caller
	temp      map[string]tempCred // AK -> agency credentials
	tokens    map[string]time.Time
	faults    []Fault
	calls     []Call
	notBefore map[string]throttled // caller -> its last Retry-After
	early     int
	rejected  int
	secrets   []string
	race      map[string]string // port -> address a concurrent writer adds
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
	s := &Server{
		cfg:       cfg,
		now:       time.Now,
		ports:     map[string]*Port{},
		fips:      map[string]string{},
		callers:   map[netip.Addr]Caller{},
		temp:      map[string]tempCred{},
		tokens:    map[string]time.Time{},
		notBefore: map[string]throttled{},
		race:      map[string]string{},
	}
	for _, p := range cfg.Ports {
		p := p
		if p.Revision == 0 {
			p.Revision = 1
		}
		s.ports[p.ID] = &p
	}
	for k, v := range cfg.FloatingIPs {
		s.fips[k] = v
	}
	for a, c := range cfg.Callers {
		if ip, err := netip.ParseAddr(a); err == nil {
			s.callers[ip] = c
		}
	}
	return s
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
// an update guarded by the old revision then fails with 412.
func (s *Server) RaceNextUpdate(id, ip string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.race[id] = ip
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
	return s.fips[id]
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
		Secrets: slices.Clone(s.secrets)}
	st.FloatingIPs = map[string]string{}
	for k, v := range s.fips {
		st.FloatingIPs[k] = v
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

type recorder struct {
	http.ResponseWriter
	status int
}

func (w *recorder) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	from := source(r)
	rec := &recorder{ResponseWriter: w, status: 200}
	at := s.now()
	defer func() {
		s.mu.Lock()
		s.calls = append(s.calls, Call{At: at, From: from, Method: r.Method, Path: r.URL.Path, Status: rec.status})
		if len(s.calls) > 10000 {
			s.calls = s.calls[len(s.calls)-10000:]
		}
		s.mu.Unlock()
	}()
	if strings.HasPrefix(r.URL.Path, "/openstack/") {
		s.metadata(rec, r, from)
		return
	}

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
			return
		}
	}
	switch {
	case f.Status == http.StatusTooManyRequests:
		if f.RetryAfter > 0 {
			w.Header().Set("Retry-After", fmt.Sprint(int((f.RetryAfter+time.Second-1)/time.Second)))
		}
		writeErr(rec, 429, "APIGW.0308", "the request is throttled")
		return
	case f.Status != 0:
		writeErr(rec, f.Status, "VPC.FAKE", "injected fault")
		return
	}

	switch {
	case strings.HasPrefix(r.URL.Path, "/v1/"):
		s.huawei(rec, r)
	case r.URL.Path == "/v3/auth/tokens":
		s.keystone(rec, r)
	case strings.HasPrefix(r.URL.Path, "/v2.0/"):
		s.neutron(rec, r)
	default:
		writeErr(rec, 404, "FAKE.404", "no such API")
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]string{"error_code": code, "error_msg": msg})
}

// matchingPorts returns the ports, by ID, that match the network_id and
// device_owner filters both APIs share. s.mu held.
func (s *Server) matchingPorts(q url.Values) []*Port {
	ids := slices.Sorted(maps.Keys(s.ports))
	out := make([]*Port, 0, len(ids))
	for _, id := range ids {
		p := s.ports[id]
		if v := q.Get("network_id"); v != "" && p.NetworkID != v {
			continue
		}
		if v := q.Get("device_owner"); v != "" && p.DeviceOwner != v {
			continue
		}
		out = append(out, p)
	}
	return out
}

func (s *Server) reject(w http.ResponseWriter, status int, code, msg string) {
	s.mu.Lock()
	s.rejected++
	s.mu.Unlock()
	writeErr(w, status, code, msg)
}

// metadata serves network_data.json and the agency's security key to
// the caller its source address names.
func (s *Server) metadata(w http.ResponseWriter, r *http.Request, from string) {
	ip, _ := netip.ParseAddr(from)
	s.mu.Lock()
	c, ok := s.callers[ip]
	s.mu.Unlock()
	if !ok || r.Method != http.MethodGet {
		http.NotFound(w, r)
		return
	}
	switch r.URL.Path {
	case "/openstack/latest/network_data.json":
		writeJSON(w, 200, map[string]any{
			"links": []map[string]any{{
				"id": "tap" + c.PortID[:min(len(c.PortID), 11)], "type": "cascading", "vif_id": c.PortID,
				"ethernet_mac_address": c.MAC, "mtu": 1500,
			}},
			"networks": []any{},
			"services": []any{},
		})
	case "/openstack/latest/securitykey":
		ttl := s.cfg.AgencyTTL
		if ttl <= 0 {
			ttl = time.Hour
		}
		cred := tempCred{secret: randHex(20), token: randHex(64), expires: s.now().Add(ttl)}
		ak := "TMP" + strings.ToUpper(randHex(8))
		s.mu.Lock()
		s.temp[ak] = cred
		s.secrets = append(s.secrets, cred.secret, cred.token)
		s.mu.Unlock()
		writeJSON(w, 200, map[string]any{"credential": map[string]any{
			"access": ak, "secret": cred.secret, "securitytoken": cred.token,
			"expires_at": cred.expires.UTC().Format(time.RFC3339Nano),
		}})
	default:
		http.NotFound(w, r)
	}
}

func randHex(n int) string {
	b := make([]byte, n/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// verify checks an AK/SK signature: a known key, a fresh date, host and
// x-sdk-date among the signed headers, and the signature itself. It
// returns the body.
func (s *Server) verify(r *http.Request) ([]byte, string) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return nil, "cannot read the body"
	}
	ak, signed, sig, ok := cloudbind.ParseAuthorization(r.Header.Get("Authorization"))
	if !ok {
		return nil, "no SDK-HMAC-SHA256 Authorization"
	}
	if !slices.Contains(signed, "host") || !slices.Contains(signed, "x-sdk-date") {
		return nil, "host and x-sdk-date must be signed"
	}
	if !slices.IsSorted(signed) {
		return nil, "signed headers are not sorted"
	}
	d, err := time.Parse("20060102T150405Z", r.Header.Get("X-Sdk-Date"))
	if err != nil {
		return nil, "bad X-Sdk-Date"
	}
	if skew := s.now().Sub(d); skew > 15*time.Minute || skew < -15*time.Minute {
		return nil, "X-Sdk-Date too far from now"
	}
	s.mu.Lock()
	secret, known := s.cfg.Keys[ak]
	tc, temp := s.temp[ak]
	s.mu.Unlock()
	switch {
	case known:
		if r.Header.Get("X-Security-Token") != "" {
			return nil, "a security token with a permanent key"
		}
	case temp:
		if s.now().After(tc.expires) {
			return nil, "temporary credentials expired"
		}
		if r.Header.Get("X-Security-Token") != tc.token || !slices.Contains(signed, "x-security-token") {
			return nil, "bad or unsigned X-Security-Token"
		}
		secret = tc.secret
	default:
		return nil, "unknown access key"
	}
	if r.Host == "" {
		return nil, "no Host"
	}
	if want := cloudbind.Signature(r, body, signed, secret); want != sig {
		return nil, "signature mismatch"
	}
	return body, ""
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
