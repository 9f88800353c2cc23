package fake

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// The API gateway's check of an SDK-HMAC-SHA256 signature, written from
// Huawei Cloud's published description of the algorithm ("AK/SK signing
// and authentication") and not from the client in package cloudbind, so
// that a canonicalisation mistake in either shows as a rejected request.
//
//	CanonicalRequest = Method \n CanonicalURI \n CanonicalQueryString \n
//	                   CanonicalHeaders \n SignedHeaders \n HexEncode(Hash(body))
//	StringToSign     = "SDK-HMAC-SHA256" \n X-Sdk-Date \n HexEncode(Hash(CanonicalRequest))
//	Signature        = HexEncode(HMAC-SHA256(SecretKey, StringToSign))
//
// The gateway reads the request as it arrived: the path and query as
// sent (percent-decoded by RFC 3986, so "+" is a plus sign), the headers
// the Authorization header names, whichever they are.

const sdkAlgorithm = "SDK-HMAC-SHA256"

// authorization is a parsed Authorization header.
type authorization struct {
	access    string
	signed    []string
	signature string
}

// parseAuthorization reads "SDK-HMAC-SHA256 Access=…, SignedHeaders=…,
// Signature=…".
func parseAuthorization(h string) (authorization, error) {
	rest, ok := strings.CutPrefix(h, sdkAlgorithm+" ")
	if !ok {
		return authorization{}, errors.New("the Authorization header is not SDK-HMAC-SHA256")
	}
	var a authorization
	for _, field := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(field), "=")
		switch k {
		case "Access":
			a.access = v
		case "SignedHeaders":
			a.signed = strings.Split(v, ";")
		case "Signature":
			a.signature = v
		}
	}
	if a.access == "" || len(a.signed) == 0 || a.signature == "" {
		return authorization{}, errors.New("the Authorization header lacks Access, SignedHeaders or Signature")
	}
	for _, name := range a.signed {
		if name == "" || name != strings.ToLower(name) {
			return authorization{}, fmt.Errorf("signed header name %q is not lower case", name)
		}
	}
	if !slices.IsSorted(a.signed) {
		return authorization{}, errors.New("the signed header names are not sorted")
	}
	return a, nil
}

// gatewaySignature computes the signature of r as the gateway does,
// over the header names in signed.
func gatewaySignature(r *http.Request, body []byte, signed []string, secret string) (string, error) {
	creq, err := gatewayCanonicalRequest(r, body, signed)
	if err != nil {
		return "", err
	}
	h := sha256.Sum256([]byte(creq))
	sts := sdkAlgorithm + "\n" + r.Header.Get("X-Sdk-Date") + "\n" + hex.EncodeToString(h[:])
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(sts))
	return hex.EncodeToString(mac.Sum(nil)), nil
}

func gatewayCanonicalRequest(r *http.Request, body []byte, signed []string) (string, error) {
	uri, err := canonicalPath(r.URL.EscapedPath())
	if err != nil {
		return "", err
	}
	query, err := canonicalQueryString(r.URL.RawQuery)
	if err != nil {
		return "", err
	}
	headers, err := canonicalHeaderBlock(r, signed)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(body)
	return r.Method + "\n" + uri + "\n" + query + "\n" + headers + "\n" +
		strings.Join(signed, ";") + "\n" + hex.EncodeToString(sum[:]), nil
}

// canonicalPath encodes every segment of the path as sent and ends it
// with "/".
func canonicalPath(raw string) (string, error) {
	segs := strings.Split(raw, "/")
	for i, s := range segs {
		d, err := percentDecode(s)
		if err != nil {
			return "", fmt.Errorf("path: %w", err)
		}
		segs[i] = percentEncode(d)
	}
	p := strings.Join(segs, "/")
	if !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return p, nil
}

// canonicalQueryString decodes the query as sent, sorts it by name and
// value and encodes it again; "k" without "=" has an empty value.
func canonicalQueryString(raw string) (string, error) {
	type pair struct{ k, v string }
	var pairs []pair
	for _, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		dk, err := percentDecode(k)
		if err != nil {
			return "", fmt.Errorf("query: %w", err)
		}
		dv, err := percentDecode(v)
		if err != nil {
			return "", fmt.Errorf("query: %w", err)
		}
		pairs = append(pairs, pair{strings.ToLower(dk), dv})
	}
	slices.SortFunc(pairs, func(a, b pair) int {
		if c := strings.Compare(a.k, b.k); c != 0 {
			return c
		}
		return strings.Compare(a.v, b.v)
	})
	out := make([]string, len(pairs))
	for i, p := range pairs {
		out[i] = percentEncode(p.k) + "=" + percentEncode(p.v)
	}
	return strings.Join(out, "&"), nil
}

// canonicalHeaderBlock is "name:value\n" for every signed header; each
// must be in the request.
func canonicalHeaderBlock(r *http.Request, signed []string) (string, error) {
	var b strings.Builder
	for _, name := range signed {
		var vals []string
		if name == "host" {
			vals = []string{r.Host}
		} else {
			vals = slices.Clone(r.Header.Values(name))
		}
		if len(vals) == 0 || vals[0] == "" {
			return "", fmt.Errorf("signed header %q is not in the request", name)
		}
		slices.Sort(vals)
		for _, v := range vals {
			b.WriteString(name + ":" + strings.TrimSpace(v) + "\n")
		}
	}
	return b.String(), nil
}

// unreserved are the characters sent as they are (RFC 3986).
func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.~", c) >= 0
}

func percentEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if unreserved(s[i]) {
			b.WriteByte(s[i])
		} else {
			fmt.Fprintf(&b, "%%%02X", s[i])
		}
	}
	return b.String()
}

// percentDecode undoes %XX escapes and nothing else.
func percentDecode(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", fmt.Errorf("bad escape in %q", s)
		}
		v, err := hex.DecodeString(s[i+1 : i+3])
		if err != nil {
			return "", fmt.Errorf("bad escape in %q", s)
		}
		b.WriteByte(v[0])
		i += 2
	}
	return b.String(), nil
}
