package cloudbind_test

import (
	"bytes"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/havip/havip/cloudbind"
	"github.com/havip/havip/cloudbind/fake"
	"github.com/havip/havip/config"
)

const appSecret = "app-cred-secret-value"

func osFake(t *testing.T, mod func(*fake.Config)) (*fake.Server, string) {
	return newFake(t, func(c *fake.Config) {
		c.Users = map[string]string{"ac1": appSecret, "alice@Default": "alice-password"}
		// The console-style setup: the VIP is listed on node B's port.
		c.Ports[1].Pairs = []string{vip}
		// Plain OpenStack: the VIP is reserved by an unbound port.
		c.Ports[2].DeviceOwner = ""
		c.FloatingIPs = map[string]string{"fip1": "port-b"}
		if mod != nil {
			mod(c)
		}
	})
}

func osCfg(url string) config.Cloud {
	return config.Cloud{
		Provider:                    config.ProviderOpenStack,
		Mode:                        config.ModeExclusive,
		ReconcileInterval:           time.Second,
		CallTimeout:                 2 * time.Second,
		AuthURL:                     url + "/v3",
		MetadataURL:                 url,
		Auth:                        "application_credential",
		ApplicationCredentialID:     "ac1",
		ApplicationCredentialSecret: appSecret,
		FloatingIPPort:              config.FloatingIPOnMaster,
	}
}

func TestOpenStackExclusiveWithFloatingIP(t *testing.T) {
	f, url := osFake(t, nil)
	c := osCfg(url)
	c.FloatingIPID = "fip1"
	var logs bytes.Buffer
	p := mustProvider(t, c, opts(&logs))
	b := p.Binder(inst)
	if bound, err := b.Check(ctx(t)); err != nil || bound {
		t.Fatalf("Check before: %v %v", bound, err)
	}
	moved, err := b.Bind(ctx(t))
	if err != nil || !moved {
		t.Fatalf("Bind: %v %v", moved, err)
	}
	if got := f.Pairs("port-a"); !slices.Equal(got, []string{vip}) {
		t.Errorf("own port pairs %v, want the VIP", got)
	}
	if got := f.Pairs("port-b"); len(got) != 0 {
		t.Errorf("other port pairs %v, want the VIP gone (exclusive)", got)
	}
	if got := f.FloatingIPPort("fip1"); got != "port-a" {
		t.Errorf("floating IP on %q, want port-a", got)
	}
	if bound, err := b.Check(ctx(t)); err != nil || !bound {
		t.Fatalf("Check after: %v %v", bound, err)
	}
	if moved, err := b.Bind(ctx(t)); err != nil || moved {
		t.Fatalf("second Bind: %v %v, want no change", moved, err)
	}
	if err := b.Unbind(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if got := f.Pairs("port-a"); len(got) != 0 {
		t.Errorf("own port pairs %v after Unbind", got)
	}
	if st := f.State(); st.Rejected != 0 {
		t.Errorf("the fake rejected %d requests", st.Rejected)
	}
	if strings.Contains(logs.String(), appSecret) {
		t.Error("the secret is in the log")
	}
	for _, s := range f.State().Secrets {
		if strings.Contains(logs.String(), s) {
			t.Error("a token is in the log")
		}
	}
}

// The usual pattern: the floating IP sits on the port that reserves the
// VIP, associated once; a takeover moves only the allowed address pair.
func TestOpenStackFloatingIPOnVIPPort(t *testing.T) {
	f, url := osFake(t, func(c *fake.Config) { c.FloatingIPs["fip1"] = "" })
	c := osCfg(url)
	c.FloatingIPID, c.FloatingIPPort = "fip1", config.FloatingIPOnVIP
	cb := c
	cb.PortID = "port-b"
	a, b := mustProvider(t, c, opts(nil)).Binder(inst), mustProvider(t, cb, opts(nil)).Binder(inst)
	if moved, err := a.Bind(ctx(t)); err != nil || !moved {
		t.Fatalf("A Bind: %v %v", moved, err)
	}
	if got := f.FloatingIPPort("fip1"); got != "vip-port" {
		t.Fatalf("floating IP on %q, want the VIP's port", got)
	}
	if bound, err := a.Check(ctx(t)); err != nil || !bound {
		t.Errorf("A Check: %v %v", bound, err)
	}
	if moved, err := b.Bind(ctx(t)); err != nil || !moved {
		t.Fatalf("B Bind: %v %v", moved, err)
	}
	if got := f.Pairs("port-b"); !slices.Equal(got, []string{vip}) {
		t.Errorf("B's port pairs %v", got)
	}
	if got := f.Pairs("port-a"); len(got) != 0 {
		t.Errorf("A's port pairs %v, want the VIP gone", got)
	}
	puts := 0
	for _, c := range calls(f, "/neutron/") {
		if c.Method == "PUT" && strings.Contains(c.Path, "/floatingips/") {
			puts++
		}
	}
	if puts != 1 || f.FloatingIPPort("fip1") != "vip-port" {
		t.Errorf("%d floating IP updates, floating IP on %q; want one, on the VIP's port", puts, f.FloatingIPPort("fip1"))
	}
}

// The VIP reserved again has a new port: the cached ID of the old one
// answers 404 when the floating IP is associated with it, is dropped,
// and the next bind finds the new port.
func TestOpenStackFloatingIPReservedPortRecreated(t *testing.T) {
	f, url := osFake(t, func(c *fake.Config) { c.FloatingIPs["fip1"] = "" })
	c := osCfg(url)
	c.FloatingIPID, c.FloatingIPPort = "fip1", config.FloatingIPOnVIP
	b := mustProvider(t, c, opts(nil)).Binder(inst)
	if _, err := b.Bind(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if got := f.FloatingIPPort("fip1"); got != "vip-port" {
		t.Fatalf("floating IP on %q, want the VIP's port", got)
	}
	// Deleting a port disassociates its floating IP (Neutron does), so
	// the next bind has to associate it again.
	f.DeletePort("vip-port")
	if got := f.FloatingIPPort("fip1"); got != "" {
		t.Fatalf("floating IP on %q after its port was deleted, want none", got)
	}
	f.AddPort(fake.Port{ID: "vip-port-new", NetworkID: "net1", FixedIPs: []string{vip}})
	if _, err := b.Bind(ctx(t)); !cloudbind.IsStatus(err, 404) {
		t.Fatalf("Bind with the old port cached: %v, want its 404", err)
	}
	moved, err := b.Bind(ctx(t))
	if err != nil || !moved {
		t.Fatalf("Bind after the 404: %v %v", moved, err)
	}
	if got := f.FloatingIPPort("fip1"); got != "vip-port-new" {
		t.Errorf("floating IP on %q, want the new port", got)
	}
	if bound, err := b.Check(ctx(t)); err != nil || !bound {
		t.Errorf("Check: %v %v", bound, err)
	}
}

// Neutron's refusals to associate a floating IP reach the error, with
// their type and message, and are not retried.
func TestOpenStackFloatingIPRefused(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*fake.Config)
		typ  string
	}{
		{"no router to the external network", func(c *fake.Config) { c.Unrouted = []string{"net1"} }, "ExternalGatewayForFloatingIPNotFound"},
		{"the VIP has a floating IP already", func(c *fake.Config) { c.FloatingIPs["fip0"] = "vip-port" }, "FloatingIPPortAlreadyAssociated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, url := osFake(t, func(c *fake.Config) {
				c.FloatingIPs["fip1"] = ""
				tt.mod(c)
			})
			c := osCfg(url)
			c.FloatingIPID, c.FloatingIPPort = "fip1", config.FloatingIPOnVIP
			_, err := mustProvider(t, c, opts(nil)).Binder(inst).Bind(ctx(t))
			if err == nil || !strings.Contains(err.Error(), tt.typ) {
				t.Fatalf("Bind: %v, want %s", err, tt.typ)
			}
			puts := 0
			for _, c := range calls(f, "/neutron/") {
				if c.Method == "PUT" && strings.Contains(c.Path, "/floatingips/") {
					puts++
				}
			}
			if puts != 1 {
				t.Errorf("%d association attempts, want 1", puts)
			}
			// The allowed address pair moved all the same.
			if got := f.Pairs("port-a"); !slices.Equal(got, []string{vip}) {
				t.Errorf("own port pairs %v", got)
			}
		})
	}
}

func TestOpenStackRevisionConflict(t *testing.T) {
	f, url := osFake(t, nil)
	c := osCfg(url)
	c.Mode = config.ModeShared
	b := mustProvider(t, c, opts(nil)).Binder(inst)
	f.RaceNextUpdate("port-a", "10.9.9.9")
	if _, err := b.Bind(ctx(t)); err != nil {
		t.Fatal(err)
	}
	// The other writer's change survives the read-modify-write.
	if got := f.Pairs("port-a"); !slices.Equal(got, []string{"10.9.9.9", vip}) {
		t.Errorf("own port pairs %v, want the racing writer's address and the VIP", got)
	}
	n412 := 0
	for _, c := range f.State().Calls {
		if c.Status == 412 {
			n412++
		}
	}
	if n412 != 1 {
		t.Errorf("%d answers 412, want 1", n412)
	}
	// Shared mode leaves the other port alone.
	if got := f.Pairs("port-b"); !slices.Equal(got, []string{vip}) {
		t.Errorf("other port pairs %v, want kept", got)
	}
}

// A Neutron without revisions: ports have no revision_number, so no
// If-Match is sent.
func TestOpenStackWithoutRevisions(t *testing.T) {
	f, url := osFake(t, func(c *fake.Config) { c.NoRevisions = true })
	b := mustProvider(t, osCfg(url), opts(nil)).Binder(inst)
	if _, err := b.Bind(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if got := f.Pairs("port-a"); !slices.Equal(got, []string{vip}) {
		t.Errorf("own port pairs %v", got)
	}
	for _, c := range f.State().Calls {
		if c.Status == 412 {
			t.Errorf("%s %s answered 412", c.Method, c.Path)
		}
	}
}

// On a cloud of several regions the configured region's Neutron is used.
func TestOpenStackRegion(t *testing.T) {
	f, url := osFake(t, func(c *fake.Config) {
		c.Regions = []string{"RegionOne", "RegionTwo"}
		for i := range c.Ports {
			c.Ports[i].Region = "RegionTwo"
		}
	})
	c := osCfg(url)
	c.Region = "RegionTwo"
	if _, err := mustProvider(t, c, opts(nil)).Binder(inst).Bind(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if got := f.Pairs("port-a"); !slices.Equal(got, []string{vip}) {
		t.Errorf("own port pairs %v", got)
	}
	for _, c := range calls(f, "/neutron/") {
		if !strings.HasPrefix(c.Path, "/neutron/RegionTwo/") {
			t.Errorf("%s %s: not RegionTwo's Neutron", c.Method, c.Path)
		}
	}
	c.Region = "RegionThree"
	if _, err := mustProvider(t, c, opts(nil)).Binder(inst).Bind(ctx(t)); err == nil || !strings.Contains(err.Error(), `region "RegionThree"`) {
		t.Errorf("unknown region: %v", err)
	}
}

// Exclusive mode finds every port that lists the VIP, however many pages
// the listing takes.
func TestOpenStackExclusiveListsEveryPage(t *testing.T) {
	f, url := osFake(t, func(c *fake.Config) {
		c.PageSize = 1
		c.Ports[1].Pairs = nil
		c.Ports = append(c.Ports, fake.Port{ID: "zz-last", NetworkID: "net1", FixedIPs: []string{"192.168.0.50"}, Pairs: []string{vip}})
	})
	if _, err := mustProvider(t, osCfg(url), opts(nil)).Binder(inst).Bind(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if got := f.Pairs("zz-last"); len(got) != 0 {
		t.Errorf("last page's port pairs %v, want the VIP gone", got)
	}
}

func TestOpenStackPasswordAndTokenRenewal(t *testing.T) {
	f, url := osFake(t, func(c *fake.Config) { c.TokenTTL = 4 * time.Minute })
	c := osCfg(url)
	c.ApplicationCredentialID, c.ApplicationCredentialSecret = "", ""
	c.Auth, c.User, c.Domain, c.Project, c.Password = "password", "alice", "Default", "proj", "alice-password"
	b := mustProvider(t, c, opts(nil)).Binder(inst)
	if _, err := b.Bind(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if n := f.Tokens(); n != 1 {
		t.Fatalf("%d tokens after the first call, want 1", n)
	}
	// The token expires in less than the renewal margin: the next use
	// renews it first.
	if _, err := b.Check(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if n := f.Tokens(); n != 2 {
		t.Errorf("%d tokens, want 2 (renewed before expiry)", n)
	}
}

func TestOpenStackBadCredential(t *testing.T) {
	_, url := osFake(t, nil)
	c := osCfg(url)
	c.ApplicationCredentialSecret = "not-the-secret"
	_, err := mustProvider(t, c, opts(nil)).Binder(inst).Bind(ctx(t))
	if err == nil || !cloudbind.IsStatus(err, 401) {
		t.Fatalf("Bind: %v, want 401", err)
	}
	// Keystone's own words.
	if !strings.Contains(err.Error(), "Unauthorized: The request you have made requires authentication.") {
		t.Errorf("error %q lacks Keystone's message", err)
	}
	if strings.Contains(err.Error(), "not-the-secret") {
		t.Errorf("error shows the secret: %v", err)
	}
}

func TestOpenStackThrottled(t *testing.T) {
	f, url := osFake(t, nil)
	b := mustProvider(t, osCfg(url), opts(nil)).Binder(inst)
	if _, err := b.Check(ctx(t)); err != nil { // authenticate first
		t.Fatal(err)
	}
	f.Inject(fake.Fault{Status: 429, RetryAfter: time.Second, Count: 1})
	f.Inject(fake.Fault{Status: 502, Count: 1})
	start := time.Now()
	if _, err := b.Bind(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < time.Second {
		t.Errorf("bound %v after a 429 with Retry-After: 1", d)
	}
	if st := f.State(); st.Early != 0 {
		t.Errorf("%d requests before Retry-After", st.Early)
	}
}

// Nova's metadata service has no token API: network_data.json is read
// without one.
func TestOpenStackNovaMetadata(t *testing.T) {
	f, url := osFake(t, func(c *fake.Config) { c.MetadataTokens = fake.TokensUnsupported })
	p := mustProvider(t, osCfg(url), opts(nil))
	if _, err := p.Binder(inst).Bind(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if got, err := p.(cloudbind.MetadataReporter).Metadata(ctx(t)); got != cloudbind.MetadataNoToken || err != nil {
		t.Errorf("metadata mode %q %v", got, err)
	}
	if got := f.Pairs("port-a"); !slices.Equal(got, []string{vip}) {
		t.Errorf("own port pairs %v", got)
	}
}

func TestOpenStackInspect(t *testing.T) {
	_, url := osFake(t, nil)
	c := osCfg(url)
	c.FloatingIPID = "fip1"
	b := mustProvider(t, c, opts(nil)).Binder(inst)
	rep, err := b.(cloudbind.Inspector).Inspect(ctx(t), []netip.Addr{netip.MustParseAddr(ipB)})
	if err != nil {
		t.Fatal(err)
	}
	want := []cloudbind.MemberPort{
		{Addr: netip.MustParseAddr(ipA), Self: true, PortID: "port-a"},
		{Addr: netip.MustParseAddr(ipB), PortID: "port-b", Open: true},
	}
	if rep.Bound || !slices.Equal(rep.Ports, want) || len(rep.Notes) != 1 || !strings.Contains(rep.Notes[0], `on port "port-b"`) {
		t.Errorf("report %+v, want not bound, %+v and the floating IP on port-b", rep, want)
	}
}
