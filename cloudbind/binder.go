package cloudbind

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"sync/atomic"
	"time"

	"github.com/havip/havip/config"
)

// Binder binds the VIPs of one instance to this server in the cloud. The
// daemon calls it from its own goroutines, never from the election's.
type Binder interface {
	// Bind makes the cloud forward the VIPs to this server. It reads the
	// binding first and writes only what differs, so it also serves to
	// re-assert a binding someone else changed; moved reports a write.
	Bind(ctx context.Context) (moved bool, err error)
	// Check reads the binding without changing anything and reports
	// whether the cloud forwards the VIPs to this server (exclusively,
	// in exclusive mode). ErrNoCheck when the provider cannot tell.
	Check(ctx context.Context) (bound bool, err error)
	// Unbind withdraws this server's binding where the provider has
	// such a step; otherwise it does nothing.
	Unbind(ctx context.Context) error
}

// Preparer is an optional part of a Binder: resolve and cache what a
// takeover needs (credentials, this server's port, the VIP ports) ahead
// of time, with read-only calls, so that a takeover costs one or two
// calls.
type Preparer interface {
	Prepare(ctx context.Context) error
}

// Inspector is an optional part of a Binder: a read-only report of the
// binding and of the cluster members' ports, for `havip check --cloud`.
type Inspector interface {
	// Inspect reads the binding and the port of each member address
	// (this server's own addresses are added).
	Inspect(ctx context.Context, members []netip.Addr) (Report, error)
}

// Report is what Inspect found.
type Report struct {
	// Bound is what Check reports.
	Bound bool
	// Ports are the members' ports, this server's first.
	Ports []MemberPort
	// Notes are further facts, a sentence each (the floating IP).
	Notes []string
}

// MemberPort is the port of one member's fixed IP in this server's
// network.
type MemberPort struct {
	Addr netip.Addr
	// Self marks this server's own address.
	Self bool
	// PortID is empty when no port of the network has the address.
	PortID string
	// Open: huaweicloud, the port's source/destination check is off;
	// openstack, the port allows the VIPs.
	Open bool
	// Listed: huaweicloud, every VIP port of the instance lists the
	// address (the VIP is bound to it).
	Listed bool
}

// MetadataReporter is an optional part of a Provider: how the metadata
// service takes reads (MetadataTokenRequired, MetadataTokenOptional,
// MetadataNoToken, MetadataUnused).
type MetadataReporter interface {
	Metadata(ctx context.Context) (string, error)
}

// withSelf returns own's addresses followed by the members that are not
// among them.
func withSelf(own, members []netip.Addr) []netip.Addr {
	out := slices.Clone(own)
	for _, m := range members {
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}

// ErrNoCheck means the provider cannot read the binding back.
var ErrNoCheck = errors.New("the provider cannot read the binding")

// Provider makes the binders of one cloud account; IDs and credentials
// are shared by all of them.
type Provider interface {
	// Name is the configured provider: none, exec, openstack, huaweicloud.
	Name() string
	// Mode is exclusive or shared ("" where it does not apply).
	Mode() string
	// Binder returns the binder of one instance.
	Binder(inst config.Instance) Binder
	// Calls is how many API calls were made so far.
	Calls() int64
}

// Options tune a provider; the zero value is the real thing.
type Options struct {
	Logger *slog.Logger
	// HTTPClient sends every API and metadata request; nil is a client
	// without proxy settings and without an overall timeout (each call
	// has its own).
	HTTPClient *http.Client
	// Retry bounds the retries of one call; zero fields take defaults.
	Retry Retry
	// InterfaceMAC finds the MAC address of a local interface, for
	// matching this server's port in the metadata; nil uses the host's.
	InterfaceMAC func(ifname string) (net.HardwareAddr, error)
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

func (o *Options) fill() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConnsPerHost:   4,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: 30 * time.Second,
		}}
	}
	o.Retry.fill()
	if o.InterfaceMAC == nil {
		o.InterfaceMAC = func(ifname string) (net.HardwareAddr, error) {
			ifi, err := net.InterfaceByName(ifname)
			if err != nil {
				return nil, err
			}
			return ifi.HardwareAddr, nil
		}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// New makes the provider configured in c.
func New(c config.Cloud, o Options) (Provider, error) {
	o.fill()
	switch c.Provider {
	case "", config.ProviderNone:
		return none{}, nil
	case config.ProviderExec:
		return newExec(c, o), nil
	case config.ProviderHuaweiCloud:
		return newHuawei(c, o)
	case config.ProviderOpenStack:
		return newOpenStack(c, o)
	}
	return nil, fmt.Errorf("unknown cloud provider %q", c.Provider)
}

// Reconciles reports whether the provider can re-read its binding, so
// that a master re-asserts it periodically; the exec provider runs its
// command once per takeover.
func Reconciles(p Provider) bool {
	switch p.Name() {
	case config.ProviderHuaweiCloud, config.ProviderOpenStack:
		return true
	}
	return false
}

// none binds nothing: the L2 announcement is all there is.
type none struct{}

func (none) Name() string                  { return config.ProviderNone }
func (none) Mode() string                  { return "" }
func (none) Binder(config.Instance) Binder { return noneBinder{} }
func (none) Calls() int64                  { return 0 }

type noneBinder struct{}

func (noneBinder) Bind(context.Context) (bool, error)  { return false, nil }
func (noneBinder) Check(context.Context) (bool, error) { return false, ErrNoCheck }
func (noneBinder) Unbind(context.Context) error        { return nil }

// counter counts API calls.
type counter struct{ n atomic.Int64 }

func (c *counter) Calls() int64 { return c.n.Load() }

func vipAddrs(inst config.Instance) []netip.Addr {
	out := make([]netip.Addr, len(inst.VIPs))
	for i, p := range inst.VIPs {
		out[i] = p.Addr()
	}
	return out
}
