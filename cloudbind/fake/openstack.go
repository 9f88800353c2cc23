package fake

import (
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"
)

type ksName struct {
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
}

type ksRequest struct {
	Auth struct {
		Identity struct {
			Methods  []string `json:"methods"`
			Password *struct {
				User struct {
					ID       string  `json:"id,omitempty"`
					Name     string  `json:"name,omitempty"`
					Domain   *ksName `json:"domain,omitempty"`
					Password string  `json:"password"`
				} `json:"user"`
			} `json:"password,omitempty"`
			AppCred *struct {
				ID     string `json:"id,omitempty"`
				Name   string `json:"name,omitempty"`
				Secret string `json:"secret"`
			} `json:"application_credential,omitempty"`
		} `json:"identity"`
		Scope *struct {
			Project *struct {
				ID     string  `json:"id,omitempty"`
				Name   string  `json:"name,omitempty"`
				Domain *ksName `json:"domain,omitempty"`
			} `json:"project,omitempty"`
		} `json:"scope,omitempty"`
	} `json:"auth"`
}

// keystone serves POST /v3/auth/tokens for passwords ("user@domain" in
// Config.Users) and application credentials (their ID in Config.Users).
func (s *Server) keystone(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeErr(w, 405, "FAKE", "method not allowed")
		return
	}
	rest, err := readAll(r)
	if err != nil {
		writeErr(w, 400, "FAKE", "cannot read the body")
		return
	}
	var req ksRequest
	if err := decodeStrict(rest, &req); err != nil {
		s.reject(w, 400, "FAKE", "bad auth request: "+err.Error())
		return
	}
	id := req.Auth.Identity
	ok := false
	switch {
	case slices.Equal(id.Methods, []string{"application_credential"}) && id.AppCred != nil:
		want, known := s.cfg.Users[id.AppCred.ID]
		ok = known && want == id.AppCred.Secret
	case slices.Equal(id.Methods, []string{"password"}) && id.Password != nil:
		u := id.Password.User
		dom := "Default"
		if u.Domain != nil {
			dom = u.Domain.Name
		}
		want, known := s.cfg.Users[u.Name+"@"+dom]
		ok = known && want == u.Password
		if ok && (req.Auth.Scope == nil || req.Auth.Scope.Project == nil) {
			s.reject(w, 400, "FAKE", "a password token needs a project scope")
			return
		}
	}
	if !ok {
		s.reject(w, 401, "FAKE", "the request you have made requires authentication")
		return
	}
	ttl := s.cfg.TokenTTL
	if ttl <= 0 {
		ttl = time.Hour
	}
	tok := "tok" + randHex(32)
	exp := s.now().Add(ttl)
	s.mu.Lock()
	s.tokens[tok] = exp
	s.secrets = append(s.secrets, tok)
	s.mu.Unlock()
	base := "http://" + r.Host + "/"
	w.Header().Set("X-Subject-Token", tok)
	writeJSON(w, 201, map[string]any{"token": map[string]any{
		"methods":    id.Methods,
		"expires_at": exp.UTC().Format(time.RFC3339Nano),
		"issued_at":  s.now().UTC().Format(time.RFC3339Nano),
		"project":    map[string]any{"id": s.cfg.ProjectID, "name": "p", "domain": map[string]string{"id": "default", "name": "Default"}},
		"user":       map[string]any{"id": "u1", "name": "u", "domain": map[string]string{"id": "default", "name": "Default"}},
		"catalog": []any{map[string]any{
			"type": "network", "name": "neutron", "id": "svc-net",
			"endpoints": []any{map[string]any{"id": "ep1", "interface": "public", "region": "RegionOne", "region_id": "RegionOne", "url": base}},
		}},
	}})
}

// Tokens counts the Keystone tokens issued so far.
func (s *Server) Tokens() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.tokens)
}

func neutronView(p *Port) map[string]any {
	fixed := []map[string]string{}
	for _, ip := range p.FixedIPs {
		fixed = append(fixed, map[string]string{"subnet_id": "subnet-" + p.NetworkID, "ip_address": ip})
	}
	pairs := []map[string]string{}
	for _, ip := range p.Pairs {
		pairs = append(pairs, map[string]string{"ip_address": ip, "mac_address": p.MAC})
	}
	return map[string]any{
		"id": p.ID, "name": "", "network_id": p.NetworkID, "admin_state_up": true, "status": "ACTIVE",
		"mac_address": p.MAC, "fixed_ips": fixed, "device_id": "", "device_owner": p.DeviceOwner,
		"tenant_id": "", "project_id": "", "security_groups": []string{}, "allowed_address_pairs": pairs,
		"revision_number": p.Revision, "tags": []string{},
	}
}

var neutronFilters = []string{"id", "name", "network_id", "device_owner", "device_id", "mac_address", "fixed_ips", "limit", "marker"}

// neutron serves ports and floating IPs under /v2.0/.
func (s *Server) neutron(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	exp, ok := s.tokens[r.Header.Get("X-Auth-Token")]
	s.mu.Unlock()
	if !ok || s.now().After(exp) {
		s.reject(w, 401, "FAKE", "authentication required")
		return
	}
	body, err := readAll(r)
	if err != nil {
		writeErr(w, 400, "FAKE", "cannot read the body")
		return
	}
	path := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/v2.0/"), "/")
	switch {
	case path == "ports" && r.Method == http.MethodGet:
		q := r.URL.Query()
		for k := range q {
			if !slices.Contains(neutronFilters, k) {
				s.reject(w, 400, "FAKE", "unknown filter "+k)
				return
			}
		}
		s.mu.Lock()
		out := []map[string]any{}
		for _, p := range s.matchingPorts(q) {
			out = append(out, neutronView(p))
		}
		s.mu.Unlock()
		writeJSON(w, 200, map[string]any{"ports": out})
	case strings.HasPrefix(path, "ports/") && r.Method == http.MethodGet:
		s.mu.Lock()
		p, ok := s.ports[path[6:]]
		var v map[string]any
		if ok {
			v = neutronView(p)
		}
		s.mu.Unlock()
		if !ok {
			writeErr(w, 404, "PortNotFound", "port not found")
			return
		}
		writeJSON(w, 200, map[string]any{"port": v})
	case strings.HasPrefix(path, "ports/") && r.Method == http.MethodPut:
		var req struct {
			Port struct {
				Name  *string `json:"name,omitempty"`
				Pairs *[]struct {
					IPAddress  string `json:"ip_address"`
					MACAddress string `json:"mac_address,omitempty"`
				} `json:"allowed_address_pairs,omitempty"`
			} `json:"port"`
		}
		if err := decodeStrict(body, &req); err != nil {
			s.reject(w, 400, "HTTPBadRequest", "bad request body: "+err.Error())
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		p, ok := s.ports[path[6:]]
		if !ok {
			writeErr(w, 404, "PortNotFound", "port not found")
			return
		}
		if ip, ok := s.race[p.ID]; ok {
			delete(s.race, p.ID)
			p.Pairs = append(p.Pairs, ip)
			p.Revision++
		}
		if im := r.Header.Get("If-Match"); im != "" {
			if im != fmt.Sprintf("revision_number=%d", p.Revision) {
				writeJSON(w, 412, map[string]any{"NeutronError": map[string]string{"type": "RevisionNumberConstraintFailed",
					"message": fmt.Sprintf("Constrained to %s, but current revision is %d", im, p.Revision)}})
				return
			}
		}
		if req.Port.Pairs != nil {
			var ips []string
			for _, pr := range *req.Port.Pairs {
				ip := pr.IPAddress
				if pf, err := netip.ParsePrefix(ip); err == nil && pf.IsSingleIP() {
					ip = pf.Addr().String()
				}
				if _, err := netip.ParseAddr(ip); err != nil {
					s.rejected++
					writeErr(w, 400, "HTTPBadRequest", "bad ip_address")
					return
				}
				ips = append(ips, ip)
			}
			p.Pairs = ips
			p.Revision++
		}
		writeJSON(w, 200, map[string]any{"port": neutronView(p)})
	case strings.HasPrefix(path, "floatingips/"):
		id := path[len("floatingips/"):]
		s.mu.Lock()
		defer s.mu.Unlock()
		port, ok := s.fips[id]
		if !ok {
			writeErr(w, 404, "FloatingIPNotFound", "floating IP not found")
			return
		}
		if r.Method == http.MethodPut {
			var req struct {
				FIP struct {
					PortID      *string `json:"port_id"`
					FixedIP     string  `json:"fixed_ip_address,omitempty"`
					Description *string `json:"description,omitempty"`
				} `json:"floatingip"`
			}
			if err := decodeStrict(body, &req); err != nil {
				s.rejected++
				writeErr(w, 400, "HTTPBadRequest", "bad request body: "+err.Error())
				return
			}
			if req.FIP.PortID != nil {
				if _, ok := s.ports[*req.FIP.PortID]; !ok && *req.FIP.PortID != "" {
					writeErr(w, 404, "PortNotFound", "port not found")
					return
				}
				port = *req.FIP.PortID
				s.fips[id] = port
			}
		} else if r.Method != http.MethodGet {
			writeErr(w, 405, "FAKE", "method not allowed")
			return
		}
		writeJSON(w, 200, map[string]any{"floatingip": map[string]any{
			"id": id, "port_id": port, "floating_ip_address": "203.0.113.10", "status": "ACTIVE",
			"floating_network_id": "ext", "router_id": "r1", "fixed_ip_address": "", "tenant_id": "", "project_id": "",
		}})
	default:
		writeErr(w, 404, "FAKE", "no such resource")
	}
}
