package cloudbind_test

import (
	"bytes"
	"context"
	"fmt"
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
	open = "1.1.1.1/0"
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
		ManageOwnPort:     true,
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

// clockOpts are opts whose clock reads *now, or the real time while
// *now is zero.
func clockOpts(now *time.Time) cloudbind.Options {
	o := opts(nil)
	o.Now = func() time.Time {
		if now.IsZero() {
			return time.Now()
		}
		return *now
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

// calls returns the fake's calls whose path starts with prefix.
func calls(f *fake.Server, prefix string) []fake.Call {
	var out []fake.Call
	for _, c := range f.State().Calls {
		if strings.HasPrefix(c.Path, prefix) {
			out = append(out, c)
		}
	}
	return out
}

func TestHuaweiExclusiveFollowsMaster(t *testing.T) {
	f, url := newFake(t, func(c *fake.Config) {
		// Bound to both, as the console leaves it.
		c.Ports[2].Pairs = []string{ipA, ipB}
		c.Ports[0].Pairs = []string{open}
		c.Ports[1].Pairs = []string{open}
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
	// IDs are cached: the next bind reads the VIP port once.
	n := a.Calls()
	if moved, err := ba.Bind(ctx(t)); err != nil || moved {
		t.Fatalf("second Bind: moved %v, err %v", moved, err)
	}
	if n := a.Calls() - n; n != 1 {
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
	// The real master re-asserts with one read and one write, and
	// reads its own port again: whoever changed the binding may have
	// changed that too.
	n = a.Calls()
	if moved, err := ba.Bind(ctx(t)); err != nil || !moved {
		t.Fatalf("A re-Bind: moved %v, err %v", moved, err)
	}
	if n := a.Calls() - n; n != 3 {
		t.Errorf("re-asserting made %d calls, want 3", n)
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

// The VPC API has no revision guard: a write that lands between a
// binder's read and its write is replaced by it (last writer wins),
// unseen. The binder does not read again after writing (that read would
// only show what landed before it); the member whose write was lost
// sees it at its next reconcile and binds again.
func TestHuaweiRacingWriter(t *testing.T) {
	const ipC = "192.168.0.13"
	for _, tt := range []struct {
		mode                string
		afterA, afterC      []string
		aBoundAfterCReBinds bool
	}{
		{config.ModeExclusive, []string{ipA}, []string{ipC}, false},
		{config.ModeShared, []string{ipB, ipA}, []string{ipB, ipA, ipC}, true},
	} {
		t.Run(tt.mode, func(t *testing.T) {
			f, url := newFake(t, func(c *fake.Config) {
				c.Ports = append(c.Ports, fake.Port{ID: "port-c", NetworkID: "net1", MAC: "fa:16:3e:00:00:0c",
					FixedIPs: []string{ipC}, Pairs: []string{open}})
				c.Ports[0].Pairs = []string{open}
				c.Ports[2].Pairs = []string{ipB}
			})
			ca := huaweiCfg(url)
			ca.Mode = tt.mode
			cc := ca
			cc.PortID = "port-c"
			a := mustProvider(t, ca, opts(nil)).Binder(inst)
			c := mustProvider(t, cc, opts(nil)).Binder(inst)

			// C binds itself after A read the VIP port, before A writes.
			f.RaceNextUpdate("vip-port", ipC)
			if moved, err := a.Bind(ctx(t)); err != nil || !moved {
				t.Fatalf("A Bind: %v %v", moved, err)
			}
			if got := f.Pairs("vip-port"); !slices.Equal(got, tt.afterA) {
				t.Fatalf("VIP port pairs %v after the race, want %v (A's write replaced C's)", got, tt.afterA)
			}
			if bound, err := a.Check(ctx(t)); err != nil || !bound {
				t.Errorf("A Check: %v %v, want bound", bound, err)
			}
			if bound, err := c.Check(ctx(t)); err != nil || bound {
				t.Errorf("C Check: %v %v, want not bound (its write was lost)", bound, err)
			}
			// C's next reconcile restores its binding.
			if moved, err := c.Bind(ctx(t)); err != nil || !moved {
				t.Fatalf("C Bind: %v %v", moved, err)
			}
			if got := f.Pairs("vip-port"); !slices.Equal(got, tt.afterC) {
				t.Errorf("VIP port pairs %v after C bound again, want %v", got, tt.afterC)
			}
			if bound, err := a.Check(ctx(t)); err != nil || bound != tt.aBoundAfterCReBinds {
				t.Errorf("A Check after C bound again: %v %v, want %v", bound, err, tt.aBoundAfterCReBinds)
			}
			if st := f.State(); st.Rejected != 0 {
				t.Errorf("the fake rejected %d requests", st.Rejected)
			}
		})
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

// Binding also turns the source/destination check of this server's port
// off, as the console's "Bind to Server" does, keeping its other pairs;
// once, not on every takeover.
func TestHuaweiOpensOwnPort(t *testing.T) {
	f, url := newFake(t, func(c *fake.Config) { c.Ports[0].Pairs = []string{"10.9.9.9"} })
	p := mustProvider(t, huaweiCfg(url), opts(nil))
	b := p.Binder(inst)
	if err := b.(cloudbind.Preparer).Prepare(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if got := f.Pairs("port-a"); !slices.Equal(got, []string{"10.9.9.9"}) {
		t.Fatalf("Prepare changed the own port: %v", got)
	}
	n := p.Calls()
	if moved, err := b.Bind(ctx(t)); err != nil || !moved {
		t.Fatalf("Bind: %v %v", moved, err)
	}
	if got := f.Pairs("port-a"); !slices.Equal(got, []string{"10.9.9.9", open}) {
		t.Errorf("own port pairs %v, want the other pair kept and %s", got, open)
	}
	if got := f.Pairs("vip-port"); !slices.Equal(got, []string{ipA}) {
		t.Errorf("VIP port pairs %v", got)
	}
	// Read and open the own port, read and write the VIP port.
	if n := p.Calls() - n; n != 4 {
		t.Errorf("the first takeover made %d calls, want 4", n)
	}
	// A later takeover (after a step-down) leaves the own port alone,
	// read a moment ago.
	if err := b.Unbind(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if err := f.SetPairs("vip-port", ipB); err != nil {
		t.Fatal(err)
	}
	n = p.Calls()
	if _, err := b.Bind(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if n := p.Calls() - n; n != 2 {
		t.Errorf("a later takeover made %d calls, want 2", n)
	}
}

// The master reads its own port again every ownRecheckEvery reconcile
// intervals and turns the source/destination check off again when
// someone turned it on, keeping the other pairs; the bind reports the
// move, so that the daemon announces again.
func TestHuaweiReopensOwnPort(t *testing.T) {
	f, url := newFake(t, func(c *fake.Config) { c.Ports[0].Pairs = []string{"10.9.9.9", open} })
	var now time.Time
	p := mustProvider(t, huaweiCfg(url), clockOpts(&now))
	b := p.Binder(inst)
	now = time.Now()
	if moved, err := b.Bind(ctx(t)); err != nil || !moved {
		t.Fatalf("Bind: %v %v", moved, err)
	}
	// Someone turns the check back on.
	if err := f.SetPairs("port-a", "10.9.9.9"); err != nil {
		t.Fatal(err)
	}
	// Reconciles (reconcile_interval 1s) read the VIP port alone until
	// ten intervals have passed since this server's port was read.
	binds := 0
	for !slices.Contains(f.Pairs("port-a"), open) && binds < 20 {
		now = now.Add(time.Second)
		binds++
		n := p.Calls()
		moved, err := b.Bind(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		if n := p.Calls() - n; n != 1 && !moved {
			t.Errorf("reconcile %d changed nothing with %d calls, want 1", binds, n)
		}
		if moved != slices.Contains(f.Pairs("port-a"), open) {
			t.Errorf("reconcile %d: moved %v with own port pairs %v", binds, moved, f.Pairs("port-a"))
		}
	}
	if binds != 10 {
		t.Errorf("the own port was opened again at reconcile %d, want 10", binds)
	}
	if got := f.Pairs("port-a"); !slices.Equal(got, []string{"10.9.9.9", open}) {
		t.Errorf("own port pairs %v, want the other pair kept and %s", got, open)
	}
	if got := f.Pairs("vip-port"); !slices.Equal(got, []string{ipA}) {
		t.Errorf("VIP port pairs %v", got)
	}

	// A re-assertion reads this server's port at once.
	if err := f.SetPairs("port-a", "10.9.9.9"); err != nil {
		t.Fatal(err)
	}
	if err := f.SetPairs("vip-port", ipB); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Second)
	if moved, err := b.Bind(ctx(t)); err != nil || !moved {
		t.Fatalf("re-assert: %v %v", moved, err)
	}
	if got := f.Pairs("port-a"); !slices.Contains(got, open) {
		t.Errorf("own port pairs %v after a re-assertion, want %s back", got, open)
	}
	if got := f.Pairs("vip-port"); !slices.Equal(got, []string{ipA}) {
		t.Errorf("VIP port pairs %v", got)
	}
}

// manage_own_port = false leaves this server's port to the operator:
// the VIP port is bound, but a closed own port (its NIC drops the VIPs'
// traffic) makes Bind fail, so the status shows it, and Check report
// the VIPs unbound, until the operator opens it.
func TestHuaweiLeavesOwnPortToOperator(t *testing.T) {
	f, url := newFake(t, nil)
	c := huaweiCfg(url)
	c.ManageOwnPort = false
	b := mustProvider(t, c, opts(nil)).Binder(inst)
	_, err := b.Bind(ctx(t))
	if err == nil || !strings.Contains(err.Error(), "port-a has its source/destination check on") || !strings.Contains(err.Error(), "manage_own_port") {
		t.Fatalf("Bind with the own port closed: %v, want an error that says so", err)
	}
	if got := f.Pairs("port-a"); len(got) != 0 {
		t.Errorf("own port pairs %v, want untouched", got)
	}
	if got := f.Pairs("vip-port"); !slices.Equal(got, []string{ipA}) {
		t.Errorf("VIP port pairs %v", got)
	}
	if bound, err := b.Check(ctx(t)); err != nil || bound {
		t.Errorf("Check with the own port closed: %v %v, want not bound", bound, err)
	}
	// The operator turns the check off.
	if err := f.SetPairs("port-a", open); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Bind(ctx(t)); err != nil {
		t.Errorf("Bind with the own port open: %v", err)
	}
	if bound, err := b.Check(ctx(t)); err != nil || !bound {
		t.Errorf("Check with the own port open: %v %v", bound, err)
	}
	if got := f.Pairs("port-a"); !slices.Equal(got, []string{open}) {
		t.Errorf("own port pairs %v, want the operator's", got)
	}
}

func TestHuaweiPreparedTakeoverCostsTwoCalls(t *testing.T) {
	f, url := newFake(t, func(c *fake.Config) {
		c.Ports[2].Pairs = []string{ipB}
		c.Ports[0].Pairs = []string{open}
	})
	p := mustProvider(t, huaweiCfg(url), opts(nil))
	b := p.Binder(inst)
	if err := b.(cloudbind.Preparer).Prepare(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if got := f.Pairs("vip-port"); !slices.Equal(got, []string{ipB}) {
		t.Fatalf("Prepare changed the binding: %v", got)
	}
	n := p.Calls()
	if moved, err := b.Bind(ctx(t)); err != nil || !moved {
		t.Fatalf("Bind: %v %v", moved, err)
	}
	if n := p.Calls() - n; n != 2 {
		t.Errorf("a prepared takeover made %d calls, want 2 (read and write the VIP port)", n)
	}
}

// Every call carries X-Project-Id and signs it, as the SDK does (with the
// security token of agency credentials).
func TestHuaweiSignsProjectID(t *testing.T) {
	for _, auth := range []string{config.AuthAKSK, config.AuthAgency} {
		t.Run(auth, func(t *testing.T) {
			f, url := newFake(t, nil)
			c := huaweiCfg(url)
			if auth == config.AuthAgency {
				c.Auth, c.AccessKey, c.SecretKey = config.AuthAgency, "", ""
			}
			if _, err := mustProvider(t, c, opts(nil)).Binder(inst).Bind(ctx(t)); err != nil {
				t.Fatal(err)
			}
			want := "x-project-id;x-sdk-date"
			if auth == config.AuthAgency {
				want += ";x-security-token"
			}
			api := calls(f, "/v1/")
			if len(api) == 0 {
				t.Fatal("no API call")
			}
			for _, c := range api {
				if got := strings.Join(c.Signed, ";"); got != want || c.Status != 200 {
					t.Errorf("%s %s?%s: %d, signed %s, want %s", c.Method, c.Path, c.Query, c.Status, got, want)
				}
			}
		})
	}
}

func TestHuaweiAgencyCredentials(t *testing.T) {
	f, url := newFake(t, func(c *fake.Config) { c.AgencyTTL = 15 * time.Minute })
	c := huaweiCfg(url)
	c.Auth, c.AccessKey, c.SecretKey = config.AuthAgency, "", ""
	// The clock jumps six minutes below: a reconcile then reads the
	// VIP port alone, one call (its own port is not due yet).
	c.ReconcileInterval = time.Hour
	var now time.Time
	o := clockOpts(&now)
	b := mustProvider(t, c, o).Binder(inst)
	for range 3 {
		if _, err := b.Bind(ctx(t)); err != nil {
			t.Fatal(err)
		}
	}
	count := func() int { return len(calls(f, "/openstack/latest/securitykey")) }
	if n := count(); n != 1 {
		t.Errorf("fetched the agency credentials %d times, want once (cached)", n)
	}
	// Six minutes later less than ten are left: renewed before expiry.
	// (The fake's clock is the real one: the signature date is six
	// minutes ahead, within its skew allowance.)
	now = time.Now().Add(6 * time.Minute)
	if _, err := b.Bind(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 2 {
		t.Errorf("fetched the agency credentials %d times, want 2 (renewed)", n)
	}
	if got := f.Pairs("vip-port"); !slices.Equal(got, []string{ipA}) {
		t.Fatalf("pairs %v", got)
	}
}

// A server that requires metadata tokens (http_tokens = required) is
// read with one, as the SDK does: asked for once, sent on every read,
// asked for again when the service refuses it.
func TestHuaweiMetadataTokenRequired(t *testing.T) {
	f, url := newFake(t, func(c *fake.Config) {
		c.MetadataTokens = fake.TokensRequired
		c.AgencyTTL = 15 * time.Minute
	})
	c := huaweiCfg(url)
	c.Auth, c.AccessKey, c.SecretKey = config.AuthAgency, "", ""
	c.ReconcileInterval = time.Hour // one call per reconcile below
	var now time.Time
	o := clockOpts(&now)
	b := mustProvider(t, c, o).Binder(inst)
	if _, err := b.Bind(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if got := f.Pairs("vip-port"); !slices.Equal(got, []string{ipA}) {
		t.Fatalf("pairs %v", got)
	}
	// The service forgets its tokens (a restart); the next renewal of
	// the agency credentials is refused once, then gets a new token.
	f.ExpireMetadataTokens()
	now = time.Now().Add(6 * time.Minute)
	if _, err := b.Bind(ctx(t)); err != nil {
		t.Fatal(err)
	}
	reads, tokens := 0, 0
	for _, c := range calls(f, "/") {
		switch {
		case c.Path == "/meta-data/latest/api/token":
			tokens++
		case strings.HasPrefix(c.Path, "/openstack/"):
			reads++
			if !c.MetadataToken {
				t.Errorf("%s read without a token", c.Path)
			}
		}
	}
	if tokens != 2 || reads != 4 {
		t.Errorf("%d token requests and %d reads, want 2 and 4 (network_data.json, securitykey, a refused and a repeated securitykey)", tokens, reads)
	}
	if st := f.State(); st.Rejected != 1 {
		t.Errorf("the fake refused %d requests, want 1 (the stale token)", st.Rejected)
	}
}

// A metadata service without the token API (Nova, older ECS) is read
// without a token.
func TestHuaweiMetadataWithoutTokens(t *testing.T) {
	f, url := newFake(t, func(c *fake.Config) { c.MetadataTokens = fake.TokensUnsupported })
	if _, err := mustProvider(t, huaweiCfg(url), opts(nil)).Binder(inst).Bind(ctx(t)); err != nil {
		t.Fatal(err)
	}
	for _, c := range calls(f, "/openstack/") {
		if c.MetadataToken || c.Status != 200 {
			t.Errorf("%s: status %d, token %v", c.Path, c.Status, c.MetadataToken)
		}
	}
	if got := f.Pairs("vip-port"); !slices.Equal(got, []string{ipA}) {
		t.Fatalf("pairs %v", got)
	}
}

func TestHuaweiWithoutAgency(t *testing.T) {
	_, url := newFake(t, func(c *fake.Config) {
		c.Callers["127.0.0.1"] = fake.Caller{MAC: macA, PortID: "port-a", NoAgency: true}
	})
	c := huaweiCfg(url)
	c.Auth, c.AccessKey, c.SecretKey = config.AuthAgency, "", ""
	_, err := mustProvider(t, c, opts(nil)).Binder(inst).Bind(ctx(t))
	if err == nil || !strings.Contains(err.Error(), "no agency is attached") || !strings.Contains(err.Error(), `cloud.auth = "aksk"`) {
		t.Fatalf("Bind without an agency: %v, want a message saying what to configure", err)
	}
}

func TestHuaweiMetadataModes(t *testing.T) {
	for mode, want := range map[string]string{
		fake.TokensRequired:    cloudbind.MetadataTokenRequired,
		fake.TokensOptional:    cloudbind.MetadataTokenOptional,
		fake.TokensUnsupported: cloudbind.MetadataNoToken,
	} {
		_, url := newFake(t, func(c *fake.Config) { c.MetadataTokens = mode })
		p := mustProvider(t, huaweiCfg(url), opts(nil))
		got, err := p.(cloudbind.MetadataReporter).Metadata(ctx(t))
		if err != nil || got != want {
			t.Errorf("fake %s: %q %v, want %q", mode, got, err, want)
		}
	}
	_, url := newFake(t, nil)
	c := huaweiCfg(url)
	c.PortID = "port-a"
	if got, err := mustProvider(t, c, opts(nil)).(cloudbind.MetadataReporter).Metadata(ctx(t)); got != cloudbind.MetadataUnused || err != nil {
		t.Errorf("port_id and aksk: %q %v, want unused", got, err)
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
	_, err := b.Bind(ctx(t))
	if err == nil || !cloudbind.IsStatus(err, 503) || !strings.Contains(err.Error(), "APIGW.0201") {
		t.Fatalf("Bind: %v, want the gateway's 503", err)
	}
	if n := len(calls(f, "/v1/")); n != 4 {
		t.Errorf("%d API calls, want 4 attempts", n)
	}
}

func TestHuaweiBadSecret(t *testing.T) {
	f, url := newFake(t, nil)
	c := huaweiCfg(url)
	c.SecretKey = "wrong-secret-value"
	_, err := mustProvider(t, c, opts(nil)).Binder(inst).Bind(ctx(t))
	if err == nil || !cloudbind.IsStatus(err, 401) || !strings.Contains(err.Error(), "APIGW.0301: Incorrect IAM authentication information") {
		t.Fatalf("Bind with a wrong secret: %v, want the gateway's 401", err)
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

// A VIP deleted and created again has a new port: the cached ID is
// dropped on 404 and the port found again, unless it is configured.
func TestHuaweiVIPPortCreatedAgain(t *testing.T) {
	f, url := newFake(t, nil)
	b := mustProvider(t, huaweiCfg(url), opts(nil)).Binder(inst)
	if _, err := b.Bind(ctx(t)); err != nil {
		t.Fatal(err)
	}
	f.DeletePort("vip-port")
	f.AddPort(fake.Port{ID: "vip-port-new", NetworkID: "net1", DeviceOwner: "neutron:VIP_PORT", FixedIPs: []string{vip}, Pairs: []string{ipB}})
	if moved, err := b.Bind(ctx(t)); err != nil || !moved {
		t.Fatalf("Bind after the VIP was created again: %v %v", moved, err)
	}
	if got := f.Pairs("vip-port-new"); !slices.Equal(got, []string{ipA}) {
		t.Errorf("new VIP port pairs %v", got)
	}

	c := huaweiCfg(url)
	c.VIPPortID = "vip-port-new"
	configured := mustProvider(t, c, opts(nil)).Binder(inst)
	f.DeletePort("vip-port-new")
	if _, err := configured.Bind(ctx(t)); !cloudbind.IsStatus(err, 404) {
		t.Errorf("Bind with a configured VIP port that is gone: %v, want 404", err)
	}
}

// The same address as a VIP in two VPCs: the VIP port is the one in this
// server's network.
func TestHuaweiVIPPortInOwnNetwork(t *testing.T) {
	f, url := newFake(t, func(c *fake.Config) {
		c.Ports = append(c.Ports, fake.Port{ID: "aaa-other-vpc", NetworkID: "net2", DeviceOwner: "neutron:VIP_PORT",
			FixedIPs: []string{vip}, Pairs: []string{"10.2.0.5"}})
	})
	if _, err := mustProvider(t, huaweiCfg(url), opts(nil)).Binder(inst).Bind(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if got := f.Pairs("vip-port"); !slices.Equal(got, []string{ipA}) {
		t.Errorf("VIP port pairs %v", got)
	}
	if got := f.Pairs("aaa-other-vpc"); !slices.Equal(got, []string{"10.2.0.5"}) {
		t.Errorf("the other VPC's VIP port changed: %v", got)
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

// Inspect reports each member's port, found in a listing of the network
// that takes several pages.
func TestHuaweiInspect(t *testing.T) {
	_, url := newFake(t, func(c *fake.Config) {
		for i := range 250 {
			c.Ports = append(c.Ports, fake.Port{ID: fmt.Sprintf("filler-%03d", i), NetworkID: "net1",
				FixedIPs: []string{fmt.Sprintf("192.168.1.%d", i)}})
		}
		c.Ports[0].Pairs = []string{open}
		c.Ports[2].Pairs = []string{ipA}
	})
	b := mustProvider(t, huaweiCfg(url), opts(nil)).Binder(inst)
	rep, err := b.(cloudbind.Inspector).Inspect(ctx(t), []netip.Addr{netip.MustParseAddr(ipB), netip.MustParseAddr("192.168.0.99")})
	if err != nil {
		t.Fatal(err)
	}
	want := []cloudbind.MemberPort{
		{Addr: netip.MustParseAddr(ipA), Self: true, PortID: "port-a", Open: true, Listed: true},
		{Addr: netip.MustParseAddr(ipB), PortID: "port-b"},
		{Addr: netip.MustParseAddr("192.168.0.99")},
	}
	if !rep.Bound || !slices.Equal(rep.Ports, want) {
		t.Errorf("report %+v, want bound and %+v", rep, want)
	}
}

// A 429 holds back every binder of the provider, not only the one that
// received it.
func TestHuaweiRetryAfterSharedByBinders(t *testing.T) {
	f, url := newFake(t, func(c *fake.Config) {
		c.Ports = append(c.Ports, fake.Port{ID: "vip-port-2", NetworkID: "net1", DeviceOwner: "neutron:VIP_PORT",
			FixedIPs: []string{"192.168.0.101"}})
		c.Ports[0].Pairs = []string{open}
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
