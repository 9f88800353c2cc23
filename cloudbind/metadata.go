package cloudbind

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"
)

// The OpenStack-style metadata service of the server (ECS and Nova).

// networkData is the part of network_data.json used here.
type networkData struct {
	Links []struct {
		ID    string `json:"id"`
		VifID string `json:"vif_id"`
		MAC   string `json:"ethernet_mac_address"`
	} `json:"links"`
}

// portByMAC finds this server's port ID for the interface with mac.
func portByMAC(ctx context.Context, c *caller, base string, mac net.HardwareAddr) (string, error) {
	var nd networkData
	u := strings.TrimSuffix(base, "/") + "/openstack/latest/network_data.json"
	if err := c.do(ctx, "GET", u, nil, &nd); err != nil {
		return "", fmt.Errorf("reading network_data.json from the metadata service: %w", err)
	}
	for _, l := range nd.Links {
		m, err := net.ParseMAC(l.MAC)
		if err == nil && m.String() == mac.String() && l.VifID != "" {
			return l.VifID, nil
		}
	}
	return "", fmt.Errorf("no link with MAC %s in network_data.json of the metadata service (set cloud.port_id)", mac)
}

// agencyCreds fetches, caches and renews the temporary credentials of
// the server's agency.
type agencyCreds struct {
	c    *caller
	base string
	now  func() time.Time

	mu  sync.Mutex
	cur Credentials
}

// renewBefore is how long before expiry credentials are renewed.
const renewBefore = 10 * time.Minute

func (a *agencyCreds) get(ctx context.Context) (Credentials, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	if a.cur.AccessKey != "" && (a.cur.Expires.IsZero() || a.cur.Expires.Sub(now) > renewBefore) {
		return a.cur, nil
	}
	var body struct {
		Credential struct {
			Access        string `json:"access"`
			Secret        string `json:"secret"`
			SecurityToken string `json:"securitytoken"`
			ExpiresAt     string `json:"expires_at"`
		} `json:"credential"`
	}
	u := strings.TrimSuffix(a.base, "/") + "/openstack/latest/securitykey"
	if err := a.c.do(ctx, "GET", u, nil, &body); err != nil {
		if a.cur.AccessKey != "" && a.cur.Expires.After(now) {
			// Still valid for a while: use them, renew next time.
			return a.cur, nil
		}
		return Credentials{}, fmt.Errorf("reading the agency credentials from the metadata service: %w", err)
	}
	cr := body.Credential
	if cr.Access == "" || cr.Secret == "" {
		return Credentials{}, fmt.Errorf("the metadata service returned no agency credentials (is an agency attached to the server?)")
	}
	exp, err := time.Parse(time.RFC3339Nano, cr.ExpiresAt)
	if err != nil {
		// Without a readable expiry, renew them often.
		exp = now.Add(renewBefore + time.Minute)
	}
	a.cur = Credentials{AccessKey: cr.Access, SecretKey: cr.Secret, SecurityToken: cr.SecurityToken, Expires: exp}
	return a.cur, nil
}
