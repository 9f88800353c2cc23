package cloudbind

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/tokens"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/layer3/floatingips"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/ports"

	"github.com/havip/havip/config"
)

// osProvider binds VIPs through Neutron: the master's port lists the VIP
// in its allowed_address_pairs (and, in exclusive mode, no other port
// of the network does); an optional floating IP follows the master's
// port, or sits once on the port that reserves the VIP.
type osProvider struct {
	counter
	cfg  config.Cloud
	opts Options
	log  *slog.Logger
	meta *metadata
	// throttle holds every Neutron call back after a 429.
	throttle throttle

	mu       sync.Mutex // guards the clients and the caches
	pc       *gophercloud.ProviderClient
	net      *gophercloud.ServiceClient
	ownPorts map[string]*osOwn // interface -> this server's port
	vipPort  string            // the port that reserves the VIP, once found
}

type osOwn struct {
	id, network string
	ips         []netip.Addr
}

// tokenRenewBefore is how long before expiry a Keystone token is renewed.
const tokenRenewBefore = 5 * time.Minute

// maxRevisionRetries bounds the read-modify-write loop on 412 answers.
const maxRevisionRetries = 5

func newOpenStack(c config.Cloud, o Options) (*osProvider, error) {
	if c.AuthURL == "" {
		return nil, errors.New("openstack: auth_url is required")
	}
	p := &osProvider{cfg: c, opts: o, log: o.Logger.With("provider", config.ProviderOpenStack),
		ownPorts: map[string]*osOwn{}}
	p.meta = newMetadata(c.MetadataURL, &caller{client: o.HTTPClient, timeout: c.CallTimeout, retry: o.Retry}, o.Now)
	return p, nil
}

func (p *osProvider) Name() string { return config.ProviderOpenStack }
func (p *osProvider) Mode() string { return p.cfg.Mode }

// countingTransport counts the calls gophercloud makes.
type countingTransport struct {
	base http.RoundTripper
	n    *counter
}

func (t countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.n.n.Add(1)
	return t.base.RoundTrip(r)
}

func (p *osProvider) authOptions() gophercloud.AuthOptions {
	c := p.cfg
	ao := gophercloud.AuthOptions{IdentityEndpoint: c.AuthURL, AllowReauth: true}
	if c.ApplicationCredentialID != "" {
		ao.ApplicationCredentialID = c.ApplicationCredentialID
		ao.ApplicationCredentialSecret = c.ApplicationCredentialSecret.Reveal()
		return ao
	}
	ao.Username, ao.Password, ao.DomainName = c.User, c.Password.Reveal(), c.Domain
	if c.ProjectID != "" {
		ao.Scope = &gophercloud.AuthScope{ProjectID: c.ProjectID}
	} else {
		ao.Scope = &gophercloud.AuthScope{ProjectName: c.Project, DomainName: c.Domain}
	}
	return ao
}

// client returns the Neutron client, authenticating first, and renews
// the token when it is about to expire.
func (p *osProvider) client(ctx context.Context) (*gophercloud.ServiceClient, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pc == nil {
		pc, err := openstack.NewClient(p.cfg.AuthURL)
		if err != nil {
			return nil, fmt.Errorf("openstack: auth_url: %w", err)
		}
		tr := p.opts.HTTPClient.Transport
		if tr == nil {
			tr = http.DefaultTransport
		}
		pc.HTTPClient = http.Client{Transport: countingTransport{base: tr, n: &p.counter}}
		actx, cancel := context.WithTimeout(ctx, p.cfg.CallTimeout)
		ao := p.authOptions()
		err = openstack.AuthenticateV3(actx, pc, &ao, gophercloud.EndpointOpts{})
		cancel()
		if err != nil {
			return nil, fmt.Errorf("keystone authentication: %w", scrub(err))
		}
		// The endpoint comes from the file or the catalog (of the
		// region given), without the version discovery call
		// NewNetworkV2 would make.
		ep := p.cfg.Endpoint
		if ep == "" {
			eo := gophercloud.EndpointOpts{Type: "network", Region: p.cfg.Region, Availability: gophercloud.AvailabilityPublic}
			if ep, err = pc.EndpointLocator(eo); err != nil {
				return nil, fmt.Errorf("finding Neutron of region %q in the catalog (or set cloud.endpoint): %w", p.cfg.Region, err)
			}
		}
		ep = gophercloud.NormalizeURL(ep)
		base := strings.TrimSuffix(ep, "v2.0/")
		nc := &gophercloud.ServiceClient{ProviderClient: pc, Endpoint: base, ResourceBase: base + "v2.0/", Type: "network"}
		p.pc, p.net = pc, nc
		return nc, nil
	}
	if exp, ok := tokenExpiry(p.pc); ok && time.Until(exp) < tokenRenewBefore {
		actx, cancel := context.WithTimeout(ctx, p.cfg.CallTimeout)
		err := p.pc.Reauthenticate(actx, p.pc.Token())
		cancel()
		if err != nil {
			if time.Until(exp) > 0 {
				p.log.Warn("renewing the Keystone token failed; using the current one", "err", scrub(err))
			} else {
				return nil, fmt.Errorf("renewing the Keystone token: %w", scrub(err))
			}
		} else {
			p.log.Info("Keystone token renewed before expiry")
		}
	}
	return p.net, nil
}

func tokenExpiry(pc *gophercloud.ProviderClient) (time.Time, bool) {
	r, ok := pc.GetAuthResult().(tokens.CreateResult)
	if !ok {
		return time.Time{}, false
	}
	t, err := r.ExtractToken()
	if err != nil || t.ExpiresAt.IsZero() {
		return time.Time{}, false
	}
	return t.ExpiresAt, true
}

// scrub shortens gophercloud's errors to the status and body message.
func scrub(err error) error {
	var ue gophercloud.ErrUnexpectedResponseCode
	if errors.As(err, &ue) {
		code, msg := errorBody(ue.Body)
		path := ue.URL
		if i := strings.Index(path, "://"); i >= 0 {
			if j := strings.Index(path[i+3:], "/"); j >= 0 {
				path = path[i+3+j:]
			}
		}
		return &APIError{Method: ue.Method, Path: path, Status: ue.Actual, Code: code, Msg: msg}
	}
	return err
}

// call runs op with a timeout per attempt and the retry policy: 429
// waits for Retry-After, 5xx and transport errors back off.
func (p *osProvider) call(ctx context.Context, op func(ctx context.Context) error) error {
	var last error
	for n := 1; ; n++ {
		if err := p.throttle.wait(ctx); err != nil {
			if last == nil {
				last = fmt.Errorf("waiting for the API's Retry-After: %w", err)
			}
			return last
		}
		actx, cancel := context.WithTimeout(ctx, p.cfg.CallTimeout)
		err := op(actx)
		cancel()
		if err == nil {
			return nil
		}
		last = scrub(err)
		if ctx.Err() != nil || n >= p.opts.Retry.Attempts {
			return last
		}
		wait := time.Duration(0)
		var ue gophercloud.ErrUnexpectedResponseCode
		switch {
		case errors.As(err, &ue) && ue.Actual == http.StatusTooManyRequests:
			if d, ok := retryAfter(ue.ResponseHeader.Get("Retry-After"), time.Now()); ok {
				wait = min(d, p.opts.Retry.MaxRetryAfter)
				p.throttle.hold(wait)
			}
		case errors.As(err, &ue) && ue.Actual >= 500:
		case errors.As(err, &ue):
			return last
		}
		if wait == 0 {
			wait = p.opts.Retry.backoff(n)
		}
		if sleepCtx(ctx, wait) != nil {
			return last
		}
	}
}

func (p *osProvider) getPort(ctx context.Context, nc *gophercloud.ServiceClient, id string) (*ports.Port, error) {
	var port *ports.Port
	err := p.call(ctx, func(ctx context.Context) error {
		var err error
		port, err = ports.Get(ctx, nc, id).Extract()
		return err
	})
	return port, err
}

func (p *osProvider) own(ctx context.Context, nc *gophercloud.ServiceClient, ifname string) (*osOwn, *ports.Port, error) {
	p.mu.Lock()
	o := p.ownPorts[ifname]
	p.mu.Unlock()
	if o != nil {
		return o, nil, nil
	}
	id := p.cfg.PortID
	if id == "" {
		mac, err := p.opts.InterfaceMAC(ifname)
		if err != nil {
			return nil, nil, fmt.Errorf("finding the MAC of %s: %w", ifname, err)
		}
		if id, err = portByMAC(ctx, p.meta, mac); err != nil {
			return nil, nil, err
		}
	}
	port, err := p.getPort(ctx, nc, id)
	if err != nil {
		return nil, nil, fmt.Errorf("reading this server's port %s: %w", id, err)
	}
	o = &osOwn{id: id, network: port.NetworkID}
	for _, f := range port.FixedIPs {
		if a, err := netip.ParseAddr(f.IPAddress); err == nil {
			o.ips = append(o.ips, a)
		}
	}
	p.mu.Lock()
	p.ownPorts[ifname] = o
	p.mu.Unlock()
	return o, port, nil
}

func (p *osProvider) Binder(inst config.Instance) Binder {
	return &osBinder{p: p, inst: inst, vips: vipAddrs(inst)}
}

type osBinder struct {
	p    *osProvider
	inst config.Instance
	vips []netip.Addr
}

func hasPair(port *ports.Port, vip netip.Addr) bool {
	for _, ap := range port.AllowedAddressPairs {
		if pairMatches(ap.IPAddress, vip) {
			return true
		}
	}
	return false
}

// pairMatches accepts "10.0.0.5" and "10.0.0.5/32".
func pairMatches(s string, vip netip.Addr) bool {
	if a, err := netip.ParseAddr(s); err == nil {
		return a == vip
	}
	if pf, err := netip.ParsePrefix(s); err == nil {
		return pf.Bits() == vip.BitLen() && pf.Addr() == vip
	}
	return false
}

// edit applies change to a port's pairs with a read-modify-write
// guarded by its revision number, re-reading on 412. It returns whether
// it wrote.
func (b *osBinder) edit(ctx context.Context, nc *gophercloud.ServiceClient, port *ports.Port, change func([]ports.AddressPair) ([]ports.AddressPair, bool)) (bool, error) {
	for n := 1; ; n++ {
		pairs, changed := change(port.AllowedAddressPairs)
		if !changed {
			return false, nil
		}
		opts := ports.UpdateOpts{AllowedAddressPairs: &pairs}
		// If-Match only where Neutron keeps revisions (the
		// standard-attr-revisions extension): a port without
		// revision_number cannot meet a constraint.
		rev := port.RevisionNumber
		if rev > 0 {
			opts.RevisionNumber = &rev
		}
		err := b.p.call(ctx, func(ctx context.Context) error {
			_, err := ports.Update(ctx, nc, port.ID, opts).Extract()
			return err
		})
		if err == nil {
			return true, nil
		}
		if !IsStatus(err, http.StatusPreconditionFailed) || n >= maxRevisionRetries {
			return false, fmt.Errorf("updating port %s: %w", port.ID, err)
		}
		id := port.ID
		b.p.log.Debug("port changed under us; reading it again", "port", id, "revision", rev)
		if port, err = b.p.getPort(ctx, nc, id); err != nil {
			return false, fmt.Errorf("reading port %s again: %w", id, err)
		}
	}
}

func addVIPs(vips []netip.Addr) func([]ports.AddressPair) ([]ports.AddressPair, bool) {
	return func(have []ports.AddressPair) ([]ports.AddressPair, bool) {
		out := slices.Clone(have)
		for _, v := range vips {
			found := false
			for _, ap := range have {
				if pairMatches(ap.IPAddress, v) {
					found = true
				}
			}
			if !found {
				out = append(out, ports.AddressPair{IPAddress: v.String()})
			}
		}
		return out, len(out) != len(have)
	}
}

func dropVIPs(vips []netip.Addr) func([]ports.AddressPair) ([]ports.AddressPair, bool) {
	return func(have []ports.AddressPair) ([]ports.AddressPair, bool) {
		out := slices.DeleteFunc(slices.Clone(have), func(ap ports.AddressPair) bool {
			return slices.ContainsFunc(vips, func(v netip.Addr) bool { return pairMatches(ap.IPAddress, v) })
		})
		return out, len(out) != len(have)
	}
}

// state reads this server's port and, in exclusive mode, the other
// ports of its network that list a VIP: one GET, or one listing.
func (b *osBinder) state(ctx context.Context, nc *gophercloud.ServiceClient) (*ports.Port, []ports.Port, error) {
	own, port, err := b.p.own(ctx, nc, b.inst.Interface)
	if err != nil {
		return nil, nil, err
	}
	if b.p.cfg.Mode != config.ModeExclusive {
		if port == nil {
			if port, err = b.p.getPort(ctx, nc, own.id); err != nil {
				return nil, nil, fmt.Errorf("reading this server's port %s: %w", own.id, err)
			}
		}
		return port, nil, nil
	}
	all, err := b.p.listPorts(ctx, nc, ports.ListOpts{NetworkID: own.network})
	if err != nil {
		return nil, nil, fmt.Errorf("listing the ports of network %s: %w", own.network, err)
	}
	var others []ports.Port
	port = nil
	for i := range all {
		switch {
		case all[i].ID == own.id:
			port = &all[i]
		case slices.ContainsFunc(b.vips, func(v netip.Addr) bool { return hasPair(&all[i], v) }):
			others = append(others, all[i])
		}
	}
	if port == nil {
		return nil, nil, fmt.Errorf("this server's port %s is not in network %s", own.id, own.network)
	}
	return port, others, nil
}

// Prepare authenticates and finds this server's port.
func (b *osBinder) Prepare(ctx context.Context) error {
	nc, err := b.p.client(ctx)
	if err != nil {
		return err
	}
	_, _, err = b.p.own(ctx, nc, b.inst.Interface)
	return err
}

// current authenticates and returns this server's port in the network
// and the other ports that hold one of the VIPs (see state).
func (b *osBinder) current(ctx context.Context) (*gophercloud.ServiceClient, *ports.Port, []ports.Port, error) {
	nc, err := b.p.client(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	port, others, err := b.state(ctx, nc)
	return nc, port, others, err
}

func (b *osBinder) Bind(ctx context.Context) (bool, error) {
	nc, port, others, err := b.current(ctx)
	if err != nil {
		return false, err
	}
	moved, err := b.edit(ctx, nc, port, addVIPs(b.vips))
	if err != nil {
		return false, err
	}
	if moved {
		b.p.log.Info("VIP added to this server's port", "instance", b.inst.Name, "port", port.ID)
	}
	var errs []error
	for i := range others {
		w, err := b.edit(ctx, nc, &others[i], dropVIPs(b.vips))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if w {
			moved = true
			b.p.log.Info("VIP removed from another port (exclusive mode)", "instance", b.inst.Name, "port", others[i].ID)
		}
	}
	if b.p.cfg.FloatingIPID != "" {
		w, err := b.floating(ctx, nc, port)
		if err != nil {
			errs = append(errs, err)
		}
		moved = moved || w
	}
	return moved, errors.Join(errs...)
}

// getFloating reads the configured floating IP.
func (b *osBinder) getFloating(ctx context.Context, nc *gophercloud.ServiceClient) (*floatingips.FloatingIP, error) {
	id := b.p.cfg.FloatingIPID
	var fip *floatingips.FloatingIP
	err := b.p.call(ctx, func(ctx context.Context) error {
		var err error
		fip, err = floatingips.Get(ctx, nc, id).Extract()
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("reading floating IP %s: %w", id, err)
	}
	return fip, nil
}

// fipTarget is where the floating IP belongs: this server's port on its
// IPv4 fixed IP (floating_ip_port "master"), or the port that reserves
// the VIP, on the VIP ("vip").
func (b *osBinder) fipTarget(ctx context.Context, nc *gophercloud.ServiceClient, port *ports.Port) (id, fixed string, err error) {
	if b.p.cfg.FloatingIPPort == config.FloatingIPOnVIP {
		vip, ok := b.vip4()
		if !ok {
			return "", "", fmt.Errorf("instance %s has no IPv4 VIP for the floating IP", b.inst.Name)
		}
		id, err := b.p.reservedPort(ctx, nc, port, vip)
		return id, vip.String(), err
	}
	for _, f := range port.FixedIPs {
		if a, err := netip.ParseAddr(f.IPAddress); err == nil && a.Is4() {
			return port.ID, a.String(), nil
		}
	}
	return port.ID, "", nil
}

func (b *osBinder) vip4() (netip.Addr, bool) {
	for _, v := range b.vips {
		if v.Is4() {
			return v, true
		}
	}
	return netip.Addr{}, false
}

// reservedPort finds the port that reserves vip: cloud.vip_port_id, or
// the port of this server's network whose fixed IP it is; cached.
func (p *osProvider) reservedPort(ctx context.Context, nc *gophercloud.ServiceClient, own *ports.Port, vip netip.Addr) (string, error) {
	if p.cfg.VIPPortID != "" {
		return p.cfg.VIPPortID, nil
	}
	p.mu.Lock()
	id := p.vipPort
	p.mu.Unlock()
	if id != "" {
		return id, nil
	}
	found, err := p.listPorts(ctx, nc, ports.ListOpts{NetworkID: own.NetworkID, FixedIPs: []ports.FixedIPOpts{{IPAddress: vip.String()}}})
	if err != nil {
		return "", fmt.Errorf("finding the port that reserves %s: %w", vip, err)
	}
	if len(found) != 1 {
		return "", fmt.Errorf("%d ports of network %s have the fixed IP %s; reserve it with one port (openstack port create --fixed-ip ip-address=%s) or set cloud.vip_port_id",
			len(found), own.NetworkID, vip, vip)
	}
	p.mu.Lock()
	p.vipPort = found[0].ID
	p.mu.Unlock()
	return found[0].ID, nil
}

func (p *osProvider) listPorts(ctx context.Context, nc *gophercloud.ServiceClient, opts ports.ListOpts) ([]ports.Port, error) {
	var all []ports.Port
	err := p.call(ctx, func(ctx context.Context) error {
		pages, err := ports.List(nc, opts).AllPages(ctx)
		if err != nil {
			return err
		}
		all, err = ports.ExtractPorts(pages)
		return err
	})
	return all, err
}

// floating associates the floating IP with its target port (see
// fipTarget) when it is elsewhere.
func (b *osBinder) floating(ctx context.Context, nc *gophercloud.ServiceClient, port *ports.Port) (bool, error) {
	id := b.p.cfg.FloatingIPID
	fip, err := b.getFloating(ctx, nc)
	if err != nil {
		return false, err
	}
	target, fixed, err := b.fipTarget(ctx, nc, port)
	if err != nil {
		return false, err
	}
	if fip.PortID == target && (fixed == "" || fip.FixedIP == fixed) {
		return false, nil
	}
	err = b.p.call(ctx, func(ctx context.Context) error {
		_, err := floatingips.Update(ctx, nc, id, floatingips.UpdateOpts{PortID: &target, FixedIP: fixed}).Extract()
		return err
	})
	if IsStatus(err, http.StatusNotFound) {
		// The reserved port may be gone (the VIP reserved again): find
		// it anew next time.
		b.p.mu.Lock()
		b.p.vipPort = ""
		b.p.mu.Unlock()
	}
	if err != nil {
		return false, fmt.Errorf("associating floating IP %s with port %s: %w", id, target, err)
	}
	b.p.log.Info("floating IP associated", "instance", b.inst.Name, "floating_ip", id, "port", target,
		"fixed_ip", fixed, "on", b.p.cfg.FloatingIPPort)
	return true, nil
}

func (b *osBinder) Check(ctx context.Context) (bool, error) {
	nc, port, others, err := b.current(ctx)
	if err != nil {
		return false, err
	}
	for _, v := range b.vips {
		if !hasPair(port, v) {
			return false, nil
		}
	}
	if len(others) > 0 {
		return false, nil
	}
	if b.p.cfg.FloatingIPID != "" {
		fip, err := b.getFloating(ctx, nc)
		if err != nil {
			return false, err
		}
		target, _, err := b.fipTarget(ctx, nc, port)
		if err != nil {
			return false, err
		}
		return fip.PortID == target, nil
	}
	return true, nil
}

// Inspect reads the binding and the ports of the members' fixed IPs in
// this server's network: whether each allows the VIPs.
func (b *osBinder) Inspect(ctx context.Context, members []netip.Addr) (Report, error) {
	bound, err := b.Check(ctx)
	if err != nil {
		return Report{}, err
	}
	nc, err := b.p.client(ctx)
	if err != nil {
		return Report{}, err
	}
	own, _, err := b.p.own(ctx, nc, b.inst.Interface)
	if err != nil {
		return Report{}, err
	}
	all, err := b.p.listPorts(ctx, nc, ports.ListOpts{NetworkID: own.network})
	if err != nil {
		return Report{}, fmt.Errorf("listing the ports of network %s: %w", own.network, err)
	}
	rep := Report{Bound: bound}
	for _, m := range withSelf(own.ips, members) {
		mp := MemberPort{Addr: m, Self: slices.Contains(own.ips, m)}
		for i := range all {
			if slices.ContainsFunc(all[i].FixedIPs, func(f ports.IP) bool { return f.IPAddress == m.String() }) {
				mp.PortID = all[i].ID
				mp.Open = !slices.ContainsFunc(b.vips, func(v netip.Addr) bool { return !hasPair(&all[i], v) })
				break
			}
		}
		rep.Ports = append(rep.Ports, mp)
	}
	if id := b.p.cfg.FloatingIPID; id != "" {
		fip, err := b.getFloating(ctx, nc)
		if err != nil {
			return Report{}, err
		}
		rep.Notes = append(rep.Notes, fmt.Sprintf("floating IP %s (%s) is on port %q, fixed IP %q (floating_ip_port %q)",
			id, fip.FloatingIP, fip.PortID, fip.FixedIP, b.p.cfg.FloatingIPPort))
	}
	return rep, nil
}

// Metadata reports how the metadata service takes reads, when this
// configuration reads it.
func (p *osProvider) Metadata(ctx context.Context) (string, error) {
	if p.cfg.PortID != "" {
		return MetadataUnused, nil
	}
	return p.meta.mode(ctx)
}

// Unbind removes the VIPs from this server's port in exclusive mode;
// shared mode keeps them.
func (b *osBinder) Unbind(ctx context.Context) error {
	if b.p.cfg.Mode != config.ModeExclusive {
		return nil
	}
	nc, err := b.p.client(ctx)
	if err != nil {
		return err
	}
	own, port, err := b.p.own(ctx, nc, b.inst.Interface)
	if err != nil {
		return err
	}
	if port == nil {
		if port, err = b.p.getPort(ctx, nc, own.id); err != nil {
			return err
		}
	}
	if w, err := b.edit(ctx, nc, port, dropVIPs(b.vips)); err != nil {
		return err
	} else if w {
		b.p.log.Info("VIP removed from this server's port", "instance", b.inst.Name, "port", port.ID)
	}
	return nil
}
