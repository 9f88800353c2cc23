package config_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/havip/havip/config"
)

const cloudBase = `[cluster]
name = "c"
insecure = true
peers = ["10.0.0.2:7946"]

[[instance]]
name = "web"
interface = "eth0"
vips = ["10.0.0.100"]
`

func writeSecret(t *testing.T, dir, name, value string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(value+"\n"), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCloudHuawei(t *testing.T) {
	dir := t.TempDir()
	writeSecret(t, dir, "cloud.sk", "very-secret-sk", 0o600)
	conf := cloudBase + `
[cloud]
provider = "huaweicloud"
mode = "shared"
region = "cn-north-4"
project_id = "p1"
access_key = "AK1"
secret_key_file = "cloud.sk"
reconcile_interval = "5s"
`
	cfg, err := config.Parse([]byte(conf), filepath.Join(dir, "havip.toml"))
	if err != nil {
		t.Fatal(err)
	}
	want := config.Cloud{
		Provider:          "huaweicloud",
		Mode:              "shared",
		ReconcileInterval: 5 * time.Second,
		CallTimeout:       10 * time.Second,
		Region:            "cn-north-4",
		Endpoint:          "https://vpc.cn-north-4.myhuaweicloud.com",
		ProjectID:         "p1",
		MetadataURL:       "http://169.254.169.254",
		ManageOwnPort:     true,
		Auth:              "aksk",
		AccessKey:         "AK1",
		SecretKeyFile:     filepath.Join(dir, "cloud.sk"),
		SecretKey:         "very-secret-sk",
		FloatingIPPort:    "master",
		Timeout:           30 * time.Second,
		Retries:           3,
	}
	if diff := cmp.Diff(want, cfg.Cloud); diff != "" {
		t.Errorf("cloud (-want +got):\n%s", diff)
	}
	if s := cfg.Summary(); !strings.Contains(s, "cloud huaweicloud (shared)") || strings.Contains(s, "very-secret-sk") {
		t.Errorf("summary:\n%s", s)
	}
}

func TestCloudSecretRedacted(t *testing.T) {
	s := config.Secret("hunter2")
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "secret", s)
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "secret", s)
	j, _ := json.Marshal(struct{ S config.Secret }{s})
	buf.Write(j)
	fmt.Fprintf(&buf, "%v %s %+v %#v", s, s, s, s)
	if strings.Contains(buf.String(), "hunter2") {
		t.Errorf("secret printed: %s", buf.String())
	}
	if s.Reveal() != "hunter2" {
		t.Errorf("Reveal() = %q", s.Reveal())
	}
}

func TestCloudErrors(t *testing.T) {
	huawei := cloudBase + "\n[cloud]\nprovider = \"huaweicloud\"\nregion = \"cn-north-4\"\nproject_id = \"p\"\naccess_key = \"AK\"\n"
	manyPeers := strings.Replace(cloudBase, `peers = ["10.0.0.2:7946"]`,
		`peers = ["10.0.0.2:1", "10.0.0.2:2", "10.0.0.2:3", "10.0.0.2:4", "10.0.0.2:5", "10.0.0.2:6", "10.0.0.2:7", "10.0.0.2:8", "10.0.0.2:9", "10.0.0.2:10"]`, 1)
	var vips []string
	for i := range 11 {
		vips = append(vips, fmt.Sprintf("%q", fmt.Sprintf("10.0.0.%d", 100+i)))
	}
	manyVIPs := strings.Replace(cloudBase, `vips = ["10.0.0.100"]`, "vips = ["+strings.Join(vips, ", ")+"]", 1)
	agency := "\n[cloud]\nprovider = \"huaweicloud\"\nregion = \"r\"\nproject_id = \"p\"\nauth = \"agency\"\n"
	openstackTable := "\n[cloud]\nprovider = \"openstack\"\nauth_url = \"https://k/v3\"\napplication_credential_id = \"a\"\napplication_credential_secret_file = \"cloud.sk\"\n"
	openstack := cloudBase + openstackTable
	tests := []struct {
		name   string
		conf   string
		mode   os.FileMode // of cloud.sk when not 0
		key    string
		reason string
	}{
		{"unknown provider", cloudBase + "[cloud]\nprovider = \"aws\"\n", 0, "cloud.provider", `unknown provider "aws"`},
		{"unknown mode", huawei + "mode = \"all\"\nsecret_key_file = \"cloud.sk\"\n", 0o600, "cloud.mode", `unknown mode "all"`},
		{"no project", cloudBase + "[cloud]\nprovider = \"huaweicloud\"\nregion = \"r\"\nauth = \"agency\"\n", 0, "cloud.project_id", "is required"},
		{"no region", cloudBase + "[cloud]\nprovider = \"huaweicloud\"\nproject_id = \"p\"\nauth = \"agency\"\n", 0, "cloud.region", "is required"},
		{"no secret file", huawei, 0, "cloud.secret_key_file", "is required with auth"},
		{"secret readable by others", huawei + "secret_key_file = \"cloud.sk\"\n", 0o644, "cloud.secret_key_file", "readable by its owner only"},
		{"secret readable by group", huawei + "secret_key_file = \"cloud.sk\"\n", 0o640, "cloud.secret_key_file", "chmod 600"},
		{"secret missing", huawei + "secret_key_file = \"nope.sk\"\n", 0, "cloud.secret_key_file", "cannot read"},
		{"key of another provider", huawei + "secret_key_file = \"cloud.sk\"\nauth_url = \"https://k:5000/v3\"\n", 0o600, "cloud.auth_url", `is not used with provider "huaweicloud"`},
		{"agency with access key", cloudBase + agency + "access_key = \"AK\"\n", 0, "cloud.access_key", "is not used with auth"},
		{"bad endpoint", cloudBase + agency + "endpoint = \"vpc.example\"\n", 0, "cloud.endpoint", "is not an http:// or https:// URL"},
		{"too many members", manyPeers + agency, 0, "cluster.peers", "at most 10 servers"},
		{"too many VIPs on a NIC", manyVIPs + agency, 0, "instance", "at most 10"},
		{"vip_port_id with two VIPs", strings.Replace(cloudBase, `"10.0.0.100"`, `"10.0.0.100", "10.0.0.101"`, 1) + agency + "vip_port_id = \"x\"\n", 0, "cloud.vip_port_id", "names one VIP port"},
		{"reconcile too often", cloudBase + agency + "reconcile_interval = \"1ms\"\n", 0, "cloud.reconcile_interval", "at least 100ms"},
		{"exec without acquire", cloudBase + "[cloud]\nprovider = \"exec\"\n", 0, "cloud.acquire", "is required"},
		{"openstack without auth", cloudBase + "[cloud]\nprovider = \"openstack\"\nauth_url = \"https://k/v3\"\n", 0, "cloud.application_credential_id", "is required"},
		{"openstack user without password", cloudBase + "[cloud]\nprovider = \"openstack\"\nauth_url = \"https://k/v3\"\nuser = \"u\"\nproject = \"p\"\n", 0, "cloud.password_file", "is required"},
		{"manage_own_port not a bool", cloudBase + agency + "manage_own_port = \"no\"\n", 0, "cloud.manage_own_port", "must be true or false"},
		{"manage_own_port with openstack", cloudBase + "[cloud]\nprovider = \"openstack\"\nauth_url = \"https://k/v3\"\napplication_credential_id = \"a\"\napplication_credential_secret_file = \"cloud.sk\"\nmanage_own_port = false\n", 0o600, "cloud.manage_own_port", `is not used with provider "openstack"`},
		{"floating_ip_port unknown", openstack + "floating_ip_id = \"f\"\nfloating_ip_port = \"eip\"\n", 0o600, "cloud.floating_ip_port", `unknown value "eip"`},
		{"floating_ip_port without a floating IP", openstack + "floating_ip_port = \"vip\"\n", 0o600, "cloud.floating_ip_port", "only applies with cloud.floating_ip_id"},
		{"floating_ip_port vip with two IPv4 VIPs", strings.Replace(cloudBase, `"10.0.0.100"`, `"10.0.0.100", "10.0.0.101"`, 1) + openstackTable + "floating_ip_id = \"f\"\nfloating_ip_port = \"vip\"\n", 0o600, "cloud.floating_ip_port", "the instances have 2"},
		{"floating_ip_port with huaweicloud", cloudBase + agency + "floating_ip_port = \"vip\"\n", 0, "cloud.floating_ip_port", `is not used with provider "huaweicloud"`},
		{"unknown cloud key", cloudBase + "[cloud]\nprovider = \"none\"\nvip_port = \"x\"\n", 0, "", `unknown key "cloud.vip_port"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.mode != 0 {
				writeSecret(t, dir, "cloud.sk", "sk-value", tt.mode)
			}
			path := filepath.Join(dir, "havip.toml")
			_, err := config.Parse([]byte(tt.conf), path)
			if err == nil {
				t.Fatalf("Parse succeeded, want an error at %q: %s", tt.key, tt.reason)
			}
			if strings.Contains(err.Error(), "sk-value") {
				t.Errorf("error shows the secret: %v", err)
			}
			var errs config.Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Parse: %T %v", err, err)
			}
			for _, e := range errs {
				if e.Key == tt.key && strings.Contains(e.Msg, tt.reason) {
					return
				}
			}
			t.Errorf("no error at %q containing %q in:\n%v", tt.key, tt.reason, err)
		})
	}
}

func TestCloudWarnsAboveEightVIPs(t *testing.T) {
	var vips []string
	for i := range 9 {
		vips = append(vips, fmt.Sprintf("%q", fmt.Sprintf("10.0.0.%d", 100+i)))
	}
	conf := strings.Replace(cloudBase, `vips = ["10.0.0.100"]`, "vips = ["+strings.Join(vips, ", ")+"]", 1) +
		"\n[cloud]\nprovider = \"huaweicloud\"\nregion = \"r\"\nproject_id = \"p\"\nauth = \"agency\"\n"
	cfg, err := config.Parse([]byte(conf), "havip.toml")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Warnings) != 1 || !strings.Contains(cfg.Warnings[0], "9 VIPs") {
		t.Errorf("warnings %q, want one about 9 VIPs", cfg.Warnings)
	}
}

func TestCloudOpenStack(t *testing.T) {
	dir := t.TempDir()
	writeSecret(t, dir, "app.secret", "app-secret", 0o600)
	conf := cloudBase + `
[cloud]
provider = "openstack"
auth_url = "https://keystone.example:5000/v3"
application_credential_id = "ac1"
application_credential_secret_file = "app.secret"
floating_ip_id = "fip1"
`
	cfg, err := config.Parse([]byte(conf), filepath.Join(dir, "havip.toml"))
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Cloud
	if c.Auth != "application_credential" || c.ApplicationCredentialSecret.Reveal() != "app-secret" || c.FloatingIPID != "fip1" ||
		c.Mode != "exclusive" || c.FloatingIPPort != config.FloatingIPOnMaster || c.Region != "" {
		t.Errorf("cloud %+v", c)
	}

	// A region of the catalog, and the floating IP on the VIP's port.
	conf += "region = \"RegionTwo\"\nfloating_ip_port = \"vip\"\n"
	if cfg, err = config.Parse([]byte(conf), filepath.Join(dir, "havip.toml")); err != nil {
		t.Fatal(err)
	}
	if c := cfg.Cloud; c.Region != "RegionTwo" || c.FloatingIPPort != config.FloatingIPOnVIP || c.Endpoint != "" {
		t.Errorf("cloud %+v", c)
	}
}

func TestCloudManageOwnPort(t *testing.T) {
	conf := cloudBase + "\n[cloud]\nprovider = \"huaweicloud\"\nregion = \"r\"\nproject_id = \"p\"\nauth = \"agency\"\n"
	for _, tt := range []struct {
		line string
		want bool
	}{{"", true}, {"manage_own_port = false\n", false}, {"manage_own_port = true\n", true}} {
		cfg, err := config.Parse([]byte(conf+tt.line), "havip.toml")
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Cloud.ManageOwnPort != tt.want {
			t.Errorf("%q: manage_own_port %v, want %v", tt.line, cfg.Cloud.ManageOwnPort, tt.want)
		}
	}
}

// TestReferenceCloudKeys checks that every [cloud] key commented out in
// reference.toml is a key the schema knows, with a value of the right
// type, so the reference cannot drift from the code.
func TestReferenceCloudKeys(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "examples", "reference.toml"))
	if err != nil {
		t.Fatal(err)
	}
	in, n := false, 0
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "[") {
			in = line == "[cloud]"
		}
		if !in || !commentedKey.MatchString(line) {
			continue
		}
		n++
		kv := strings.TrimPrefix(line, "# ")
		conf := cloudBase + "\n[cloud]\nprovider = \"none\"\n" + kv + "\n"
		_, err := config.ParseWithOptions([]byte(conf), "havip.toml", config.ParseOptions{SkipKeyFile: true})
		if err == nil && (strings.HasPrefix(kv, "reconcile_interval") || strings.HasPrefix(kv, "call_timeout")) {
			continue // taken whatever the provider
		}
		if err == nil || !strings.Contains(err.Error(), "is not used with provider") || strings.Count(err.Error(), "\n") > 0 {
			t.Errorf("%s: %v, want only \"is not used with provider\"", kv, err)
		}
	}
	if n < 20 {
		t.Errorf("found %d commented [cloud] keys in reference.toml, want every key", n)
	}
}

func TestCloudWarnsAboutThrottling(t *testing.T) {
	conf := cloudBase + "\n[cloud]\nprovider = \"huaweicloud\"\nregion = \"r\"\nproject_id = \"p\"\nauth = \"agency\"\nreconcile_interval = \"1s\"\n"
	cfg, err := config.Parse([]byte(conf), "havip.toml")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Warnings) != 1 || !strings.Contains(cfg.Warnings[0], "330 calls per 5 minutes") {
		t.Errorf("warnings %q; want 300 reads of the binding and 30 of the own port", cfg.Warnings)
	}
	cfg, err = config.Parse([]byte(conf+"manage_own_port = false\n"), "havip.toml")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Warnings) != 1 || !strings.Contains(cfg.Warnings[0], "300 calls per 5 minutes") {
		t.Errorf("warnings %q without manage_own_port; want 300 calls", cfg.Warnings)
	}
}
