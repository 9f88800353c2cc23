package cloudbind

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// The test vectors of the public Huawei Cloud Go SDK.
func TestSignVectors(t *testing.T) {
	tests := []struct {
		method, url, body, want string
	}{
		{"GET", "https://example.huaweicloud.com/path?limit=1", "",
			"SDK-HMAC-SHA256 Access=AccessKey, SignedHeaders=x-sdk-date, Signature=5a2ce64c865e0e6046321c6f3d5a77ba8413eeaf355c3166c03d58d02ac79624"},
		{"POST", "https://example.huaweicloud.com/path?key=value", "{\"Name\":\"test\",\"Id\":1}\n",
			"SDK-HMAC-SHA256 Access=AccessKey, SignedHeaders=x-sdk-date, Signature=cecc2af119b18ab70b4d094c0750f3b42c02f254903179a0fc2cc72fc9db4f59"},
	}
	for _, tt := range tests {
		r, err := http.NewRequest(tt.method, tt.url, strings.NewReader(tt.body))
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("X-Sdk-Date", "20060102T150405Z")
		if err := Sign(r, Credentials{AccessKey: "AccessKey", SecretKey: "SecretKey"}, time.Time{}); err != nil {
			t.Fatal(err)
		}
		if got := r.Header.Get("Authorization"); got != tt.want {
			t.Errorf("%s %s:\n got %s\nwant %s", tt.method, tt.url, got, tt.want)
		}
	}
}

// Vectors computed with the official SDK's signer for the calls havip
// makes: X-Project-Id signed beside X-Sdk-Date (and X-Security-Token),
// neither host nor content-type.
func TestSignSDKVectors(t *testing.T) {
	const (
		p    = "0123456789abcdef0123456789abcdef"
		host = "https://vpc.cn-north-4.myhuaweicloud.com"
		put  = "/v1/" + p + "/ports/6c7d4f6b-1d0e-4a39-9b1b-0f3c2a6a2f11"
	)
	cred := Credentials{AccessKey: "AKFAKE0001", SecretKey: "SKfakeSecret0001"}
	temp := cred
	temp.SecurityToken = "gQpjbi1ub3J0aC00+/=tok"
	listed := url.Values{"device_owner": {"neutron:VIP_PORT"}, "fixed_ips": {"ip_address=192.168.0.22"}}
	paged := url.Values{"limit": {"10"}, "marker": {""}, "name": {"a b+c/d?&=é*~%"}}
	tests := []struct {
		name, method, url, body string
		cred                    Credentials
		signed, sig             string
	}{
		{"list VIP ports", "GET", host + "/v1/" + p + "/ports?" + encodeQuery(listed), "", cred,
			"x-project-id;x-sdk-date", "e2c537f4edbc484a4f776f7fa1b035834eef8cd2ea9f21992f8ea02748498175"},
		{"bind", "PUT", host + put, `{"port":{"allowed_address_pairs":[{"ip_address":"192.168.0.11"}]}}`, cred,
			"x-project-id;x-sdk-date", "ea93e2c6669787332df0d01b9ef97662acd407798e2f362d1d009fb86b4867d0"},
		{"open own port, temporary credentials", "PUT", host + put, `{"port":{"allowed_address_pairs":[{"ip_address":"1.1.1.1/0"}]}}`, temp,
			"x-project-id;x-sdk-date;x-security-token", "8dc6b087df2fe3e135e8a8b35cd5d9ca872186df1d7dbd38a1046ad06f5d1026"},
		{"escaped query", "GET", host + "/v1/" + p + "/ports?limit=10&marker&name=a%20b%2Bc%2Fd%3F%26%3D%C3%A9%2A~%25", "", cred,
			"x-project-id;x-sdk-date", "1dafc23b32e8642f3a269c9182c571722f05f36bcd1e2750d40eb3cdc8a5c459"},
		// The same query as encodeQuery writes it ("marker=" for the
		// empty value) signs the same.
		{"escaped query, encoded here", "GET", host + "/v1/" + p + "/ports?" + encodeQuery(paged), "", cred,
			"x-project-id;x-sdk-date", "1dafc23b32e8642f3a269c9182c571722f05f36bcd1e2750d40eb3cdc8a5c459"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body *strings.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			r, err := http.NewRequest(tt.method, tt.url, nil)
			if body != nil {
				r, err = http.NewRequest(tt.method, tt.url, body)
				r.Header.Set("Content-Type", "application/json")
			}
			if err != nil {
				t.Fatal(err)
			}
			r.Header.Set("X-Project-Id", p)
			if err := Sign(r, tt.cred, time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)); err != nil {
				t.Fatal(err)
			}
			want := "SDK-HMAC-SHA256 Access=AKFAKE0001, SignedHeaders=" + tt.signed + ", Signature=" + tt.sig
			if got := r.Header.Get("Authorization"); got != want {
				t.Errorf("\n got %s\nwant %s", got, want)
			}
			if r.Header.Get("X-Sdk-Date") != "20261205T120000Z" {
				t.Errorf("X-Sdk-Date %q", r.Header.Get("X-Sdk-Date"))
			}
		})
	}
}

// A space goes on the wire as %20, never "+".
func TestEncodeQuery(t *testing.T) {
	got := encodeQuery(url.Values{"name": {"a b+c"}, "fixed_ips": {"ip_address=10.0.0.1"}})
	if want := "fixed_ips=ip_address%3D10.0.0.1&name=a%20b%2Bc"; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestCanonicalQueryVector(t *testing.T) {
	tests := []struct {
		name string
		q    url.Values
		want string
	}{
		{"sdk vector", url.Values{
			"limit":  {"1"},
			"enable": {"true"},
			"test":   {"一 (&=?!#%.*)"},
			"path":   {"/tmp/123"},
			"multi":  {"3", "1", "2"},
		}, "enable=true&limit=1&multi=1&multi=2&multi=3&path=%2Ftmp%2F123&test=%E4%B8%80%20%28%26%3D%3F%21%23%25.%2A%29"},
		// The SDK's signer lowercases the names before sorting them
		// (the wire keeps them as they are); so does the gateway.
		{"names lowercased, then sorted", url.Values{
			"Marker": {"m"},
			"limit":  {"10"},
			"Name":   {"b"},
		}, "limit=10&marker=m&name=b"},
		{"one name in two cases", url.Values{
			"Multi": {"2"},
			"multi": {"3", "1"},
		}, "multi=1&multi=2&multi=3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CanonicalQuery(tt.q); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestCanonicalURI(t *testing.T) {
	for in, want := range map[string]string{
		"":                "/",
		"/path":           "/path/",
		"/v1/p/ports/a-b": "/v1/p/ports/a-b/",
		"/a%20b/":         "/a%20b/",
		"/a:b":            "/a%3Ab/",
	} {
		if got := CanonicalURI(in); got != want {
			t.Errorf("CanonicalURI(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSignChangesWithBody(t *testing.T) {
	body := `{"port":{}}`
	r, _ := http.NewRequest("PUT", "http://127.0.0.1:8080/v1/p/ports/x", strings.NewReader(body))
	c := Credentials{AccessKey: "AK", SecretKey: "SK", SecurityToken: "tok"}
	if err := Sign(r, c, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	if r.Header.Get("X-Security-Token") != "tok" {
		t.Errorf("headers %v", r.Header)
	}
	signed := []string{"x-sdk-date", "x-security-token"}
	if Signature(r, []byte(body+" "), signed, "SK") == Signature(r, []byte(body), signed, "SK") {
		t.Error("a changed body gives the same signature")
	}
}
