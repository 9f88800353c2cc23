package fake

import (
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Huawei Cloud: the API gateway checks the AK/SK signature, then the VPC
// service answers /v1/{project_id}/ports and /v1/{project_id}/ports/{id}.

type hwPair struct {
	IPAddress  string `json:"ip_address"`
	MACAddress string `json:"mac_address,omitempty"`
}

func hwView(p *Port) map[string]any {
	fixed := []map[string]string{}
	for _, ip := range p.FixedIPs {
		fixed = append(fixed, map[string]string{"subnet_id": "subnet-" + p.NetworkID, "ip_address": ip})
	}
	pairs := []hwPair{}
	for _, ip := range p.Pairs {
		pairs = append(pairs, hwPair{IPAddress: ip})
	}
	status := "ACTIVE"
	if p.DeviceOwner == "neutron:VIP_PORT" {
		status = "DOWN"
	}
	return map[string]any{
		"id": p.ID, "name": "", "network_id": p.NetworkID, "admin_state_up": true,
		"mac_address": p.MAC, "fixed_ips": fixed, "device_id": "", "device_owner": p.DeviceOwner,
		"tenant_id": "", "status": status, "security_groups": []string{},
		"allowed_address_pairs": pairs, "extra_dhcp_opts": []any{}, "binding:vnic_type": "normal",
	}
}

// huaweiFilters are the query parameters the ports listing accepts.
var huaweiFilters = []string{"id", "name", "admin_state_up", "network_id", "mac_address",
	"device_id", "device_owner", "status", "fixed_ips", "limit", "marker", "enterprise_project_id"}

// hwMaxPage is the most ports one VPC listing answers.
const hwMaxPage = 2000

// huawei serves the VPC v1 ports API behind the gateway.
func (s *Server) huawei(w http.ResponseWriter, r *http.Request) {
	body, signed, why := s.verify(r)
	note(w, func(c *Call) { c.Signed = signed })
	if why != "" {
		s.countRejected()
		apigwError(w, http.StatusUnauthorized, "APIGW.0301", "Incorrect IAM authentication information: "+why)
		return
	}
	rest := strings.TrimPrefix(r.URL.Path, "/v1/")
	project, rest, _ := strings.Cut(rest, "/")
	if h := r.Header.Get("X-Project-Id"); project != s.cfg.ProjectID || (h != "" && h != project) {
		s.countRejected()
		vpcError(w, http.StatusBadRequest, vpcProjectMismatch, "urlTenantId is not equal tokenTenantId")
		return
	}
	id, one := strings.CutPrefix(rest, "ports/")
	switch {
	case rest == "ports" && r.Method == http.MethodGet:
		s.hwList(w, r)
	case one && id != "" && !strings.Contains(id, "/") && r.Method == http.MethodGet:
		s.mu.Lock()
		p, ok := s.ports[id]
		var v map[string]any
		if ok {
			v = hwView(p)
		}
		s.mu.Unlock()
		if !ok {
			vpcError(w, 404, vpcPortNotFound, vpcNotFoundMsg)
			return
		}
		writeJSON(w, 200, map[string]any{"port": v})
	case one && id != "" && !strings.Contains(id, "/") && r.Method == http.MethodPut:
		s.hwUpdate(w, id, body)
	default:
		vpcError(w, 404, vpcPortNotFound, vpcNotFoundMsg)
	}
}

func (s *Server) hwList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	for k := range q {
		if !slices.Contains(huaweiFilters, k) {
			s.countRejected()
			vpcError(w, 400, vpcBadRequest, "Param is invalid: unknown filter "+k)
			return
		}
	}
	limit := hwMaxPage
	if s.cfg.PageSize > 0 {
		limit = s.cfg.PageSize
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > hwMaxPage {
			s.countRejected()
			vpcError(w, 400, vpcBadRequest, "Param is invalid: limit")
			return
		}
		limit = min(limit, n)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ports, err := s.filterPorts(q, "")
	if err == nil {
		ports, _, err = page(ports, q.Get("marker"), limit)
	}
	if err != nil {
		s.rejected++
		vpcError(w, 400, vpcBadRequest, "Param is invalid: "+err.Error())
		return
	}
	out := []map[string]any{}
	for _, p := range ports {
		out = append(out, hwView(p))
	}
	writeJSON(w, 200, map[string]any{"ports": out})
}

func (s *Server) hwUpdate(w http.ResponseWriter, id string, body []byte) {
	var req struct {
		Port struct {
			Name           *string   `json:"name"`
			SecurityGroups *[]string `json:"security_groups"`
			Pairs          *[]hwPair `json:"allowed_address_pairs"`
		} `json:"port"`
	}
	if err := decodeStrict(body, &req); err != nil {
		s.countRejected()
		vpcError(w, 400, vpcBadRequest, "Param is invalid: "+err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.ports[id]
	if !ok {
		vpcError(w, 404, vpcPortNotFound, vpcNotFoundMsg)
		return
	}
	s.raceLocked(p)
	if req.Port.Pairs != nil {
		ips, msg := hwPairs(*req.Port.Pairs, p)
		if msg != "" {
			s.rejected++
			vpcError(w, 400, vpcBadRequest, "Param is invalid: "+msg)
			return
		}
		p.Pairs = ips
		p.Revision++
	}
	writeJSON(w, 200, map[string]any{"port": hwView(p)})
}

// hwPairs checks allowed_address_pairs as the VPC API documents them: an
// IP address or a CIDR, never 0.0.0.0 or 0.0.0.0/0 ("1.1.1.1/0" turns
// the port's source/destination check off); a VIP port lists at most 10
// servers.
func hwPairs(pairs []hwPair, p *Port) ([]string, string) {
	var ips []string
	for _, pr := range pairs {
		pf, ok := pairAddr(pr.IPAddress)
		switch {
		case !ok:
			return nil, fmt.Sprintf("ip_address %q is neither an address nor a CIDR", pr.IPAddress)
		case pf.Addr() == netip.IPv4Unspecified():
			return nil, fmt.Sprintf("ip_address %q is not allowed", pr.IPAddress)
		}
		ips = append(ips, pr.IPAddress)
	}
	if p.DeviceOwner == "neutron:VIP_PORT" && len(ips) > 10 {
		return nil, "a virtual IP can be bound to at most 10 NICs"
	}
	return ips, ""
}

// verify checks the AK/SK signature as the gateway does: a known key, a
// date within 15 minutes, the signature over whichever headers it names
// (x-sdk-date among them), and the security token of temporary
// credentials. It returns the body and the signed header names, or why
// the request is refused.
func (s *Server) verify(r *http.Request) ([]byte, []string, string) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return nil, nil, "cannot read the body"
	}
	a, err := parseAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		return nil, nil, err.Error()
	}
	if !slices.Contains(a.signed, "x-sdk-date") {
		return nil, a.signed, "x-sdk-date is not signed"
	}
	d, err := time.Parse("20060102T150405Z", r.Header.Get("X-Sdk-Date"))
	if err != nil {
		return nil, a.signed, "bad X-Sdk-Date"
	}
	if skew := s.now().Sub(d); skew > 15*time.Minute || skew < -15*time.Minute {
		return nil, a.signed, "X-Sdk-Date too far from now"
	}
	secret, why := s.secretOf(a.access, r.Header.Get("X-Security-Token"))
	if why != "" {
		return nil, a.signed, why
	}
	want, err := gatewaySignature(r, body, a.signed, secret)
	if err != nil {
		return nil, a.signed, err.Error()
	}
	if want != a.signature {
		return nil, a.signed, "verify aksk signature fail"
	}
	return body, a.signed, ""
}

// secretOf finds the secret key of an access key: a permanent one
// (without a security token) or the agency's temporary one (with its
// token, before it expires).
func (s *Server) secretOf(ak, token string) (string, string) {
	s.mu.Lock()
	secret, known := s.cfg.Keys[ak]
	tc, temp := s.temp[ak]
	s.mu.Unlock()
	switch {
	case known && token != "":
		return "", "a security token with a permanent key"
	case known:
		return secret, ""
	case !temp:
		return "", "unknown access key"
	case s.now().After(tc.expires):
		return "", "temporary credentials expired"
	case token != tc.token:
		return "", "bad X-Security-Token"
	}
	return tc.secret, ""
}
