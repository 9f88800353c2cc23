package fake

import (
	"net/http"
	"net/netip"
	"slices"
	"strings"
)

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

// huawei serves /v1/{project_id}/ports and /v1/{project_id}/ports/{id}.
func (s *Server) huawei(w http.ResponseWriter, r *http.Request) {
	body, why := s.verify(r)
	if why != "" {
		s.reject(w, http.StatusUnauthorized, "APIGW.0301", "incorrect IAM authentication information: "+why)
		return
	}
	rest := strings.TrimPrefix(r.URL.Path, "/v1/")
	project, rest, _ := strings.Cut(rest, "/")
	if project != s.cfg.ProjectID {
		s.reject(w, http.StatusForbidden, "VPC.0002", "project mismatch")
		return
	}
	switch {
	case rest == "ports" && r.Method == http.MethodGet:
		s.hwList(w, r)
	case strings.HasPrefix(rest, "ports/") && !strings.Contains(rest[6:], "/"):
		id := rest[6:]
		switch r.Method {
		case http.MethodGet:
			s.mu.Lock()
			p, ok := s.ports[id]
			var v map[string]any
			if ok {
				v = hwView(p)
			}
			s.mu.Unlock()
			if !ok {
				writeErr(w, 404, "VPC.0114", "port not found")
				return
			}
			writeJSON(w, 200, map[string]any{"port": v})
		case http.MethodPut:
			s.hwUpdate(w, r, id, body)
		default:
			writeErr(w, 405, "VPC.0001", "method not allowed")
		}
	default:
		writeErr(w, 404, "VPC.0001", "no such resource")
	}
}

func (s *Server) hwList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	for k := range q {
		if !slices.Contains(huaweiFilters, k) {
			s.reject(w, 400, "VPC.0001", "unknown filter "+k)
			return
		}
	}
	var wantIP string
	if f := q.Get("fixed_ips"); f != "" {
		v, ok := strings.CutPrefix(f, "ip_address=")
		if _, err := netip.ParseAddr(v); !ok || err != nil {
			s.reject(w, 400, "VPC.0001", "bad fixed_ips filter")
			return
		}
		wantIP = v
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []map[string]any{}
	for _, p := range s.matchingPorts(q) {
		if v := q.Get("mac_address"); v != "" && p.MAC != v {
			continue
		}
		if wantIP != "" && !slices.Contains(p.FixedIPs, wantIP) {
			continue
		}
		out = append(out, hwView(p))
	}
	writeJSON(w, 200, map[string]any{"ports": out})
}

func (s *Server) hwUpdate(w http.ResponseWriter, r *http.Request, id string, body []byte) {
	var req struct {
		Port struct {
			Name           *string   `json:"name"`
			SecurityGroups *[]string `json:"security_groups"`
			Pairs          *[]hwPair `json:"allowed_address_pairs"`
		} `json:"port"`
	}
	if err := decodeStrict(body, &req); err != nil {
		s.reject(w, 400, "VPC.0001", "bad request body: "+err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.ports[id]
	if !ok {
		writeErr(w, 404, "VPC.0114", "port not found")
		return
	}
	if req.Port.Pairs != nil {
		var ips []string
		for _, pr := range *req.Port.Pairs {
			a, err := netip.ParseAddr(pr.IPAddress)
			if err != nil {
				s.rejected++
				writeErr(w, 400, "VPC.0001", "bad ip_address in allowed_address_pairs")
				return
			}
			ips = append(ips, a.String())
		}
		if len(ips) > 10 {
			writeErr(w, 400, "VPC.0001", "a virtual IP can be bound to at most 10 NICs")
			return
		}
		p.Pairs = ips
		p.Revision++
	}
	writeJSON(w, 200, map[string]any{"port": hwView(p)})
}
