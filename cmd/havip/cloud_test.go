package main

import (
	"bytes"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/havip/havip/cloudbind/fake"
)

// cloudCheck writes a configuration with two peers and the [cloud] table
// given (%[1]s is the fake's URL) and runs `havip check --cloud`.
func cloudCheck(t *testing.T, f *fake.Server, dir, cloud string) (int, string, string) {
	t.Helper()
	srv := httptest.NewServer(f.Handler())
	t.Cleanup(srv.Close)
	conf := strings.Replace(goodConfig, `insecure = true`, `insecure = true
peers = ["198.18.0.11:7946", "peer-c.example:7946"]`, 1) + fmt.Sprintf(cloud, srv.URL)
	path := filepath.Join(dir, "havip.toml")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := run([]string{"check", "--cloud", "--no-host", "--config", path}, &out, &errb)
	return code, out.String(), errb.String()
}

func cloudFake(mod func(*fake.Config)) *fake.Server {
	cfg := fake.Config{
		ProjectID: "p1",
		Keys:      map[string]string{"AK1": "the-secret-key"},
		Ports: []fake.Port{
			{ID: "port-a", NetworkID: "n1", FixedIPs: []string{"198.18.0.10"}, Pairs: []string{"1.1.1.1/0"}},
			{ID: "port-b", NetworkID: "n1", FixedIPs: []string{"198.18.0.11"}},
			{ID: "vip", NetworkID: "n1", DeviceOwner: "neutron:VIP_PORT", FixedIPs: []string{"198.18.0.100"}, Pairs: []string{"198.18.0.11"}},
		},
		Callers: map[string]fake.Caller{"127.0.0.1": {MAC: "fa:16:3e:00:00:0a", PortID: "port-a"}},
	}
	if mod != nil {
		mod(&cfg)
	}
	return fake.New(cfg)
}

func TestCheckCloud(t *testing.T) {
	f := cloudFake(nil)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "cloud.sk"), []byte("the-secret-key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cloud := "[cloud]\nprovider = \"huaweicloud\"\nendpoint = %[1]q\nproject_id = \"p1\"\naccess_key = \"AK1\"\n" +
		"secret_key_file = \"cloud.sk\"\nport_id = \"port-a\"\nmetadata_url = %[1]q\n"
	code, out, errs := cloudCheck(t, f, dir, cloud)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{
		"cloud: metadata service: not used (port_id set, credentials from the file)",
		"cloud: peer peer-c.example:7946 is not an IP address; its port is not checked",
		"cloud: instance web: credentials and ports OK; bound to this server: no",
		"cloud: instance web: 198.18.0.10 (this server): port port-a, source/destination check off, the VIP port does not list it",
		"cloud: instance web: 198.18.0.11: port port-b, source/destination check ON",
		"198.18.0.11: port port-b, source/destination check ON: its NIC drops the VIPs' traffic until havip binds there (manage_own_port) or you turn the check off, the VIP port lists it",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "warning") {
		t.Errorf("a warning with this server's port open:\n%s", out)
	}
	if got := f.Pairs("vip"); len(got) != 1 || got[0] != "198.18.0.11" {
		t.Errorf("check changed the binding: %v", got)
	}
	if got := f.Pairs("port-b"); len(got) != 0 {
		t.Errorf("check changed a member's port: %v", got)
	}

	// Wrong key: exit 1, and the message does not show it.
	if err := os.WriteFile(filepath.Join(dir, "cloud.sk"), []byte("wrong-key-value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs = cloudCheck(t, f, dir, cloud)
	if code != 1 {
		t.Fatalf("exit %d with a wrong key, want 1\n%s%s", code, out, errs)
	}
	if !strings.Contains(errs, "401") || strings.Contains(out+errs, "wrong-key-value") {
		t.Errorf("stderr:\n%s", errs)
	}

	// With manage_own_port = false nobody opens the ports but the
	// operator: the advice says so, and this server's closed port is a
	// warning (the exit code stays 0).
	cloud = "[cloud]\nprovider = \"huaweicloud\"\nendpoint = %[1]q\nproject_id = \"p1\"\naccess_key = \"AK1\"\n" +
		"secret_key_file = \"cloud.sk\"\nport_id = \"port-a\"\nmetadata_url = %[1]q\nmanage_own_port = false\n"
	for _, tt := range []struct {
		name    string
		ownOpen bool
		want    []string
		notWant []string
	}{
		{"own port closed", false, []string{
			"cloud: instance web: credentials and ports OK; bound to this server: no",
			"cloud: instance web: 198.18.0.10 (this server): port port-a, source/destination check ON: its NIC drops the VIPs' traffic; manage_own_port = false, so turn the check off on that NIC yourself, the VIP port does not list it",
			"cloud: instance web: 198.18.0.11: port port-b, source/destination check ON: its NIC drops the VIPs' traffic; manage_own_port = false, so turn the check off on that NIC yourself, the VIP port lists it",
			"cloud: warning: instance web: this server's port port-a has its source/destination check on and manage_own_port = false: as master this server would not get the VIPs' traffic; turn the check off",
		}, []string{"until havip binds there"}},
		{"own port open", true, []string{
			"cloud: instance web: 198.18.0.10 (this server): port port-a, source/destination check off",
		}, []string{"warning", "until havip binds there"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := cloudFake(func(c *fake.Config) {
				if !tt.ownOpen {
					c.Ports[0].Pairs = nil
				}
			})
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "cloud.sk"), []byte("the-secret-key\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			code, out, errs := cloudCheck(t, f, dir, cloud)
			if code != 0 {
				t.Fatalf("exit %d, want 0\n%s%s", code, out, errs)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(out+errs, w) {
					t.Errorf("output has %q:\n%s%s", w, out, errs)
				}
			}
			if got := f.Pairs("port-a"); (len(got) == 1) != tt.ownOpen {
				t.Errorf("check changed this server's port: %v", got)
			}
		})
	}
}

// An agency on a server whose metadata service requires tokens.
func TestCheckCloudMetadataTokens(t *testing.T) {
	for mode, want := range map[string]string{
		fake.TokensRequired:    "cloud: metadata service: tokens required (http_tokens = required); havip gets one and sends it on every read",
		fake.TokensOptional:    "cloud: metadata service: tokens offered, not required; havip gets one and sends it on every read",
		fake.TokensUnsupported: "cloud: metadata service: no token API; havip reads it without a token",
	} {
		f := cloudFake(func(c *fake.Config) { c.MetadataTokens = mode })
		cloud := "[cloud]\nprovider = \"huaweicloud\"\nendpoint = %[1]q\nproject_id = \"p1\"\nauth = \"agency\"\n" +
			"port_id = \"port-a\"\nmetadata_url = %[1]q\n"
		code, out, errs := cloudCheck(t, f, t.TempDir(), cloud)
		if code != 0 || !strings.Contains(out, want) || !strings.Contains(out, "credentials and ports OK") {
			t.Errorf("%s: exit %d, want 0 and %q\n%s%s", mode, code, want, out, errs)
		}
	}
}

func TestCheckCloudWithoutAgency(t *testing.T) {
	f := cloudFake(func(c *fake.Config) {
		c.Callers["127.0.0.1"] = fake.Caller{MAC: "fa:16:3e:00:00:0a", PortID: "port-a", NoAgency: true}
	})
	cloud := "[cloud]\nprovider = \"huaweicloud\"\nendpoint = %[1]q\nproject_id = \"p1\"\nauth = \"agency\"\n" +
		"port_id = \"port-a\"\nmetadata_url = %[1]q\n"
	code, out, errs := cloudCheck(t, f, t.TempDir(), cloud)
	if code != 1 || !strings.Contains(errs, "no agency is attached to this server") {
		t.Errorf("exit %d, want 1 and what to configure\n%s%s", code, out, errs)
	}
}
