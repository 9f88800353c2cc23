package fake

import (
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// The metadata service of a server (ECS, Nova), per caller. ECS hands
// out tokens with PUT /meta-data/latest/api/token (the lifetime in
// X-Metadata-Token-Ttl-Seconds, at most six hours) and checks the
// X-Metadata-Token of each read; with http_tokens = required a read
// without one is refused. Nova has no token API.

const (
	metadataTokenPath   = "/meta-data/latest/api/token"
	maxMetadataTokenTTL = 6 * time.Hour
	// noAgencyMessage is the securitykey answer of a server without an
	// agency; the SDKs look for it.
	noAgencyMessage = "Please configure Cloud Service Agency first"
)

func (s *Server) metadata(w http.ResponseWriter, r *http.Request, from string) {
	if r.URL.Path == metadataTokenPath {
		s.metadataToken(w, r)
		return
	}
	ip, _ := netip.ParseAddr(from)
	s.mu.Lock()
	c, known := s.callers[ip]
	s.mu.Unlock()
	if !known {
		plainError(w, 404, "404 Not Found")
		return
	}
	if r.Method != http.MethodGet {
		plainError(w, 405, "405 Method Not Allowed")
		return
	}
	if !s.metadataAllowed(w, r) {
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
		if c.NoAgency {
			plainError(w, 401, noAgencyMessage)
			return
		}
		writeJSON(w, 200, map[string]any{"credential": s.agencyCredential()})
	default:
		plainError(w, 404, "404 Not Found")
	}
}

// metadataToken answers PUT /meta-data/latest/api/token.
func (s *Server) metadataToken(w http.ResponseWriter, r *http.Request) {
	if s.cfg.MetadataTokens == TokensUnsupported {
		plainError(w, 404, "404 Not Found")
		return
	}
	if r.Method != http.MethodPut {
		plainError(w, 405, "405 Method Not Allowed")
		return
	}
	secs, err := strconv.Atoi(r.Header.Get("X-Metadata-Token-Ttl-Seconds"))
	if err != nil || secs < 1 || time.Duration(secs)*time.Second > maxMetadataTokenTTL {
		s.countRejected()
		plainError(w, 400, "X-Metadata-Token-Ttl-Seconds must be 1..21600")
		return
	}
	tok := randHex(40)
	s.mu.Lock()
	s.metaTokens[tok] = s.now().Add(time.Duration(secs) * time.Second)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write([]byte(tok))
}

// metadataAllowed checks a read's token: a token sent must be valid;
// none at all is refused when tokens are required.
func (s *Server) metadataAllowed(w http.ResponseWriter, r *http.Request) bool {
	tok := r.Header.Get("X-Metadata-Token")
	note(w, func(c *Call) { c.MetadataToken = tok != "" })
	if tok == "" {
		if s.cfg.MetadataTokens == TokensRequired {
			s.countRejected()
			plainError(w, 401, "401 Unauthorized")
			return false
		}
		return true
	}
	s.mu.Lock()
	exp, ok := s.metaTokens[tok]
	s.mu.Unlock()
	if s.cfg.MetadataTokens == TokensUnsupported || !ok || s.now().After(exp) {
		s.countRejected()
		plainError(w, 401, "401 Unauthorized")
		return false
	}
	return true
}

// agencyCredential makes temporary credentials of the agency.
func (s *Server) agencyCredential() map[string]any {
	ttl := s.cfg.AgencyTTL
	if ttl <= 0 {
		ttl = time.Hour
	}
	cred := tempCred{secret: randHex(40), token: randHex(64), expires: s.now().Add(ttl)}
	ak := "TMP" + strings.ToUpper(randHex(16))
	s.mu.Lock()
	s.temp[ak] = cred
	s.secrets = append(s.secrets, cred.secret, cred.token)
	s.mu.Unlock()
	return map[string]any{
		"access": ak, "secret": cred.secret, "securitytoken": cred.token,
		"expires_at": cred.expires.UTC().Format(time.RFC3339Nano),
	}
}

// ExpireMetadataTokens makes every metadata token handed out so far
// invalid, as if its lifetime had passed.
func (s *Server) ExpireMetadataTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.metaTokens)
}
