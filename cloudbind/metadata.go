package cloudbind

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The OpenStack-style metadata service of the server (ECS and Nova).
//
// Like Huawei Cloud's SDK (core/auth/internal/metadata_accessor.go) it is
// read with a token when the service offers one: PUT
// /meta-data/latest/api/token gives it, every read sends it in
// X-Metadata-Token, and a server with http_tokens = required refuses
// reads without it. A service without that API (404 or 405: Nova, older
// ECS) is read without a token, and asked again a day later.

const (
	metadataTokenPath = "/meta-data/latest/api/token"
	// metadataTokenTTL is the lifetime asked for, the most ECS gives.
	metadataTokenTTL = 6 * time.Hour
	// metadataRecheck is how long a service without a token API is read
	// without asking again.
	metadataRecheck = 24 * time.Hour
	// noAgencyAnswer is in the securitykey answer of a server without
	// an agency.
	noAgencyAnswer = "Please configure Cloud Service Agency first"
)

// Metadata token modes, as Metadata.Mode and `havip check --cloud`
// report them.
const (
	// MetadataTokenRequired: reads need a token (http_tokens = required).
	MetadataTokenRequired = "required"
	// MetadataTokenOptional: the service hands out tokens but reads
	// without one work too; havip sends one anyway.
	MetadataTokenOptional = "optional"
	// MetadataNoToken: the service has no token API.
	MetadataNoToken = "none"
	// MetadataUnused: the configuration needs nothing from the service
	// (port_id set, credentials from a file).
	MetadataUnused = "unused"
)

// errNoAgency means the server has no agency to take credentials from;
// asking again does not help.
var errNoAgency = errors.New("no agency is attached to this server")

// metadata reads the metadata service, with a token where it offers one.
type metadata struct {
	c    *caller
	base string
	now  func() time.Time

	mu      sync.Mutex
	token   string
	expires time.Time
	asked   time.Time // when the token API last answered
	offered bool      // it answered with a token
}

func newMetadata(base string, c *caller, now func() time.Time) *metadata {
	return &metadata{c: c, base: strings.TrimSuffix(base, "/"), now: now}
}

// get reads path (JSON) into out. A read refused with 401 gets a new
// token and is tried once more, as the SDK does.
func (m *metadata) get(ctx context.Context, path string, out any) error {
	tok, err := m.tokenFor(ctx, false)
	if err != nil {
		return err
	}
	err = m.read(ctx, path, tok, out)
	if IsStatus(err, http.StatusUnauthorized) && !noAgency(err) {
		if tok, err = m.tokenFor(ctx, true); err != nil {
			return err
		}
		err = m.read(ctx, path, tok, out)
	}
	return err
}

func (m *metadata) read(ctx context.Context, path, tok string, out any) error {
	var hdr http.Header
	if tok != "" {
		hdr = http.Header{"X-Metadata-Token": {tok}}
	}
	return m.c.doWith(ctx, http.MethodGet, m.base+path, hdr, nil, out)
}

// tokenFor returns the token to send ("" for none), asking the service
// for one when there is none yet, it is about to expire, or renew is
// set (a read was refused).
func (m *metadata) tokenFor(ctx context.Context, renew bool) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	switch {
	case renew:
	case m.offered && now.Before(m.expires.Add(-5*time.Minute)):
		return m.token, nil
	case !m.asked.IsZero() && !m.offered && now.Sub(m.asked) < metadataRecheck:
		return "", nil
	}
	var raw []byte
	hdr := http.Header{"X-Metadata-Token-Ttl-Seconds": {strconv.Itoa(int(metadataTokenTTL / time.Second))}}
	err := m.c.doWith(ctx, http.MethodPut, m.base+metadataTokenPath, hdr, nil, &raw)
	switch {
	case err == nil && len(strings.TrimSpace(string(raw))) > 0:
		m.token, m.expires, m.offered, m.asked = strings.TrimSpace(string(raw)), now.Add(metadataTokenTTL), true, now
		return m.token, nil
	case IsStatus(err, http.StatusNotFound, http.StatusMethodNotAllowed) && !renew:
		m.token, m.offered, m.asked = "", false, now
		return "", nil
	case err == nil:
		err = errors.New("an empty token")
	}
	return "", fmt.Errorf("getting a token from the metadata service: %w", err)
}

// mode tells how the service takes reads: it asks for a token and, when
// it gets one, tries a read without it.
func (m *metadata) mode(ctx context.Context) (string, error) {
	tok, err := m.tokenFor(ctx, false)
	if err != nil {
		return "", err
	}
	if tok == "" {
		return MetadataNoToken, nil
	}
	err = m.read(ctx, "/openstack/latest/network_data.json", "", nil)
	switch {
	case IsStatus(err, http.StatusUnauthorized):
		return MetadataTokenRequired, nil
	case err != nil:
		return "", fmt.Errorf("reading network_data.json without a token: %w", err)
	}
	return MetadataTokenOptional, nil
}

func noAgency(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && strings.Contains(ae.Msg, noAgencyAnswer)
}

// networkData is the part of network_data.json used here.
type networkData struct {
	Links []struct {
		ID    string `json:"id"`
		VifID string `json:"vif_id"`
		MAC   string `json:"ethernet_mac_address"`
	} `json:"links"`
}

// portByMAC finds this server's port ID for the interface with mac.
func portByMAC(ctx context.Context, m *metadata, mac net.HardwareAddr) (string, error) {
	var nd networkData
	if err := m.get(ctx, "/openstack/latest/network_data.json", &nd); err != nil {
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
	meta *metadata
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
	err := a.meta.get(ctx, "/openstack/latest/securitykey", &body)
	switch {
	case noAgency(err):
		return Credentials{}, fmt.Errorf("%w (the metadata service answers %q): attach one whose policy allows vpc:ports:get and vpc:ports:update (ECS console: the server's page, Agency), or set cloud.auth = \"aksk\"",
			errNoAgency, noAgencyAnswer)
	case err != nil && a.cur.AccessKey != "" && a.cur.Expires.After(now):
		// Still valid for a while: use them, renew next time.
		return a.cur, nil
	case err != nil:
		return Credentials{}, fmt.Errorf("reading the agency credentials from the metadata service: %w", err)
	}
	cr := body.Credential
	if cr.Access == "" || cr.Secret == "" {
		return Credentials{}, errors.New("the metadata service returned no agency credentials: attach an agency to the server, or set cloud.auth = \"aksk\"")
	}
	exp, err := time.Parse(time.RFC3339Nano, cr.ExpiresAt)
	if err != nil {
		// Without a readable expiry, renew them often.
		exp = now.Add(renewBefore + time.Minute)
	}
	a.cur = Credentials{AccessKey: cr.Access, SecretKey: cr.Secret, SecurityToken: cr.SecurityToken, Expires: exp}
	return a.cur, nil
}
