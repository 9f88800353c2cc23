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
		sig := Signature(r, []byte(tt.body), []string{"x-sdk-date"}, "SecretKey")
		got := "SDK-HMAC-SHA256 Access=AccessKey, SignedHeaders=x-sdk-date, Signature=" + sig
		if got != tt.want {
			t.Errorf("%s %s:\n got %s\nwant %s", tt.method, tt.url, got, tt.want)
		}
	}
}

func TestCanonicalQueryVector(t *testing.T) {
	q := url.Values{
		"limit":  {"1"},
		"enable": {"true"},
		"test":   {"一 (&=?!#%.*)"},
		"path":   {"/tmp/123"},
		"multi":  {"3", "1", "2"},
	}
	want := "enable=true&limit=1&multi=1&multi=2&multi=3&path=%2Ftmp%2F123&test=%E4%B8%80%20%28%26%3D%3F%21%23%25.%2A%29"
	if got := CanonicalQuery(q); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
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

func TestSignRoundTrip(t *testing.T) {
	body := `{"port":{}}`
	r, _ := http.NewRequest("PUT", "http://127.0.0.1:8080/v1/p/ports/x?fixed_ips=ip_address%3D10.0.0.1", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	c := Credentials{AccessKey: "AK", SecretKey: "SK", SecurityToken: "tok"}
	if err := Sign(r, c, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	ak, signed, sig, ok := ParseAuthorization(r.Header.Get("Authorization"))
	if !ok || ak != "AK" || strings.Join(signed, ";") != "content-type;host;x-sdk-date;x-security-token" {
		t.Fatalf("authorization %q", r.Header.Get("Authorization"))
	}
	if r.Header.Get("X-Sdk-Date") != "20260102T030405Z" || r.Header.Get("X-Security-Token") != "tok" {
		t.Errorf("headers %v", r.Header)
	}
	if want := Signature(r, []byte(body), signed, "SK"); sig != want {
		t.Errorf("signature %s, recomputed %s", sig, want)
	}
	if Signature(r, []byte(body+" "), signed, "SK") == sig {
		t.Error("a changed body gives the same signature")
	}
}
