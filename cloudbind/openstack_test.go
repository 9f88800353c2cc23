package cloudbind_test

import (
	"bytes"
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
