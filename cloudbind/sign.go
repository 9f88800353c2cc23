package cloudbind

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// SDK-HMAC-SHA256 request signing of Huawei Cloud's API gateway, as the
// official SDK (huaweicloud-sdk-go-v3 core/auth/signer) does it.

const (
	signAlgorithm   = "SDK-HMAC-SHA256"
	headerSdkDate   = "X-Sdk-Date"
	headerSecToken  = "X-Security-Token"
	headerProjectID = "X-Project-Id"
	sdkDateFormat   = "20060102T150405Z"
)

// Credentials sign requests: an access key and its secret, plus a
// security token for temporary (agency) credentials.
type Credentials struct {
	AccessKey     string
	SecretKey     string
	SecurityToken string
	// Expires is when temporary credentials stop working; zero for
	// permanent ones.
	Expires time.Time
}

// Sign adds X-Sdk-Date (unless set), X-Security-Token (for temporary
// credentials) and the Authorization header to r. Like the SDK it signs
// x-sdk-date, x-project-id when r has one, and x-security-token; not
// host, not content-type. It reads and restores r's body.
func Sign(r *http.Request, c Credentials, now time.Time) error {
	if r.Header.Get(headerSdkDate) == "" {
		r.Header.Set(headerSdkDate, now.UTC().Format(sdkDateFormat))
	}
	if c.SecurityToken != "" {
		r.Header.Set(headerSecToken, c.SecurityToken)
	}
	names := []string{"x-sdk-date"}
	if r.Header.Get(headerProjectID) != "" {
		names = append(names, "x-project-id")
	}
	if c.SecurityToken != "" {
		names = append(names, "x-security-token")
	}
	sort.Strings(names)
	body, err := readBody(r)
	if err != nil {
		return err
	}
	sig := Signature(r, body, names, c.SecretKey)
	r.Header.Set("Authorization", fmt.Sprintf("%s Access=%s, SignedHeaders=%s, Signature=%s",
		signAlgorithm, c.AccessKey, strings.Join(names, ";"), sig))
	return nil
}

func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	b, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("signing: reading the body: %w", err)
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	return b, nil
}

// Signature computes the hex signature of r over the signed header names
// (lower case, sorted), using X-Sdk-Date of r.
func Signature(r *http.Request, body []byte, signed []string, secret string) string {
	sts := stringToSign(canonicalRequest(r, body, signed), r.Header.Get(headerSdkDate))
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(sts))
	return hex.EncodeToString(m.Sum(nil))
}

// stringToSign is the algorithm, the date and the hash of the canonical
// request, one per line.
func stringToSign(canonical, date string) string {
	h := sha256.Sum256([]byte(canonical))
	return signAlgorithm + "\n" + date + "\n" + hex.EncodeToString(h[:])
}

// canonicalRequest is method, URI, query, headers, signed header names
// and the hash of the body, one per line.
func canonicalRequest(r *http.Request, body []byte, signed []string) string {
	h := sha256.Sum256(body)
	return strings.Join([]string{
		r.Method,
		CanonicalURI(r.URL.EscapedPath()),
		CanonicalQuery(r.URL.Query()),
		canonicalHeaders(r, signed),
		strings.Join(signed, ";"),
		hex.EncodeToString(h[:]),
	}, "\n")
}

// CanonicalURI escapes each segment of an (escaped) path and ends it
// with a slash.
func CanonicalURI(escapedPath string) string {
	segs := strings.Split(escapedPath, "/")
	for i, s := range segs {
		if u, err := url.PathUnescape(s); err == nil {
			s = u
		}
		segs[i] = escape(s)
	}
	p := strings.Join(segs, "/")
	if !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return p
}

// CanonicalQuery sorts the parameters by name, then value, escaped.
// Names are lowercased first, as the SDK's signer does (the request
// keeps them as they are): "Marker" signs as "marker".
func CanonicalQuery(q map[string][]string) string {
	lower := make(map[string][]string, len(q))
	for k, v := range q {
		lk := strings.ToLower(k)
		lower[lk] = append(lower[lk], v...)
	}
	keys := make([]string, 0, len(lower))
	for k := range lower {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		vals := lower[k]
		sort.Strings(vals)
		for _, v := range vals {
			parts = append(parts, escape(k)+"="+escape(v))
		}
	}
	return strings.Join(parts, "&")
}

// encodeQuery writes q as the SDK puts it on the wire: sorted by name,
// a space as %20 (url.Values.Encode writes "+", which a gateway that
// decodes by RFC 3986 reads as a plus sign, so the signature would not
// match).
func encodeQuery(q url.Values) string {
	return strings.ReplaceAll(q.Encode(), "+", "%20")
}

func canonicalHeaders(r *http.Request, signed []string) string {
	lower := map[string][]string{}
	for k, v := range r.Header {
		lower[strings.ToLower(k)] = v
	}
	var lines []string
	for _, name := range signed {
		vals := lower[name]
		if name == "host" {
			h := r.Host
			if h == "" {
				h = r.URL.Host
			}
			vals = []string{h}
		}
		vals = append([]string(nil), vals...)
		sort.Strings(vals)
		for _, v := range vals {
			lines = append(lines, name+":"+strings.TrimSpace(v))
		}
	}
	return strings.Join(lines, "\n") + "\n"
}

// escape percent-encodes everything but letters, digits and "_-~.".
func escape(s string) string {
	const hexdig = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '~' || c == '.' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexdig[c>>4])
		b.WriteByte(hexdig[c&15])
	}
	return b.String()
}
