package cloudbind

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"

	"github.com/havip/havip/config"
)

// huawei binds VIPs through the Huawei Cloud VPC v1 ports API: a VIP is a
// port of its own whose allowed_address_pairs list the fixed IPs of the
// servers it is bound to.
type huawei struct {
	counter
	cfg  config.Cloud
	opts Options
	log  *slog.Logger
	api  *caller // signed VPC calls
	meta *caller // metadata calls

	static Credentials
	agency *agencyCreds

	mu       sync.Mutex
	vipPorts map[netip.Addr]string // VIP address -> VIP port ID
	ownPorts map[string]*ownPort   // interface -> this server's port
	warned   map[netip.Addr]bool   // VIPs skipped with a warning
}

type ownPort struct {
	id  string
	ips []netip.Addr
}

// hwPort is the part of a VPC port used here. Unknown fields are kept
// out of updates: only allowed_address_pairs is ever written.
type hwPort struct {
	ID          string `json:"id"`
	DeviceOwner string `json:"device_owner"`
	MAC         string `json:"mac_address"`
	FixedIPs    []struct {
		SubnetID  string `json:"subnet_id"`
		IPAddress string `json:"ip_address"`
	} `json:"fixed_ips"`
	Pairs []hwPair `json:"allowed_address_pairs"`
}

type hwPair struct {
	IPAddress  string `json:"ip_address"`
	MACAddress string `json:"mac_address,omitempty"`
}

func newHuawei(c config.Cloud, o Options) (*huawei, error) {
	if c.Endpoint == "" || c.ProjectID == "" {
		return nil, errors.New("huaweicloud: endpoint and project_id are required")
	}
	h := &huawei{
		cfg:      c,
		opts:     o,
		log:      o.Logger.With("provider", config.ProviderHuaweiCloud),
		vipPorts: map[netip.Addr]string{},
		ownPorts: map[string]*ownPort{},
		warned:   map[netip.Addr]bool{},
	}
	h.meta = &caller{client: o.HTTPClient, timeout: c.CallTimeout, retry: o.Retry}
	h.api = &caller{client: o.HTTPClient, timeout: c.CallTimeout, retry: o.Retry, calls: &h.counter, prepare: h.sign,
		throttle: &throttle{}}
	switch c.Auth {
	case config.AuthAgency:
		h.agency = &agencyCreds{c: h.meta, base: c.MetadataURL, now: o.Now}
	default:
		if c.AccessKey == "" || c.SecretKey.Reveal() == "" {
			return nil, errors.New("huaweicloud: access_key and the secret key are required")
		}
		h.static = Credentials{AccessKey: c.AccessKey, SecretKey: c.SecretKey.Reveal()}
	}
	if vid := c.VIPPortID; vid != "" {
		// Config checks that there is exactly one VIP then; the port is
		// known for whichever address it is.
		h.vipPorts[netip.Addr{}] = vid
	}
	return h, nil
}

func (h *huawei) Name() string { return config.ProviderHuaweiCloud }
func (h *huawei) Mode() string { return h.cfg.Mode }

func (h *huawei) sign(ctx context.Context, r *http.Request) error {
	cr := h.static
	if h.agency != nil {
		var err error
		if cr, err = h.agency.get(ctx); err != nil {
			return err
		}
	}
	return Sign(r, cr, h.opts.Now())
}

func (h *huawei) url(path string, q url.Values) string {
	u := strings.TrimSuffix(h.cfg.Endpoint, "/") + "/v1/" + url.PathEscape(h.cfg.ProjectID) + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

func (h *huawei) getPort(ctx context.Context, id string) (*hwPort, error) {
	var body struct {
		Port hwPort `json:"port"`
	}
	if err := h.api.do(ctx, "GET", h.url("/ports/"+url.PathEscape(id), nil), nil, &body); err != nil {
		return nil, err
	}
	return &body.Port, nil
}

// own returns this server's port on ifname: configured, or found in the
// metadata by the interface's MAC; its fixed IPs come from one GET.
// Both are cached for the life of the daemon.
func (h *huawei) own(ctx context.Context, ifname string) (*ownPort, error) {
	h.mu.Lock()
	p := h.ownPorts[ifname]
	h.mu.Unlock()
	if p != nil {
		return p, nil
	}
	id := h.cfg.PortID
	if id == "" {
		mac, err := h.opts.InterfaceMAC(ifname)
		if err != nil {
			return nil, fmt.Errorf("finding the MAC of %s: %w", ifname, err)
		}
		if id, err = portByMAC(ctx, h.meta, h.cfg.MetadataURL, mac); err != nil {
			return nil, err
		}
	}
	port, err := h.getPort(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("reading this server's port %s: %w", id, err)
	}
	p = &ownPort{id: id}
	for _, f := range port.FixedIPs {
		if a, err := netip.ParseAddr(f.IPAddress); err == nil {
			p.ips = append(p.ips, a)
		}
	}
	if len(p.ips) == 0 {
		return nil, fmt.Errorf("this server's port %s has no fixed IP", id)
	}
	h.mu.Lock()
	h.ownPorts[ifname] = p
	h.mu.Unlock()
	return p, nil
}

// vipPortNow returns the VIP port of vip as it is now: from the listing
// when vipPort had to look it up, else read again.
func (h *huawei) vipPortNow(ctx context.Context, vip netip.Addr) (string, *hwPort, error) {
	id, port, err := h.vipPort(ctx, vip)
	if err != nil || port != nil {
		return id, port, err
	}
	if port, err = h.getPort(ctx, id); err != nil {
		return "", nil, fmt.Errorf("reading VIP port %s of %s: %w", id, vip, err)
	}
	return id, port, nil
}

// vipPort returns the VIP port of vip and, when it had to be looked up,
// the port as listed (saving a GET).
func (h *huawei) vipPort(ctx context.Context, vip netip.Addr) (string, *hwPort, error) {
	h.mu.Lock()
	id, ok := h.vipPorts[vip]
	if !ok {
		id, ok = h.vipPorts[netip.Addr{}]
	}
	h.mu.Unlock()
	if ok {
		return id, nil, nil
	}
	q := url.Values{}
	q.Set("device_owner", "neutron:VIP_PORT")
	q.Set("fixed_ips", "ip_address="+vip.String())
	var body struct {
		Ports []hwPort `json:"ports"`
	}
	if err := h.api.do(ctx, "GET", h.url("/ports", q), nil, &body); err != nil {
		return "", nil, fmt.Errorf("finding the VIP port of %s: %w", vip, err)
	}
	var found []hwPort
	for _, p := range body.Ports {
		for _, f := range p.FixedIPs {
			if a, err := netip.ParseAddr(f.IPAddress); err == nil && a == vip {
				found = append(found, p)
				break
			}
		}
	}
	switch len(found) {
	case 0:
		return "", nil, fmt.Errorf("no VIP port (device_owner neutron:VIP_PORT) has the address %s: create the virtual IP in the subnet first", vip)
	case 1:
	default:
		return "", nil, fmt.Errorf("%d VIP ports have the address %s; set cloud.vip_port_id", len(found), vip)
	}
	h.mu.Lock()
	h.vipPorts[vip] = found[0].ID
	h.mu.Unlock()
	return found[0].ID, &found[0], nil
}

func (h *huawei) Binder(inst config.Instance) Binder {
	return &huaweiBinder{h: h, inst: inst, vips: vipAddrs(inst)}
}

type huaweiBinder struct {
	h    *huawei
	inst config.Instance
	vips []netip.Addr
}

// target is the fixed IP of this server that the VIP port must list for
// vip: the one of the same family. ok is false when there is none.
func (b *huaweiBinder) target(p *ownPort, vip netip.Addr) (netip.Addr, bool) {
	for _, a := range p.ips {
		if a.Is4() == vip.Is4() {
			return a, true
		}
	}
	b.h.mu.Lock()
	first := !b.h.warned[vip]
	b.h.warned[vip] = true
	b.h.mu.Unlock()
	if first {
		b.h.log.Warn("this server's port has no fixed IP of the VIP's family; VIP not bound in the cloud",
			"instance", b.inst.Name, "vip", vip.String(), "port", p.id)
	}
	return netip.Addr{}, false
}

// want returns the pairs the VIP port should list and whether they
// differ from have.
func (b *huaweiBinder) want(have []hwPair, me netip.Addr) ([]hwPair, bool) {
	listed := false
	for _, p := range have {
		if a, err := netip.ParseAddr(p.IPAddress); err == nil && a == me {
			listed = true
		}
	}
	if b.h.cfg.Mode == config.ModeShared {
		if listed {
			return have, false
		}
		return append(append([]hwPair{}, have...), hwPair{IPAddress: me.String()}), true
	}
	if listed && len(have) == 1 {
		return have, false
	}
	return []hwPair{{IPAddress: me.String()}}, true
}

// Prepare finds this server's port and the VIP ports, and caches them.
func (b *huaweiBinder) Prepare(ctx context.Context) error {
	own, err := b.h.own(ctx, b.inst.Interface)
	if err != nil {
		return err
	}
	for _, vip := range b.vips {
		if _, ok := b.target(own, vip); !ok {
			continue
		}
		if _, _, err := b.h.vipPort(ctx, vip); err != nil {
			return err
		}
	}
	return nil
}

func (b *huaweiBinder) Bind(ctx context.Context) (bool, error) {
	own, err := b.h.own(ctx, b.inst.Interface)
	if err != nil {
		return false, err
	}
	moved := false
	var errs []error
	for _, vip := range b.vips {
		me, ok := b.target(own, vip)
		if !ok {
			continue
		}
		id, port, err := b.h.vipPortNow(ctx, vip)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		pairs, change := b.want(port.Pairs, me)
		if !change {
			continue
		}
		body := map[string]any{"port": map[string]any{"allowed_address_pairs": pairs}}
		if err := b.h.api.do(ctx, "PUT", b.h.url("/ports/"+url.PathEscape(id), nil), body, nil); err != nil {
			errs = append(errs, fmt.Errorf("binding VIP port %s of %s to %s: %w", id, vip, me, err))
			continue
		}
		moved = true
		b.h.log.Info("VIP bound in the cloud", "instance", b.inst.Name, "vip", vip.String(),
			"vip_port", id, "fixed_ip", me.String(), "mode", b.h.cfg.Mode, "before", pairIPs(port.Pairs))
	}
	return moved, errors.Join(errs...)
}

func (b *huaweiBinder) Check(ctx context.Context) (bool, error) {
	own, err := b.h.own(ctx, b.inst.Interface)
	if err != nil {
		return false, err
	}
	bound := true
	for _, vip := range b.vips {
		me, ok := b.target(own, vip)
		if !ok {
			continue
		}
		_, port, err := b.h.vipPortNow(ctx, vip)
		if err != nil {
			return false, err
		}
		if _, change := b.want(port.Pairs, me); change {
			bound = false
		}
	}
	return bound, nil
}

// Unbind does nothing: the next master's write replaces the list in
// exclusive mode, and shared mode keeps every server listed. Removing
// this server on the way out could leave the VIP bound to nobody when no
// other member takes over.
func (b *huaweiBinder) Unbind(context.Context) error { return nil }

func pairIPs(ps []hwPair) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.IPAddress
	}
	return strings.Join(s, ",")
}
