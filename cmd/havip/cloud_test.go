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

func TestCheckCloud(t *testing.T) {
	f := fake.New(fake.Config{
		ProjectID: "p1",
		Keys:      map[string]string{"AK1": "the-secret-key"},
		Ports: []fake.Port{
			{ID: "port-a", FixedIPs: []string{"198.18.0.10"}},
			{ID: "vip", DeviceOwner: "neutron:VIP_PORT", FixedIPs: []string{"198.18.0.100"}, Pairs: []string{"198.18.0.11"}},
		},
	})
	srv := httptest.NewServer(f.Handler())
	defer srv.Close()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "cloud.sk"), []byte("the-secret-key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cloud := fmt.Sprintf("[cloud]\nprovider = \"huaweicloud\"\nendpoint = %q\nproject_id = \"p1\"\naccess_key = \"AK1\"\n"+
		"secret_key_file = \"cloud.sk\"\nport_id = \"port-a\"\nmetadata_url = %q\n", srv.URL, srv.URL)
	path := filepath.Join(dir, "havip.toml")
	if err := os.WriteFile(path, []byte(goodConfig+cloud), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"check", "--cloud", "--no-host", "--config", path}, &out, &errb); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "cloud: instance web: credentials and ports OK; bound to this server: no") {
		t.Errorf("output:\n%s", out.String())
	}
	if got := f.Pairs("vip"); len(got) != 1 || got[0] != "198.18.0.11" {
		t.Errorf("check changed the binding: %v", got)
	}

	// Wrong key: exit 1, and the message does not show it.
	if err := os.WriteFile(filepath.Join(dir, "cloud.sk"), []byte("wrong-key-value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	errb.Reset()
	if code := run([]string{"check", "--cloud", "--no-host", "--config", path}, &out, &errb); code != 1 {
		t.Fatalf("exit %d with a wrong key, want 1\n%s%s", code, out.String(), errb.String())
	}
	if !strings.Contains(errb.String(), "401") || strings.Contains(out.String()+errb.String(), "wrong-key-value") {
		t.Errorf("stderr:\n%s", errb.String())
	}
}
