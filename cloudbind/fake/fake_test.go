package fake

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/havip/havip/cloudbind"
)

func setup(t *testing.T) (*Server, *httptest.Server) {
	s := New(Config{
		ProjectID: "p",
		Keys:      map[string]string{"AK": "SK"},
		Ports:     []Port{{ID: "x", FixedIPs: []string{"10.0.0.1"}}},
		Callers:   map[string]Caller{"127.0.0.1": {MAC: "fa:16:3e:00:00:01", PortID: "x"}},
	})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return s, srv
}

func send(t *testing.T, method, url, body string, c *cloudbind.Credentials, hdr map[string]string) (int, string) {
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
	if c != nil {
		if err := cloudbind.Sign(r, *c, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestStrictHuawei(t *testing.T) {
	s, srv := setup(t)
	good := &cloudbind.Credentials{AccessKey: "AK", SecretKey: "SK"}
	bad := &cloudbind.Credentials{AccessKey: "AK", SecretKey: "nope"}
	tests := []struct {
		name, method, path, body string
		cred                     *cloudbind.Credentials
		want                     int
	}{
		{"signed get", "GET", "/v1/p/ports/x", "", good, 200},
		{"unsigned", "GET", "/v1/p/ports/x", "", nil, 401},
		{"bad signature", "GET", "/v1/p/ports/x", "", bad, 401},
		{"other project", "GET", "/v1/q/ports/x", "", good, 403},
		{"unknown filter", "GET", "/v1/p/ports?owner=x", "", good, 400},
		{"known filter", "GET", "/v1/p/ports?device_owner=neutron%3AVIP_PORT", "", good, 200},
		{"unknown field", "PUT", "/v1/p/ports/x", `{"port":{"allowed_address_pairs":[],"extra":1}}`, good, 400},
		{"bad pair", "PUT", "/v1/p/ports/x", `{"port":{"allowed_address_pairs":[{"ip_address":"x"}]}}`, good, 400},
		{"good update", "PUT", "/v1/p/ports/x", `{"port":{"allowed_address_pairs":[{"ip_address":"10.0.0.9"}]}}`, good, 200},
	}
	for _, tt := range tests {
		if code, body := send(t, tt.method, srv.URL+tt.path, tt.body, tt.cred, nil); code != tt.want {
			t.Errorf("%s: %d %s, want %d", tt.name, code, body, tt.want)
		}
	}
	if got := s.Pairs("x"); len(got) != 1 || got[0] != "10.0.0.9" {
		t.Errorf("pairs %v", got)
	}
}

func TestMetadataPerCaller(t *testing.T) {
	s, srv := setup(t)
	code, body := send(t, "GET", srv.URL+"/openstack/latest/network_data.json", "", nil, nil)
	if code != 200 || !strings.Contains(body, `"vif_id":"x"`) || !strings.Contains(body, "fa:16:3e:00:00:01") {
		t.Errorf("network_data.json: %d %s", code, body)
	}
	s.mu.Lock()
	s.callers = nil
	s.mu.Unlock()
	if code, _ := send(t, "GET", srv.URL+"/openstack/latest/network_data.json", "", nil, nil); code != 404 {
		t.Errorf("unknown caller: %d, want 404", code)
	}
}

func TestNeutronRevisionAndToken(t *testing.T) {
	s, srv := setup(t)
	s.cfg.Users = map[string]string{"ac": "sec"}
	if code, _ := send(t, "GET", srv.URL+"/v2.0/ports/x", "", nil, map[string]string{"X-Auth-Token": "forged"}); code != 401 {
		t.Errorf("forged token: %d, want 401", code)
	}
	r, _ := http.NewRequest("POST", srv.URL+"/v3/auth/tokens", strings.NewReader(
		`{"auth":{"identity":{"methods":["application_credential"],"application_credential":{"id":"ac","secret":"sec"}}}}`))
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	tok := resp.Header.Get("X-Subject-Token")
	if resp.StatusCode != 201 || tok == "" {
		t.Fatalf("token: %d %q", resp.StatusCode, tok)
	}
	h := map[string]string{"X-Auth-Token": tok, "If-Match": "revision_number=7"}
	if code, _ := send(t, "PUT", srv.URL+"/v2.0/ports/x", `{"port":{"allowed_address_pairs":[]}}`, nil, h); code != 412 {
		t.Errorf("stale revision: %d, want 412", code)
	}
	h["If-Match"] = "revision_number=1"
	if code, body := send(t, "PUT", srv.URL+"/v2.0/ports/x", `{"port":{"allowed_address_pairs":[{"ip_address":"10.0.0.5"}]}}`, nil, h); code != 200 {
		t.Errorf("current revision: %d %s", code, body)
	}
}
