package cloudbind

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/havip/havip/config"
)

// huawei binds VIPs through the Huawei Cloud VPC v1 ports API: a VIP is a
// port of its own whose allowed_address_pairs list the fixed IPs of the
// servers it is bound to, and each bound server's own port has its
// source/destination check off (the pair 1.1.1.1/0).
type huawei struct {
	counter
	cfg  config.Cloud
	opts Options
	log  *slog.Logger
	api  *caller // signed VPC calls
	meta *metadata

	static Credentials
	agency *agencyCreds

	mu       sync.Mutex
	vipPorts map[netip.Addr]string // VIP address -> VIP port ID
	ownPorts map[string]*ownPort   // interface -> this server's port
	warned   map[netip.Addr]bool   // VIPs skipped with a warning
}

type ownPort struct {
	id, network string
	ips         []netip.Addr
	// open: the source/destination check is off, as last seen at
	// readAt. Guarded by huawei.mu.
	open   bool
	readAt time.Time
}

// ownRecheckEvery is how many reconcile intervals the master goes
// without reading this server's port again: the VIP port is read on
// every reconcile, this server's port on every tenth, so that a
// source/destination check someone turned back on is seen (and turned
// off again) within minutes at a tenth of the calls.
const ownRecheckEvery = 10

// openPair is the allowed address pair that turns a port's
// source/destination check off (Huawei's VPC API reference: "If
// allowed_address_pairs is 1.1.1.1/0, the source/destination check is
// disabled"); the console's "Bind to Server" sets it on the server's
// port.
const openPair = "1.1.1.1/0"

// pageSize is the ports asked for per listing call.
const pageSize = 200

// hwPort is the part of a VPC port used here. Unknown fields are kept
// out of updates: only allowed_address_pairs is ever written.
type hwPort struct {
	ID          string      `json:"id"`
	NetworkID   string      `json:"network_id"`
	DeviceOwner string      `json:"device_owner"`
	MAC         string      `json:"mac_address"`
	FixedIPs    []hwFixedIP `json:"fixed_ips"`
	Pairs       []hwPair    `json:"allowed_address_pairs"`
}

type hwFixedIP struct {
	SubnetID  string `json:"subnet_id"`
	IPAddress string `json:"ip_address"`
}

type hwPair struct {
	IPAddress  string `json:"ip_address"`
	MACAddress string `json:"mac_address,omitempty"`
}

func (p *hwPort) has(addr netip.Addr) bool {
	return slices.ContainsFunc(p.FixedIPs, func(f hwFixedIP) bool { return pairIs(f.IPAddress, addr) })
}

func (p *hwPort) open() bool {
	return slices.ContainsFunc(p.Pairs, func(pr hwPair) bool { return pr.IPAddress == openPair })
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
	h.meta = newMetadata(c.MetadataURL, &caller{client: o.HTTPClient, timeout: c.CallTimeout, retry: o.Retry}, o.Now)
	h.api = &caller{client: o.HTTPClient, timeout: c.CallTimeout, retry: o.Retry, calls: &h.counter, prepare: h.sign,
		throttle: &throttle{}}
	switch c.Auth {
	case config.AuthAgency:
		h.agency = &agencyCreds{meta: h.meta, now: o.Now}
	default:
		if c.AccessKey == "" || c.SecretKey.Reveal() == "" {
			return nil, errors.New("huaweicloud: access_key and the secret key are required")
		}
		h.static = Credentials{AccessKey: c.AccessKey, SecretKey: c.SecretKey.Reveal()}
	}
	return h, nil
}

func (h *huawei) Name() string { return config.ProviderHuaweiCloud }
func (h *huawei) Mode() string { return h.cfg.Mode }

// sign adds X-Project-Id (the SDK sends and signs it on every call; it
// selects a sub-project's resources) and the signature.
func (h *huawei) sign(ctx context.Context, r *http.Request) error {
	cr := h.static
	if h.agency != nil {
		var err error
		if cr, err = h.agency.get(ctx); err != nil {
			return err
		}
	}
	r.Header.Set(headerProjectID, h.cfg.ProjectID)
	return Sign(r, cr, h.opts.Now())
}

func (h *huawei) url(path string, q url.Values) string {
	u := strings.TrimSuffix(h.cfg.Endpoint, "/") + "/v1/" + url.PathEscape(h.cfg.ProjectID) + path
	if len(q) > 0 {
		u += "?" + encodeQuery(q)
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

func (h *huawei) putPairs(ctx context.Context, id string, pairs []hwPair) error {
	body := map[string]any{"port": map[string]any{"allowed_address_pairs": pairs}}
	return h.api.do(ctx, "PUT", h.url("/ports/"+url.PathEscape(id), nil), body, nil)
}

// listPorts lists the ports that match q, a page at a time (limit and
// marker, the last ID of the page before).
func (h *huawei) listPorts(ctx context.Context, q url.Values) ([]hwPort, error) {
	var all []hwPort
	q.Set("limit", strconv.Itoa(pageSize))
	for {
		var body struct {
			Ports []hwPort `json:"ports"`
		}
		if err := h.api.do(ctx, "GET", h.url("/ports", q), nil, &body); err != nil {
			return nil, err
		}
		all = append(all, body.Ports...)
		if len(body.Ports) < pageSize {
			return all, nil
		}
		q.Set("marker", body.Ports[len(body.Ports)-1].ID)
	}
}

// own returns this server's port on ifname: configured, or found in the
// metadata by the interface's MAC; its network, fixed IPs and whether it
// is open come from one GET. The ID, network and fixed IPs are cached
// for the life of the daemon; whether it is open is read again (see
// assureOwn).
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
		if id, err = portByMAC(ctx, h.meta, mac); err != nil {
			return nil, err
		}
	}
	port, err := h.getPort(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("reading this server's port %s: %w", id, err)
	}
	p = &ownPort{id: id, network: port.NetworkID, open: port.open(), readAt: h.opts.Now()}
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

// ownDue reports whether this server's port was last read longer ago
// than ownRecheckEvery reconcile intervals, and whether it was open
// then.
func (h *huawei) ownDue(own *ownPort) (due, open bool) {
	every := h.cfg.ReconcileInterval
	if every <= 0 {
		every = 30 * time.Second
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.opts.Now().Sub(own.readAt) >= ownRecheckEvery*every, own.open
}

// readOwn reads this server's port and records whether its
// source/destination check is off.
func (h *huawei) readOwn(ctx context.Context, own *ownPort) (*hwPort, bool, error) {
	port, err := h.getPort(ctx, own.id)
	if err != nil {
		return nil, false, fmt.Errorf("reading this server's port %s: %w", own.id, err)
	}
	h.mu.Lock()
	was := own.open
	own.open, own.readAt = port.open(), h.opts.Now()
	h.mu.Unlock()
	return port, was, nil
}

// errOwnClosed is a closed own port left to the operator.
func (h *huawei) errOwnClosed(own *ownPort) error {
	return fmt.Errorf("this server's port %s has its source/destination check on, so its NIC drops the VIPs' traffic; cloud.manage_own_port = false leaves it to you: turn the check off (the console's Source/Destination Check, or the allowed address pair %s) or set manage_own_port = true",
		own.id, openPair)
}

// assureOwn reads this server's port and, when its source/destination
// check is on, turns it off (keeping the pairs someone else set), or
// reports it when the operator keeps the port (manage_own_port =
// false). wrote reports a write.
func (h *huawei) assureOwn(ctx context.Context, own *ownPort) (wrote bool, err error) {
	port, was, err := h.readOwn(ctx, own)
	if err != nil {
		return false, err
	}
	if port.open() {
		return false, nil
	}
	if !h.cfg.ManageOwnPort {
		if was {
			h.log.Warn("the source/destination check of this server's port was turned on: its NIC drops the VIPs' traffic (manage_own_port = false leaves it to you)",
				"port", own.id)
		}
		return false, h.errOwnClosed(own)
	}
	pairs := append(slices.Clone(port.Pairs), hwPair{IPAddress: openPair})
	if err := h.putPairs(ctx, own.id, pairs); err != nil {
		return false, fmt.Errorf("turning the source/destination check of this server's port %s off: %w", own.id, err)
	}
	h.mu.Lock()
	own.open = true
	h.mu.Unlock()
	if was {
		h.log.Warn("the source/destination check of this server's port had been turned on again; turned it off, so that it takes the VIPs' traffic",
			"port", own.id, "pair", openPair)
	} else {
		h.log.Info("source/destination check of this server's port turned off, so that it takes the VIPs' traffic",
			"port", own.id, "pair", openPair)
	}
	return true, nil
}

// vipPortNow returns the VIP port of vip as it is now: from the listing
// when vipPort had to look it up, else read again. A cached port that is
// gone (404: the VIP was deleted and created again) is looked up anew,
// unless cloud.vip_port_id names it.
func (h *huawei) vipPortNow(ctx context.Context, own *ownPort, vip netip.Addr) (string, *hwPort, error) {
	id, port, err := h.vipPort(ctx, own, vip)
	if err != nil || port != nil {
		return id, port, err
	}
	port, err = h.getPort(ctx, id)
	if IsStatus(err, http.StatusNotFound) && h.cfg.VIPPortID == "" {
		h.log.Info("the VIP's port is gone; looking it up again", "vip", vip.String(), "vip_port", id)
		h.mu.Lock()
		delete(h.vipPorts, vip)
		h.mu.Unlock()
		return h.vipPort(ctx, own, vip)
	}
	if err != nil {
		return "", nil, fmt.Errorf("reading VIP port %s of %s: %w", id, vip, err)
	}
	return id, port, nil
}

// vipPort returns the VIP port of vip and, when it had to be looked up,
// the port as listed (saving a GET). The lookup stays in this server's
// network, so that one address used in two VPCs is not ambiguous.
func (h *huawei) vipPort(ctx context.Context, own *ownPort, vip netip.Addr) (string, *hwPort, error) {
	if id := h.cfg.VIPPortID; id != "" {
		// Config checks that there is exactly one VIP then.
		return id, nil, nil
	}
	h.mu.Lock()
	id, ok := h.vipPorts[vip]
	h.mu.Unlock()
	if ok {
		return id, nil, nil
	}
	q := url.Values{}
	q.Set("device_owner", "neutron:VIP_PORT")
	q.Set("fixed_ips", "ip_address="+vip.String())
	q.Set("network_id", own.network)
	ports, err := h.listPorts(ctx, q)
	if err != nil {
		return "", nil, fmt.Errorf("finding the VIP port of %s: %w", vip, err)
	}
	ports = slices.DeleteFunc(ports, func(p hwPort) bool { return !p.has(vip) || p.NetworkID != own.network })
	switch len(ports) {
	case 0:
		return "", nil, fmt.Errorf("no VIP port (device_owner neutron:VIP_PORT) has the address %s in network %s: create the virtual IP in the subnet first", vip, own.network)
	case 1:
	default:
		return "", nil, fmt.Errorf("%d VIP ports have the address %s in network %s; set cloud.vip_port_id", len(ports), vip, own.network)
	}
	h.mu.Lock()
	h.vipPorts[vip] = ports[0].ID
	h.mu.Unlock()
	return ports[0].ID, &ports[0], nil
}

func (h *huawei) Binder(inst config.Instance) Binder {
	return &huaweiBinder{h: h, inst: inst, vips: vipAddrs(inst)}
}

type huaweiBinder struct {
	h    *huawei
	inst config.Instance
	vips []netip.Addr
	// held: the last Bind succeeded and no Unbind came since; a VIP
	// port that needs writing then was changed by someone else.
	held atomic.Bool
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
	listed := slices.ContainsFunc(have, func(p hwPair) bool { return pairIs(p.IPAddress, me) })
	if b.h.cfg.Mode == config.ModeShared {
		if listed {
			return have, false
		}
		return append(slices.Clone(have), hwPair{IPAddress: me.String()}), true
	}
	if listed && len(have) == 1 {
		return have, false
	}
	return []hwPair{{IPAddress: me.String()}}, true
}

// pairIs reports whether an allowed address pair is exactly addr.
func pairIs(s string, addr netip.Addr) bool {
	a, err := netip.ParseAddr(s)
	return err == nil && a == addr
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
		if _, _, err := b.h.vipPort(ctx, own, vip); err != nil {
			return err
		}
	}
	return nil
}

// Bind makes each VIP port list this server and keeps this server's
// port open. A port known to be closed (the first takeover) is opened
// before the VIP ports are written; one last seen open is read again
// after them, every ownRecheckEvery reconcile intervals and whenever a
// VIP port had to be re-asserted (whoever changed the binding may have
// changed this server's port too), so a takeover does not wait for it.
func (b *huaweiBinder) Bind(ctx context.Context) (bool, error) {
	own, err := b.h.own(ctx, b.inst.Interface)
	if err != nil {
		return false, err
	}
	reasserting := b.held.Swap(false)
	due, open := b.h.ownDue(own)
	var errs []error
	moved := false
	if !open {
		w, err := b.h.assureOwn(ctx, own)
		moved = w
		errs = append(errs, err)
	}
	wroteVIP := false
	for _, vip := range b.vips {
		me, ok := b.target(own, vip)
		if !ok {
			continue
		}
		id, port, err := b.h.vipPortNow(ctx, own, vip)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		pairs, change := b.want(port.Pairs, me)
		if !change {
			continue
		}
		if err := b.h.putPairs(ctx, id, pairs); err != nil {
			errs = append(errs, fmt.Errorf("binding VIP port %s of %s to %s: %w", id, vip, me, err))
			continue
		}
		moved, wroteVIP = true, true
		b.h.log.Info("VIP bound in the cloud", "instance", b.inst.Name, "vip", vip.String(),
			"vip_port", id, "fixed_ip", me.String(), "mode", b.h.cfg.Mode, "before", pairIPs(port.Pairs))
	}
	if open && (due || wroteVIP && reasserting) {
		w, err := b.h.assureOwn(ctx, own)
		moved = moved || w
		errs = append(errs, err)
	}
	err = errors.Join(errs...)
	b.held.Store(err == nil)
	return moved, err
}

// Check reads the VIP ports and this server's port, and reports whether
// the VIP ports list this server (alone, in exclusive mode) and its
// port's source/destination check is off: with the check on, its NIC
// drops the VIPs' traffic, and the VIPs are not bound in effect.
func (b *huaweiBinder) Check(ctx context.Context) (bool, error) {
	own, err := b.h.own(ctx, b.inst.Interface)
	if err != nil {
		return false, err
	}
	port, _, err := b.h.readOwn(ctx, own)
	if err != nil {
		return false, err
	}
	bound := port.open()
	for _, vip := range b.vips {
		me, ok := b.target(own, vip)
		if !ok {
			continue
		}
		_, port, err := b.h.vipPortNow(ctx, own, vip)
		if err != nil {
			return false, err
		}
		if _, change := b.want(port.Pairs, me); change {
			bound = false
		}
	}
	return bound, nil
}

// Inspect reads the binding and the ports of the members' fixed IPs in
// this server's network: whether each port's source/destination check
// is off and whether the VIP ports list it.
func (b *huaweiBinder) Inspect(ctx context.Context, members []netip.Addr) (Report, error) {
	bound, err := b.Check(ctx)
	if err != nil {
		return Report{}, err
	}
	own, err := b.h.own(ctx, b.inst.Interface)
	if err != nil {
		return Report{}, err
	}
	var vipPorts []*hwPort
	for _, vip := range b.vips {
		if _, ok := b.target(own, vip); !ok {
			continue
		}
		_, port, err := b.h.vipPortNow(ctx, own, vip)
		if err != nil {
			return Report{}, err
		}
		vipPorts = append(vipPorts, port)
	}
	all, err := b.h.listPorts(ctx, url.Values{"network_id": {own.network}})
	if err != nil {
		return Report{}, fmt.Errorf("listing the ports of network %s: %w", own.network, err)
	}
	rep := Report{Bound: bound}
	for _, m := range withSelf(own.ips, members) {
		mp := MemberPort{Addr: m, Self: slices.Contains(own.ips, m)}
		if i := slices.IndexFunc(all, func(p hwPort) bool { return p.DeviceOwner != "neutron:VIP_PORT" && p.has(m) }); i >= 0 {
			mp.PortID, mp.Open = all[i].ID, all[i].open()
			mp.Listed = len(vipPorts) > 0 && !slices.ContainsFunc(vipPorts, func(v *hwPort) bool {
				return !slices.ContainsFunc(v.Pairs, func(p hwPair) bool { return pairIs(p.IPAddress, m) })
			})
		}
		rep.Ports = append(rep.Ports, mp)
	}
	return rep, nil
}

// Unbind changes nothing in the cloud: the next master's write replaces
// the list in exclusive mode, and shared mode keeps every server listed.
// Removing this server on the way out could leave the VIP bound to
// nobody when no other member takes over. The own port stays open: a
// later takeover needs it. The next Bind is a takeover, not a
// re-assertion.
func (b *huaweiBinder) Unbind(context.Context) error {
	b.held.Store(false)
	return nil
}

// Metadata reports how the metadata service takes reads, when this
// configuration reads it.
func (h *huawei) Metadata(ctx context.Context) (string, error) {
	if h.cfg.PortID != "" && h.agency == nil {
		return MetadataUnused, nil
	}
	return h.meta.mode(ctx)
}

func pairIPs(ps []hwPair) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.IPAddress
	}
	return strings.Join(s, ",")
}
