package fake

import (
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
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
// The catalog has one Neutron per region.
func (s *Server) keystone(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		keystoneError(w, 405, "Method Not Allowed", "The method is not allowed for the requested URL.")
		return
	}
	rest, err := readAll(r)
	if err != nil {
		keystoneError(w, 400, "Bad Request", "cannot read the body")
		return
	}
	var req ksRequest
	if err := decodeStrict(rest, &req); err != nil {
		s.countRejected()
		keystoneError(w, 400, "Bad Request", "Invalid input for field 'auth': "+err.Error())
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
			s.countRejected()
			keystoneError(w, 400, "Bad Request", "a password token needs a project scope")
			return
		}
	}
	if !ok {
		s.countRejected()
		keystoneError(w, 401, "Unauthorized", "The request you have made requires authentication.")
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
	w.Header().Set("X-Subject-Token", tok)
	writeJSON(w, 201, map[string]any{"token": map[string]any{
		"methods":    id.Methods,
		"expires_at": exp.UTC().Format(time.RFC3339Nano),
		"issued_at":  s.now().UTC().Format(time.RFC3339Nano),
		"project":    map[string]any{"id": s.cfg.ProjectID, "name": "p", "domain": map[string]string{"id": "default", "name": "Default"}},
		"user":       map[string]any{"id": "u1", "name": "u", "domain": map[string]string{"id": "default", "name": "Default"}},
		"catalog":    []any{map[string]any{"type": "network", "name": "neutron", "id": "svc-net", "endpoints": s.endpoints(r)}},
	}})
}

// endpoints lists Neutron's public endpoint of every region.
func (s *Server) endpoints(r *http.Request) []any {
	var out []any
	for i, region := range s.cfg.Regions {
		out = append(out, map[string]any{"id": fmt.Sprintf("ep%d", i), "interface": "public", "region": region,
			"region_id": region, "url": "http://" + r.Host + "/neutron/" + region + "/"})
	}
	return out
}

// Tokens counts the Keystone tokens issued so far.
func (s *Server) Tokens() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.tokens)
}

func (s *Server) neutronView(p *Port) map[string]any {
	fixed := []map[string]string{}
	for _, ip := range p.FixedIPs {
		fixed = append(fixed, map[string]string{"subnet_id": "subnet-" + p.NetworkID, "ip_address": ip})
	}
	pairs := []map[string]string{}
	for _, ip := range p.Pairs {
		pairs = append(pairs, map[string]string{"ip_address": ip, "mac_address": p.MAC})
	}
	v := map[string]any{
		"id": p.ID, "name": "", "network_id": p.NetworkID, "admin_state_up": true, "status": "ACTIVE",
		"mac_address": p.MAC, "fixed_ips": fixed, "device_id": "", "device_owner": p.DeviceOwner,
		"tenant_id": "", "project_id": "", "security_groups": []string{}, "allowed_address_pairs": pairs,
		"tags": []string{},
	}
	if !s.cfg.NoRevisions {
		v["revision_number"] = p.Revision
	}
	return v
}

var neutronFilters = []string{"id", "name", "network_id", "device_owner", "device_id", "mac_address", "fixed_ips", "limit", "marker"}

// neutron serves ports and floating IPs of one region; path is what
// follows v2.0/.
func (s *Server) neutron(w http.ResponseWriter, r *http.Request, region, path string) {
	s.mu.Lock()
	exp, ok := s.tokens[r.Header.Get("X-Auth-Token")]
	s.mu.Unlock()
	if !ok || s.now().After(exp) {
		s.countRejected()
		keystoneError(w, 401, "Unauthorized", "The request you have made requires authentication.")
		return
	}
	body, err := readAll(r)
	if err != nil {
		neutronError(w, 400, "HTTPBadRequest", "cannot read the body")
		return
	}
	path = strings.TrimSuffix(path, "/")
	id, one := strings.CutPrefix(path, "ports/")
	switch {
	case path == "ports" && r.Method == http.MethodGet:
		s.neutronList(w, r, region)
	case one && r.Method == http.MethodGet:
		s.mu.Lock()
		defer s.mu.Unlock()
		if p := s.neutronPort(w, region, id); p != nil {
			writeJSON(w, 200, map[string]any{"port": s.neutronView(p)})
		}
	case one && r.Method == http.MethodPut:
		s.neutronUpdate(w, r, region, id, body)
	case strings.HasPrefix(path, "floatingips/"):
		s.floatingIP(w, r, region, strings.TrimPrefix(path, "floatingips/"), body)
	default:
		neutronError(w, 404, "HTTPNotFound", "The resource could not be found.")
	}
}

// neutronPort returns port id of region, or answers 404 and returns
// nil. s.mu held.
func (s *Server) neutronPort(w http.ResponseWriter, region, id string) *Port {
	p, ok := s.ports[id]
	if !ok || p.Region != region {
		neutronError(w, 404, "PortNotFound", "Port "+id+" could not be found.")
		return nil
	}
	return p
}

// neutronList lists ports, a page at a time when the client sends a
// limit or the server caps pages (Config.PageSize), with a next link
// in ports_links as Neutron gives it.
func (s *Server) neutronList(w http.ResponseWriter, r *http.Request, region string) {
	q := r.URL.Query()
	for k := range q {
		if !slices.Contains(neutronFilters, k) {
			s.countRejected()
			neutronError(w, 400, "HTTPBadRequest", "Unknown filter "+k)
			return
		}
	}
	limit := s.cfg.PageSize
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			s.countRejected()
			neutronError(w, 400, "BadRequest", "Bad limit request: Limit must be an integer 0 or greater")
			return
		}
		if limit == 0 || (n > 0 && n < limit) {
			limit = n
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ports, err := s.filterPorts(q, region)
	var more bool
	if err == nil {
		ports, more, err = page(ports, q.Get("marker"), limit)
	}
	if err != nil {
		s.rejected++
		neutronError(w, 400, "BadRequest", err.Error())
		return
	}
	out := []map[string]any{}
	for _, p := range ports {
		out = append(out, s.neutronView(p))
	}
	doc := map[string]any{"ports": out}
	if more {
		next := url.Values{}
		for k, v := range q {
			next[k] = v
		}
		next.Set("limit", strconv.Itoa(limit))
		next.Set("marker", ports[len(ports)-1].ID)
		u := url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path, RawQuery: next.Encode()}
		doc["ports_links"] = []map[string]string{{"rel": "next", "href": u.String()}}
	}
	writeJSON(w, 200, doc)
}

func (s *Server) neutronUpdate(w http.ResponseWriter, r *http.Request, region, id string, body []byte) {
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
		s.countRejected()
		neutronError(w, 400, "HTTPBadRequest", "Invalid input: "+err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.neutronPort(w, region, id)
	if p == nil {
		return
	}
	s.raceLocked(p)
	if im := r.Header.Get("If-Match"); im != "" {
		want, _ := strings.CutPrefix(im, "revision_number=")
		// Without revisions no constraint can hold.
		if s.cfg.NoRevisions || want != strconv.Itoa(p.Revision) {
			neutronError(w, 412, "RevisionNumberConstraintFailed",
				fmt.Sprintf("Constrained to %s, but current revision is %d", want, p.Revision))
			return
		}
	}
	if req.Port.Pairs != nil {
		var ips []string
		for _, pr := range *req.Port.Pairs {
			pf, ok := pairAddr(pr.IPAddress)
			if !ok {
				s.rejected++
				neutronError(w, 400, "HTTPBadRequest", fmt.Sprintf("Invalid input for allowed_address_pairs: '%s' is not a valid IP address", pr.IPAddress))
				return
			}
			ip := pr.IPAddress
			if pf.IsSingleIP() {
				ip = pf.Addr().String()
			}
			ips = append(ips, ip)
		}
		p.Pairs = ips
		p.Revision++
	}
	writeJSON(w, 200, map[string]any{"port": s.neutronView(p)})
}

// floatingIP serves GET and PUT /v2.0/floatingips/{id}. An association
// fails as Neutron's does: a port or fixed IP that does not exist, a
// port with several IPv4 addresses and none chosen, a network no router
// connects to the external network, a fixed IP that has a floating IP
// already.
func (s *Server) floatingIP(w http.ResponseWriter, r *http.Request, region, id string, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.fips[id]
	if !ok {
		neutronError(w, 404, "FloatingIPNotFound", "Floating IP "+id+" could not be found")
		return
	}
	switch r.Method {
	case http.MethodGet:
	case http.MethodPut:
		var req struct {
			FIP struct {
				PortID      *string `json:"port_id"`
				FixedIP     string  `json:"fixed_ip_address,omitempty"`
				Description *string `json:"description,omitempty"`
			} `json:"floatingip"`
		}
		if err := decodeStrict(body, &req); err != nil {
			s.rejected++
			neutronError(w, 400, "HTTPBadRequest", "Invalid input: "+err.Error())
			return
		}
		if req.FIP.PortID != nil {
			status, typ, msg := s.associate(id, f, *req.FIP.PortID, req.FIP.FixedIP, region)
			if status != 0 {
				neutronError(w, status, typ, msg)
				return
			}
		}
	default:
		neutronError(w, 405, "HTTPMethodNotAllowed", "method not allowed")
		return
	}
	writeJSON(w, 200, map[string]any{"floatingip": map[string]any{
		"id": id, "port_id": nullable(f.port), "fixed_ip_address": nullable(f.fixed), "floating_ip_address": "203.0.113.10",
		"status": "ACTIVE", "floating_network_id": "ext", "router_id": "r1", "tenant_id": "", "project_id": "",
	}})
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// associate moves floating IP f to port (empty: disassociates) on
// fixed; it returns the Neutron error that refused it, if any. s.mu held.
func (s *Server) associate(id string, f *floatingIP, port, fixed, region string) (int, string, string) {
	if port == "" {
		f.port, f.fixed = "", ""
		return 0, "", ""
	}
	p, ok := s.ports[port]
	if !ok || p.Region != region {
		return 404, "PortNotFound", "Port " + port + " could not be found."
	}
	var v4 []string
	for _, ip := range p.FixedIPs {
		if a, err := netip.ParseAddr(ip); err == nil && a.Is4() {
			v4 = append(v4, ip)
		}
	}
	switch {
	case fixed == "" && len(v4) > 1:
		return 400, "BadRequest", "Bad floatingip request: Port " + port + " has multiple fixed IPv4 addresses.  Must provide a specific IPv4 address when assigning a floating IP."
	case fixed == "" && len(v4) == 0:
		return 400, "BadRequest", "Bad floatingip request: Port " + port + " does not have any fixed IPv4 address."
	case fixed == "":
		fixed = v4[0]
	case !slices.Contains(v4, fixed):
		return 400, "BadRequest", "Bad floatingip request: Port " + port + " does not have fixed ip " + fixed + "."
	}
	if slices.Contains(s.cfg.Unrouted, p.NetworkID) {
		return 404, "ExternalGatewayForFloatingIPNotFound", "External network ext is not reachable from subnet subnet-" +
			p.NetworkID + ".  Therefore, cannot associate Port " + port + " with a Floating IP."
	}
	for other, g := range s.fips {
		if other != id && g.port == port && g.fixed == fixed {
			return 409, "FloatingIPPortAlreadyAssociated", "Cannot associate floating IP 203.0.113.10 (" + id +
				") with port " + port + " using fixed IP " + fixed + ", as that fixed IP already has a floating IP on external network ext."
		}
	}
	f.port, f.fixed = port, fixed
	return 0, "", ""
}
