package cloudbind_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/havip/havip/cloudbind"
	"github.com/havip/havip/cloudbind/fake"
	"github.com/havip/havip/config"
)

const (
	macA = "fa:16:3e:00:00:0a"
	ipA  = "192.168.0.11"
	ipB  = "192.168.0.12"
	vip  = "192.168.0.100"
	sk   = "s3cr3t-SK-value"
)

func newFake(t *testing.T, mod func(*fake.Config)) (*fake.Server, string) {
	t.Helper()
	cfg := fake.Config{
		ProjectID: "proj1",
		Keys:      map[string]string{"AK1": sk},
		Ports: []fake.Port{
			{ID: "port-a", NetworkID: "net1", MAC: macA, FixedIPs: []string{ipA}},
			{ID: "port-b", NetworkID: "net1", MAC: "fa:16:3e:00:00:0b", FixedIPs: []string{ipB}},
			{ID: "vip-port", NetworkID: "net1", DeviceOwner: "neutron:VIP_PORT", FixedIPs: []string{vip}},
		},
		Callers: map[string]fake.Caller{"127.0.0.1": {MAC: macA, PortID: "port-a"}},
	}
	if mod != nil {
		mod(&cfg)
	}
	f := fake.New(cfg)
	srv := httptest.NewServer(f.Handler())
	t.Cleanup(srv.Close)
	return f, srv.URL
}

func huaweiCfg(url string) config.Cloud {
	return config.Cloud{
		Provider:          config.ProviderHuaweiCloud,
		Mode:              config.ModeExclusive,
		ReconcileInterval: time.Second,
		CallTimeout:       2 * time.Second,
		Endpoint:          url,
		ProjectID:         "proj1",
		MetadataURL:       url,
		Auth:              config.AuthAKSK,
		AccessKey:         "AK1",
		SecretKey:         sk,
	}
}

var inst = config.Instance{Name: "web", Interface: "eth0", VIPs: []netip.Prefix{netip.MustParsePrefix(vip + "/32")}}

func opts(log *bytes.Buffer) cloudbind.Options {
	o := cloudbind.Options{
		Retry: cloudbind.Retry{Attempts: 4, Base: 20 * time.Millisecond, Max: 100 * time.Millisecond},
		InterfaceMAC: func(string) (net.HardwareAddr, error) {
			return net.ParseMAC(macA)
		},
	}
	if log != nil {
		o.Logger = slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return o
}

func mustProvider(t *testing.T, c config.Cloud, o cloudbind.Options) cloudbind.Provider {
	t.Helper()
	p, err := cloudbind.New(c, o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestHuaweiExclusiveFollowsMaster(t *testing.T) {
	f, url := newFake(t, func(c *fake.Config) {
		// Bound to both, as the console leaves it.
		c.Ports[2].Pairs = []string{ipA, ipB}
	})
	var logs bytes.Buffer
	a := mustProvider(t, huaweiCfg(url), opts(&logs))
	cb := huaweiCfg(url)
	cb.PortID = "port-b"
	b := mustProvider(t, cb, opts(&logs))
	ba, bb := a.Binder(inst), b.Binder(inst)

	if bound, err := ba.Check(ctx(t)); err != nil || bound {
		t.Fatalf("Check before bind: %v %v, want false (shared by two)", bound, err)
	}
	moved, err := ba.Bind(ctx(t))
	if err != nil || !moved {
		t.Fatalf("Bind: moved %v, err %v", moved, err)
	}
	if got := f.Pairs("vip-port"); !slices.Equal(got, []string{ipA}) {
		t.Fatalf("pairs %v, want only %s", got, ipA)
	}
	// IDs are cached: the first transition listed once, read its own
	// port once and wrote once; the next check reads the VIP port once.
	calls := a.Calls()
	if moved, err := ba.Bind(ctx(t)); err != nil || moved {
		t.Fatalf("second Bind: moved %v, err %v", moved, err)
	}
	if n := a.Calls() - calls; n != 1 {
		t.Errorf("a bind that changes nothing made %d calls, want 1", n)
	}

	// Another node takes it (a briefly-master backup, say).
	if moved, err := bb.Bind(ctx(t)); err != nil || !moved {
		t.Fatalf("B Bind: moved %v, err %v", moved, err)
	}
	if got := f.Pairs("vip-port"); !slices.Equal(got, []string{ipB}) {
		t.Fatalf("pairs %v, want only %s", got, ipB)
	}
	if bound, err := ba.Check(ctx(t)); err != nil || bound {
		t.Fatalf("A Check: %v %v, want false", bound, err)
	}
	// The real master re-asserts with one read and one write.
	calls = a.Calls()
	if moved, err := ba.Bind(ctx(t)); err != nil || !moved {
		t.Fatalf("A re-Bind: moved %v, err %v", moved, err)
	}
	if n := a.Calls() - calls; n != 2 {
		t.Errorf("re-asserting made %d calls, want 2", n)
	}
	if got := f.Pairs("vip-port"); !slices.Equal(got, []string{ipA}) {
		t.Fatalf("pairs %v, want only %s", got, ipA)
	}
	if err := ba.Unbind(ctx(t)); err != nil {
		t.Fatal(err)
	}
	st := f.State()
	if st.Rejected != 0 {
		t.Errorf("the fake rejected %d requests", st.Rejected)
	}
	if strings.Contains(logs.String(), sk) {
		t.Errorf("the secret key is in the log:\n%s", logs.String())
	}
}

func TestHuaweiShared(t *testing.T) {
	f, url := newFake(t, func(c *fake.Config) { c.Ports[2].Pairs = []string{ipB} })
	c := huaweiCfg(url)
	c.Mode = config.ModeShared
	a := mustProvider(t, c, opts(nil)).Binder(inst)
	if moved, err := a.Bind(ctx(t)); err != nil || !moved {
		t.Fatalf("Bind: %v %v", moved, err)
	}
	if got := f.Pairs("vip-port"); !slices.Equal(got, []string{ipB, ipA}) {
		t.Fatalf("pairs %v, want %s kept and %s added", got, ipB, ipA)
	}
	if bound, err := a.Check(ctx(t)); err != nil || !bound {
		t.Fatalf("Check: %v %v", bound, err)
	}
}

func TestHuaweiAgencyCredentials(t *testing.T) {
	f, url := newFake(t, func(c *fake.Config) { c.AgencyTTL = 15 * time.Minute })
	c := huaweiCfg(url)
	c.Auth, c.AccessKey, c.SecretKey = config.AuthAgency, "", ""
	var now time.Time
	o := opts(nil)
	o.Now = func() time.Time {
		if now.IsZero() {
			return time.Now()
		}
		return now
	}
	b := mustProvider(t, c, o).Binder(inst)
	for range 3 {
		if _, err := b.Bind(ctx(t)); err != nil {
			t.Fatal(err)
		}
	}
	count := func() int {
		n := 0
		for _, c := range f.State().Calls {
			if c.Path == "/openstack/latest/securitykey" {
				n++
			}
		}
		return n
	}
	if n := count(); n != 1 {
		t.Errorf("fetched the agency credentials %d times, want once (cached)", n)
	}
	// Six minutes later less than ten are left: renewed before expiry.
	now = time.Now().Add(6 * time.Minute)
	if _, err := b.Check(ctx(t)); err == nil {
		// The fake's clock is the real one, so the signature date is
		// six minutes ahead, still within its skew allowance.
	} else {
		t.Fatal(err)
	}
	if n := count(); n != 2 {
		t.Errorf("fetched the agency credentials %d times, want 2 (renewed)", n)
	}
	if got := f.Pairs("vip-port"); !slices.Equal(got, []string{ipA}) {
		t.Fatalf("pairs %v", got)
	}
}

func TestHuaweiThrottleHonoursRetryAfter(t *testing.T) {
	f, url := newFake(t, nil)
	b := mustProvider(t, huaweiCfg(url), opts(nil)).Binder(inst)
	f.Inject(fake.Fault{Status: 429, RetryAfter: time.Second, Count: 2})
	start := time.Now()
	if _, err := b.Bind(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 2*time.Second {
		t.Errorf("bound %v after two 429s with Retry-After: 1, want at least 2s", d)
	}
	if st := f.State(); st.Early != 0 {
		t.Errorf("%d requests came before Retry-After", st.Early)
	}
}

func TestHuaweiRetries5xxAndTimeouts(t *testing.T) {
	f, url := newFake(t, nil)
	c := huaweiCfg(url)
	c.CallTimeout = 200 * time.Millisecond
	b := mustProvider(t, c, opts(nil)).Binder(inst)
	f.Inject(fake.Fault{Status: 500, Count: 2})
	f.Inject(fake.Fault{Delay: time.Second, Count: 1})
	if _, err := b.Bind(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if got := f.Pairs("vip-port"); !slices.Equal(got, []string{ipA}) {
		t.Fatalf("pairs %v", got)
	}
}

func TestHuaweiGivesUpBounded(t *testing.T) {
	f, url := newFake(t, nil)
	b := mustProvider(t, huaweiCfg(url), opts(nil)).Binder(inst)
	f.Inject(fake.Fault{Status: 503, Count: 1000})
	start := time.Now()
	_, err := b.Bind(ctx(t))
	if err == nil || !cloudbind.IsStatus(err, 503) {
		t.Fatalf("Bind: %v, want a 503", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("gave up after %v", d)
	}
	n := 0
	for _, c := range f.State().Calls {
		if strings.HasPrefix(c.Path, "/v1/") {
			n++
		}
	}
	if n != 4 {
		t.Errorf("%d API calls, want 4 attempts", n)
	}
}

func TestHuaweiBadSecret(t *testing.T) {
	f, url := newFake(t, nil)
	c := huaweiCfg(url)
	c.SecretKey = "wrong-secret-value"
	_, err := mustProvider(t, c, opts(nil)).Binder(inst).Bind(ctx(t))
	if err == nil || !cloudbind.IsStatus(err, 401) {
		t.Fatalf("Bind with a wrong secret: %v, want 401", err)
	}
	if strings.Contains(err.Error(), "wrong-secret-value") {
		t.Errorf("error shows the secret: %v", err)
	}
	if f.State().Rejected == 0 {
		t.Error("the fake accepted a bad signature")
	}
}

func TestHuaweiNoVIPPort(t *testing.T) {
	_, url := newFake(t, nil)
	in := inst
	in.VIPs = []netip.Prefix{netip.MustParsePrefix("192.168.0.200/32")}
	_, err := mustProvider(t, huaweiCfg(url), opts(nil)).Binder(in).Bind(ctx(t))
	if err == nil || !strings.Contains(err.Error(), "no VIP port") {
		t.Fatalf("Bind: %v", err)
	}
}

func TestHuaweiVIPPortPerAddress(t *testing.T) {
	f, url := newFake(t, func(c *fake.Config) {
		c.Ports = append(c.Ports, fake.Port{ID: "vip-port-2", NetworkID: "net1", DeviceOwner: "neutron:VIP_PORT",
			FixedIPs: []string{"192.168.0.101"}, Pairs: []string{ipB}})
	})
	var logs bytes.Buffer
	p := mustProvider(t, huaweiCfg(url), opts(&logs))
	web := inst
	db := config.Instance{Name: "db", Interface: "eth0", VIPs: []netip.Prefix{
		netip.MustParsePrefix("192.168.0.101/32"), netip.MustParsePrefix("2001:db8::101/128")}}
	for _, in := range []config.Instance{web, db} {
		if _, err := p.Binder(in).Bind(ctx(t)); err != nil {
			t.Fatalf("%s: %v", in.Name, err)
		}
	}
	if got := f.Pairs("vip-port"); !slices.Equal(got, []string{ipA}) {
		t.Errorf("web's VIP port %v", got)
	}
	if got := f.Pairs("vip-port-2"); !slices.Equal(got, []string{ipA}) {
		t.Errorf("db's VIP port %v", got)
	}
	// This server's port has no IPv6 address: the IPv6 VIP is skipped
	// with one warning.
	if n := strings.Count(logs.String(), "no fixed IP of the VIP's family"); n != 1 {
		t.Errorf("%d warnings about the IPv6 VIP, want 1:\n%s", n, logs.String())
	}
}

func TestHuaweiPreparedTakeoverCostsTwoCalls(t *testing.T) {
	f, url := newFake(t, func(c *fake.Config) { c.Ports[2].Pairs = []string{ipB} })
	p := mustProvider(t, huaweiCfg(url), opts(nil))
	b := p.Binder(inst)
	if err := b.(cloudbind.Preparer).Prepare(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if got := f.Pairs("vip-port"); !slices.Equal(got, []string{ipB}) {
		t.Fatalf("Prepare changed the binding: %v", got)
	}
	calls := p.Calls()
	if moved, err := b.Bind(ctx(t)); err != nil || !moved {
		t.Fatalf("Bind: %v %v", moved, err)
	}
	if n := p.Calls() - calls; n != 2 {
		t.Errorf("a prepared takeover made %d calls, want 2 (read and write the VIP port)", n)
	}
}

// A 429 holds back every binder of the provider, not only the one that
// received it.
func TestHuaweiRetryAfterSharedByBinders(t *testing.T) {
	f, url := newFake(t, func(c *fake.Config) {
		c.Ports = append(c.Ports, fake.Port{ID: "vip-port-2", NetworkID: "net1", DeviceOwner: "neutron:VIP_PORT",
			FixedIPs: []string{"192.168.0.101"}})
	})
	p := mustProvider(t, huaweiCfg(url), opts(nil))
	db := config.Instance{Name: "db", Interface: "eth0", VIPs: []netip.Prefix{netip.MustParsePrefix("192.168.0.101/32")}}
	// Resolve this server's port first, so both binders start with VIP
	// port calls.
	if err := p.Binder(inst).(cloudbind.Preparer).Prepare(ctx(t)); err != nil {
		t.Fatal(err)
	}
	f.Inject(fake.Fault{Status: 429, RetryAfter: time.Second, Count: 1})
	errs := make(chan error, 2)
	for _, in := range []config.Instance{inst, db} {
		go func() {
			_, err := p.Binder(in).Bind(ctx(t))
			errs <- err
		}()
		time.Sleep(100 * time.Millisecond)
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if st := f.State(); st.Early != 0 {
		t.Errorf("%d requests came before Retry-After", st.Early)
	}
}
