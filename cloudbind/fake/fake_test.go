package fake

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

func setup(t *testing.T, mod func(*Config)) (*Server, *httptest.Server) {
	cfg := Config{
		ProjectID: "p",
		Keys:      map[string]string{"AK": "SK"},
		Users:     map[string]string{"ac": "sec"},
		Ports: []Port{
			{ID: "x", NetworkID: "n1", FixedIPs: []string{"10.0.0.1"}},
			{ID: "vip", NetworkID: "n1", DeviceOwner: "neutron:VIP_PORT", FixedIPs: []string{"10.0.0.100"}},
		},
		Callers:     map[string]Caller{"127.0.0.1": {MAC: "fa:16:3e:00:00:01", PortID: "x"}},
		FloatingIPs: map[string]string{"fip": ""},
	}
	if mod != nil {
		mod(&cfg)
	}
	s := New(cfg)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return s, srv
}

// key signs a request as the SDK does.
type key struct{ ak, sk, token string }

type answer struct {
	status int
	header http.Header
	body   string
}

// json decodes the body.
func (a answer) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(a.body), &m); err != nil {
		t.Fatalf("body %q: %v", a.body, err)
	}
	return m
}

func send(t *testing.T, method, url, body string, k *key, hdr map[string]string) answer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	if k != nil {
		sign(t, r, []byte(body), *k)
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, string(b)}
}

// sign signs r as the SDK does: x-project-id (from the path),
// x-sdk-date and the security token.
func sign(t *testing.T, r *http.Request, body []byte, k key) {
	t.Helper()
	r.Header.Set("X-Sdk-Date", time.Now().UTC().Format("20060102T150405Z"))
	signed := []string{"x-sdk-date"}
	if parts := strings.Split(r.URL.Path, "/"); len(parts) > 2 && parts[1] == "v1" {
		r.Header.Set("X-Project-Id", parts[2])
		signed = []string{"x-project-id", "x-sdk-date"}
	}
	if k.token != "" {
		r.Header.Set("X-Security-Token", k.token)
		signed = append(signed, "x-security-token")
	}
	r.Host = r.URL.Host
	sig, err := gatewaySignature(r, body, signed, k.sk)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Authorization", sdkAlgorithm+" Access="+k.ak+", SignedHeaders="+strings.Join(signed, ";")+", Signature="+sig)
}

func TestHuaweiGateway(t *testing.T) {
	s, srv := setup(t, nil)
	good := &key{ak: "AK", sk: "SK"}
	bad := &key{ak: "AK", sk: "nope"}
	tests := []struct {
		name, method, path, body string
		k                        *key
		hdr                      map[string]string
		want                     int
		code                     string // error_code (gateway) or code (VPC)
	}{
		{"signed get", "GET", "/v1/p/ports/x", "", good, nil, 200, ""},
		{"unsigned", "GET", "/v1/p/ports/x", "", nil, nil, 401, "APIGW.0301"},
		{"bad signature", "GET", "/v1/p/ports/x", "", bad, nil, 401, "APIGW.0301"},
		{"other project", "GET", "/v1/q/ports/x", "", good, nil, 400, "VPC.0007"},
		{"no such port", "GET", "/v1/p/ports/nope", "", good, nil, 404, "VPC.2204"},
		{"unknown filter", "GET", "/v1/p/ports?owner=x", "", good, nil, 400, "VPC.2500"},
		{"known filter", "GET", "/v1/p/ports?device_owner=neutron%3AVIP_PORT", "", good, nil, 200, ""},
		{"unknown field", "PUT", "/v1/p/ports/x", `{"port":{"allowed_address_pairs":[],"extra":1}}`, good, nil, 400, "VPC.2500"},
		{"bad pair", "PUT", "/v1/p/ports/x", `{"port":{"allowed_address_pairs":[{"ip_address":"x"}]}}`, good, nil, 400, "VPC.2500"},
		{"every address", "PUT", "/v1/p/ports/x", `{"port":{"allowed_address_pairs":[{"ip_address":"0.0.0.0/0"}]}}`, good, nil, 400, "VPC.2500"},
		{"source/destination check off", "PUT", "/v1/p/ports/x", `{"port":{"allowed_address_pairs":[{"ip_address":"10.0.0.9"},{"ip_address":"1.1.1.1/0"}]}}`, good, nil, 200, ""},
	}
	for _, tt := range tests {
		a := send(t, tt.method, srv.URL+tt.path, tt.body, tt.k, tt.hdr)
		if a.status != tt.want {
			t.Errorf("%s: %d %s, want %d", tt.name, a.status, a.body, tt.want)
			continue
		}
		if tt.code == "" {
			continue
		}
		m := a.json(t)
		got := m["code"]
		if strings.HasPrefix(tt.code, "APIGW") {
			got = m["error_code"]
			if m["error_msg"] == nil || m["request_id"] == nil {
				t.Errorf("%s: gateway error body %s", tt.name, a.body)
			}
		} else if m["message"] == nil {
			t.Errorf("%s: VPC error body %s", tt.name, a.body)
		}
		if got != tt.code {
			t.Errorf("%s: code %v, want %s (%s)", tt.name, got, tt.code, a.body)
		}
	}
	if got := s.Pairs("x"); !slices.Equal(got, []string{"10.0.0.9", "1.1.1.1/0"}) {
		t.Errorf("pairs %v", got)
	}
	// The signed headers of each call are kept.
	calls := s.State().Calls
	if c := calls[0]; strings.Join(c.Signed, ";") != "x-project-id;x-sdk-date" {
		t.Errorf("first call signed %v", c.Signed)
	}
}

func TestHuaweiProjectHeader(t *testing.T) {
	_, srv := setup(t, nil)
	r, _ := http.NewRequest("GET", srv.URL+"/v1/p/ports/x", nil)
	sign(t, r, nil, key{ak: "AK", sk: "SK"})
	r.Header.Set("X-Project-Id", "q")
	// The header changed after signing: the signature fails first.
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("changed X-Project-Id: %d, want 401", resp.StatusCode)
	}
}

func TestHuaweiTemporaryCredentials(t *testing.T) {
	s, srv := setup(t, nil)
	cred := s.agencyCredential()
	k := key{ak: cred["access"].(string), sk: cred["secret"].(string), token: cred["securitytoken"].(string)}
	if a := send(t, "GET", srv.URL+"/v1/p/ports/x", "", &k, nil); a.status != 200 {
		t.Errorf("temporary credentials: %d %s", a.status, a.body)
	}
	k.token = "other"
	if a := send(t, "GET", srv.URL+"/v1/p/ports/x", "", &k, nil); a.status != 401 {
		t.Errorf("wrong security token: %d", a.status)
	}
	if a := send(t, "GET", srv.URL+"/v1/p/ports/x", "", &key{ak: "AK", sk: "SK", token: "t"}, nil); a.status != 401 {
		t.Errorf("security token with a permanent key: %d", a.status)
	}
}

func TestHuaweiPages(t *testing.T) {
	_, srv := setup(t, func(c *Config) {
		for _, id := range []string{"a1", "a2", "a3", "a4", "a5"} {
			c.Ports = append(c.Ports, Port{ID: id, NetworkID: "n2", FixedIPs: []string{"10.1.0.1"}})
		}
	})
	k := &key{ak: "AK", sk: "SK"}
	var got []string
	marker := ""
	for range 10 {
		a := send(t, "GET", srv.URL+"/v1/p/ports?network_id=n2&limit=2&marker="+marker, "", k, nil)
		var doc struct {
			Ports []struct{ ID string } `json:"ports"`
		}
		if err := json.Unmarshal([]byte(a.body), &doc); err != nil || a.status != 200 {
			t.Fatalf("%d %s", a.status, a.body)
		}
		for _, p := range doc.Ports {
			got = append(got, p.ID)
		}
		if len(doc.Ports) < 2 {
			break
		}
		marker = doc.Ports[len(doc.Ports)-1].ID
	}
	if want := []string{"a1", "a2", "a3", "a4", "a5"}; !slices.Equal(got, want) {
		t.Errorf("pages gave %v, want %v", got, want)
	}
	if a := send(t, "GET", srv.URL+"/v1/p/ports?marker=nope", "", k, nil); a.status != 400 {
		t.Errorf("unknown marker: %d", a.status)
	}
	if a := send(t, "GET", srv.URL+"/v1/p/ports?fixed_ips=ip_address%3D10.0.0.100", "", k, nil); !strings.Contains(a.body, `"id":"vip"`) || strings.Contains(a.body, `"id":"x"`) {
		t.Errorf("fixed_ips filter: %s", a.body)
	}
}

// Another writer wins a race: the VPC API has no revision check, so the
// later write replaces its change.
func TestHuaweiRaceLastWriterWins(t *testing.T) {
	s, srv := setup(t, nil)
	s.RaceNextUpdate("vip", "10.0.0.7")
	a := send(t, "PUT", srv.URL+"/v1/p/ports/vip", `{"port":{"allowed_address_pairs":[{"ip_address":"10.0.0.1"}]}}`, &key{ak: "AK", sk: "SK"}, nil)
	if a.status != 200 {
		t.Fatalf("%d %s", a.status, a.body)
	}
	if got := s.Pairs("vip"); !slices.Equal(got, []string{"10.0.0.1"}) {
		t.Errorf("pairs %v, want the later write's", got)
	}
}

func TestMetadataPerCaller(t *testing.T) {
	s, srv := setup(t, nil)
	a := send(t, "GET", srv.URL+"/openstack/latest/network_data.json", "", nil, nil)
	if a.status != 200 || !strings.Contains(a.body, `"vif_id":"x"`) || !strings.Contains(a.body, "fa:16:3e:00:00:01") {
		t.Errorf("network_data.json: %d %s", a.status, a.body)
	}
	s.mu.Lock()
	s.callers = nil
	s.mu.Unlock()
	if a := send(t, "GET", srv.URL+"/openstack/latest/network_data.json", "", nil, nil); a.status != 404 {
		t.Errorf("unknown caller: %d, want 404", a.status)
	}
}

func TestMetadataTokens(t *testing.T) {
	const nd = "/openstack/latest/network_data.json"
	ttl := map[string]string{"X-Metadata-Token-Ttl-Seconds": "21600"}
	for _, mode := range []string{TokensOptional, TokensRequired, TokensUnsupported} {
		t.Run(mode, func(t *testing.T) {
			s, srv := setup(t, func(c *Config) { c.MetadataTokens = mode })
			tok := send(t, "PUT", srv.URL+metadataTokenPath, "", nil, ttl)
			if mode == TokensUnsupported {
				if tok.status != 404 {
					t.Errorf("token API: %d, want 404 (none)", tok.status)
				}
				if a := send(t, "GET", srv.URL+nd, "", nil, nil); a.status != 200 {
					t.Errorf("plain read: %d", a.status)
				}
				return
			}
			if tok.status != 200 || tok.body == "" {
				t.Fatalf("token: %d %q", tok.status, tok.body)
			}
			with := map[string]string{"X-Metadata-Token": tok.body}
			if a := send(t, "GET", srv.URL+nd, "", nil, with); a.status != 200 {
				t.Errorf("read with a token: %d", a.status)
			}
			plain := send(t, "GET", srv.URL+nd, "", nil, nil)
			if want := map[string]int{TokensOptional: 200, TokensRequired: 401}[mode]; plain.status != want {
				t.Errorf("read without a token: %d, want %d", plain.status, want)
			}
			if a := send(t, "GET", srv.URL+nd, "", nil, map[string]string{"X-Metadata-Token": "forged"}); a.status != 401 {
				t.Errorf("forged token: %d", a.status)
			}
			s.ExpireMetadataTokens()
			if a := send(t, "GET", srv.URL+nd, "", nil, with); a.status != 401 {
				t.Errorf("expired token: %d", a.status)
			}
			if a := send(t, "PUT", srv.URL+metadataTokenPath, "", nil, map[string]string{"X-Metadata-Token-Ttl-Seconds": "99999"}); a.status != 400 {
				t.Errorf("token for more than 6h: %d", a.status)
			}
			calls := s.State().Calls
			if !calls[1].MetadataToken || calls[2].MetadataToken {
				t.Errorf("calls did not note the token: %+v", calls[1:3])
			}
		})
	}
}

func TestSecurityKeyWithoutAgency(t *testing.T) {
	_, srv := setup(t, func(c *Config) {
		c.Callers["127.0.0.1"] = Caller{MAC: "fa:16:3e:00:00:01", PortID: "x", NoAgency: true}
	})
	a := send(t, "GET", srv.URL+"/openstack/latest/securitykey", "", nil, nil)
	if a.status != 401 || !strings.Contains(a.body, noAgencyMessage) {
		t.Errorf("securitykey without an agency: %d %q", a.status, a.body)
	}
}

// keystoneToken logs in with the application credential.
func keystoneToken(t *testing.T, srv *httptest.Server, secret string) answer {
	t.Helper()
	body := `{"auth":{"identity":{"methods":["application_credential"],"application_credential":{"id":"ac","secret":"` + secret + `"}}}}`
	return send(t, "POST", srv.URL+"/v3/auth/tokens", body, nil, nil)
}

func TestKeystone(t *testing.T) {
	_, srv := setup(t, func(c *Config) { c.Regions = []string{"RegionOne", "RegionTwo"} })
	bad := keystoneToken(t, srv, "wrong")
	e, _ := bad.json(t)["error"].(map[string]any)
	if bad.status != 401 || e["code"] != 401.0 || e["title"] != "Unauthorized" || e["message"] == nil {
		t.Errorf("bad credential: %d %s", bad.status, bad.body)
	}
	good := keystoneToken(t, srv, "sec")
	if good.status != 201 || good.header.Get("X-Subject-Token") == "" {
		t.Fatalf("token: %d %s", good.status, good.body)
	}
	for _, region := range []string{"RegionOne", "RegionTwo"} {
		if !strings.Contains(good.body, `"region":"`+region+`"`) || !strings.Contains(good.body, "/neutron/"+region+"/") {
			t.Errorf("catalog lacks %s: %s", region, good.body)
		}
	}
}

func TestNeutron(t *testing.T) {
	_, srv := setup(t, func(c *Config) {
		c.Regions = []string{"RegionOne", "RegionTwo"}
		c.Ports = append(c.Ports, Port{ID: "y", NetworkID: "n1", FixedIPs: []string{"10.0.0.2"}, Region: "RegionTwo"})
	})
	tok := keystoneToken(t, srv, "sec").header.Get("X-Subject-Token")
	auth := map[string]string{"X-Auth-Token": tok}
	one, two := srv.URL+"/neutron/RegionOne/v2.0", srv.URL+"/neutron/RegionTwo/v2.0"
	if a := send(t, "GET", one+"/ports/x", "", nil, map[string]string{"X-Auth-Token": "forged"}); a.status != 401 || !strings.Contains(a.body, `"title":"Unauthorized"`) {
		t.Errorf("forged token: %d %s", a.status, a.body)
	}
	if a := send(t, "GET", one+"/ports/y", "", nil, auth); a.status != 404 || !strings.Contains(a.body, `"type":"PortNotFound"`) {
		t.Errorf("port of another region: %d %s", a.status, a.body)
	}
	if a := send(t, "GET", two+"/ports/y", "", nil, auth); a.status != 200 {
		t.Errorf("port of its region: %d %s", a.status, a.body)
	}
	h := map[string]string{"X-Auth-Token": tok, "If-Match": "revision_number=7"}
	a := send(t, "PUT", one+"/ports/x", `{"port":{"allowed_address_pairs":[]}}`, nil, h)
	if a.status != 412 || !strings.Contains(a.body, "RevisionNumberConstraintFailed") {
		t.Errorf("stale revision: %d %s", a.status, a.body)
	}
	h["If-Match"] = "revision_number=1"
	if a := send(t, "PUT", one+"/ports/x", `{"port":{"allowed_address_pairs":[{"ip_address":"10.0.0.5/32"}]}}`, nil, h); a.status != 200 || !strings.Contains(a.body, `"revision_number":2`) {
		t.Errorf("current revision: %d %s", a.status, a.body)
	}
}

func TestNeutronWithoutRevisions(t *testing.T) {
	_, srv := setup(t, func(c *Config) { c.NoRevisions = true })
	tok := keystoneToken(t, srv, "sec").header.Get("X-Subject-Token")
	a := send(t, "GET", srv.URL+"/v2.0/ports/x", "", nil, map[string]string{"X-Auth-Token": tok})
	if a.status != 200 || strings.Contains(a.body, "revision_number") {
		t.Errorf("port: %d %s, want no revision_number", a.status, a.body)
	}
	h := map[string]string{"X-Auth-Token": tok, "If-Match": "revision_number=0"}
	if a := send(t, "PUT", srv.URL+"/v2.0/ports/x", `{"port":{"allowed_address_pairs":[]}}`, nil, h); a.status != 412 {
		t.Errorf("If-Match without revisions: %d", a.status)
	}
	delete(h, "If-Match")
	if a := send(t, "PUT", srv.URL+"/v2.0/ports/x", `{"port":{"allowed_address_pairs":[]}}`, nil, h); a.status != 200 {
		t.Errorf("plain update: %d %s", a.status, a.body)
	}
}

func TestNeutronPages(t *testing.T) {
	_, srv := setup(t, func(c *Config) {
		c.PageSize = 2
		for _, id := range []string{"a1", "a2", "a3"} {
			c.Ports = append(c.Ports, Port{ID: id, NetworkID: "n2"})
		}
	})
	tok := keystoneToken(t, srv, "sec").header.Get("X-Subject-Token")
	next := srv.URL + "/v2.0/ports?network_id=n2"
	var got []string
	for next != "" {
		a := send(t, "GET", next, "", nil, map[string]string{"X-Auth-Token": tok})
		var doc struct {
			Ports []struct{ ID string }        `json:"ports"`
			Links []struct{ Rel, Href string } `json:"ports_links"`
		}
		if err := json.Unmarshal([]byte(a.body), &doc); err != nil {
			t.Fatal(err)
		}
		for _, p := range doc.Ports {
			got = append(got, p.ID)
		}
		next = ""
		for _, l := range doc.Links {
			if l.Rel == "next" {
				next = l.Href
			}
		}
	}
	if want := []string{"a1", "a2", "a3"}; !slices.Equal(got, want) {
		t.Errorf("pages gave %v, want %v", got, want)
	}
}

func TestNeutronFloatingIPAssociation(t *testing.T) {
	s, srv := setup(t, func(c *Config) {
		c.Unrouted = []string{"n9"}
		c.Ports = append(c.Ports,
			Port{ID: "two", NetworkID: "n1", FixedIPs: []string{"10.0.0.3", "10.0.0.4"}},
			Port{ID: "island", NetworkID: "n9", FixedIPs: []string{"10.9.0.1"}})
		c.FloatingIPs["other"] = "x"
	})
	tok := keystoneToken(t, srv, "sec").header.Get("X-Subject-Token")
	put := func(body string) answer {
		return send(t, "PUT", srv.URL+"/v2.0/floatingips/fip", body, nil, map[string]string{"X-Auth-Token": tok})
	}
	tests := []struct {
		body, typ string
		status    int
	}{
		{`{"floatingip":{"port_id":"nope"}}`, "PortNotFound", 404},
		{`{"floatingip":{"port_id":"two"}}`, "BadRequest", 400},
		{`{"floatingip":{"port_id":"vip","fixed_ip_address":"10.0.0.1"}}`, "BadRequest", 400},
		{`{"floatingip":{"port_id":"island"}}`, "ExternalGatewayForFloatingIPNotFound", 404},
		{`{"floatingip":{"port_id":"x"}}`, "FloatingIPPortAlreadyAssociated", 409},
	}
	for _, tt := range tests {
		a := put(tt.body)
		if a.status != tt.status || !strings.Contains(a.body, `"type":"`+tt.typ+`"`) {
			t.Errorf("%s: %d %s, want %d %s", tt.body, a.status, a.body, tt.status, tt.typ)
		}
	}
	if a := put(`{"floatingip":{"port_id":"vip","fixed_ip_address":"10.0.0.100"}}`); a.status != 200 || !strings.Contains(a.body, `"fixed_ip_address":"10.0.0.100"`) {
		t.Errorf("associate with the VIP port: %d %s", a.status, a.body)
	}
	if got := s.FloatingIPPort("fip"); got != "vip" {
		t.Errorf("floating IP on %q", got)
	}
}
