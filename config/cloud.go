package config

import (
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"
)

// Cloud providers.
const (
	ProviderNone        = "none"
	ProviderExec        = "exec"
	ProviderOpenStack   = "openstack"
	ProviderHuaweiCloud = "huaweicloud"
)

// Cloud binding modes.
const (
	// ModeExclusive makes the master the only server the cloud forwards a
	// VIP to.
	ModeExclusive = "exclusive"
	// ModeShared makes sure the master is among the servers; others stay.
	ModeShared = "shared"
)

// Where an OpenStack floating IP goes (cloud.floating_ip_port).
const (
	// FloatingIPOnMaster moves the floating IP to the master's own port
	// on each takeover: it reaches the master's own address.
	FloatingIPOnMaster = "master"
	// FloatingIPOnVIP associates the floating IP once with the port that
	// reserves the VIP: it reaches the VIP wherever it is.
	FloatingIPOnVIP = "vip"
)

// Huawei Cloud credential sources.
const (
	AuthAKSK   = "aksk"
	AuthAgency = "agency"
)

// Limits of the cloud VIP feature, from the providers' documentation.
const (
	// MaxNICsPerVIP is the most NICs one cloud VIP can be bound to.
	MaxNICsPerVIP = 10
	// MaxVIPsPerNIC is the most VIPs one NIC can carry.
	MaxVIPsPerNIC = 10
	// WarnVIPsPerServer is the count above which a warning is given.
	WarnVIPsPerServer = 8
)

// DefaultMetadataURL is the cloud metadata service.
const DefaultMetadataURL = "http://169.254.169.254"

// Secret is a credential read from a file. It prints, logs and marshals
// as "[redacted]"; Reveal returns the value.
type Secret string

const redacted = "[redacted]"

// Reveal returns the secret itself.
func (s Secret) Reveal() string { return string(s) }

func (s Secret) String() string   { return redacted }
func (s Secret) GoString() string { return `"` + redacted + `"` }

// LogValue keeps the secret out of structured logs.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText keeps the secret out of JSON and TOML output.
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// Cloud configures the binding of VIPs through a cloud API ([cloud]).
type Cloud struct {
	// Provider is none, exec, openstack or huaweicloud.
	Provider string
	// Mode is exclusive or shared (openstack, huaweicloud).
	Mode string
	// ReconcileInterval is how often the master re-checks its binding.
	ReconcileInterval time.Duration
	// CallTimeout bounds every API call (each attempt).
	CallTimeout time.Duration

	// Region gives Huawei Cloud's default endpoint; for openstack it
	// picks the region's Neutron in the Keystone catalog.
	Region string
	// Endpoint is the API's base URL: Huawei VPC, or Neutron for
	// openstack (empty: from the Keystone catalog).
	Endpoint  string
	ProjectID string
	// VIPPortID is the VIP's port; empty: found by the VIP address.
	VIPPortID string
	// PortID is this server's NIC port; empty: found from metadata.
	PortID      string
	MetadataURL string
	// ManageOwnPort turns the source/destination check of this server's
	// port off when binding (huaweicloud); false leaves the port to the
	// operator.
	ManageOwnPort bool

	// Auth is aksk or agency (huaweicloud); password or
	// application_credential (openstack, derived from the keys given).
	Auth          string
	AccessKey     string
	SecretKeyFile string
	SecretKey     Secret

	// OpenStack Keystone.
	AuthURL                         string
	ApplicationCredentialID         string
	ApplicationCredentialSecretFile string
	ApplicationCredentialSecret     Secret
	User                            string
	Domain                          string
	Project                         string
	PasswordFile                    string
	Password                        Secret
	FloatingIPID                    string
	// FloatingIPPort is FloatingIPOnMaster or FloatingIPOnVIP.
	FloatingIPPort string

	// exec
	Acquire []string
	Release []string
	// Timeout bounds one run of an exec command.
	Timeout time.Duration
	// Retries is how many times a failed exec command is run again.
	Retries int
}

// Enabled reports whether a provider is configured.
func (c Cloud) Enabled() bool { return c.Provider != "" && c.Provider != ProviderNone }

// HuaweiEndpoint is the VPC endpoint of a Huawei Cloud region.
func HuaweiEndpoint(region string) string {
	return "https://vpc." + region + ".myhuaweicloud.com"
}

type rawCloud struct {
	Provider          optString   `toml:"provider"`
	Mode              optString   `toml:"mode"`
	ReconcileInterval optDuration `toml:"reconcile_interval"`
	CallTimeout       optDuration `toml:"call_timeout"`

	Region        optString `toml:"region"`
	Endpoint      optString `toml:"endpoint"`
	ProjectID     optString `toml:"project_id"`
	VIPPortID     optString `toml:"vip_port_id"`
	PortID        optString `toml:"port_id"`
	MetadataURL   optString `toml:"metadata_url"`
	ManageOwnPort optBool   `toml:"manage_own_port"`
	Auth          optString `toml:"auth"`
	AccessKey     optString `toml:"access_key"`
	SecretKeyFile optString `toml:"secret_key_file"`

	AuthURL                         optString `toml:"auth_url"`
	ApplicationCredentialID         optString `toml:"application_credential_id"`
	ApplicationCredentialSecretFile optString `toml:"application_credential_secret_file"`
	User                            optString `toml:"user"`
	Domain                          optString `toml:"domain"`
	Project                         optString `toml:"project"`
	PasswordFile                    optString `toml:"password_file"`
	FloatingIPID                    optString `toml:"floating_ip_id"`
	FloatingIPPort                  optString `toml:"floating_ip_port"`

	Acquire optStrings  `toml:"acquire"`
	Release optStrings  `toml:"release"`
	Timeout optDuration `toml:"timeout"`
	Retries optInt      `toml:"retries"`
}

// DefaultCloud is the [cloud] table of a file that has none: provider
// none, with the defaults of the other keys.
func DefaultCloud() Cloud {
	var r rawCloud
	applyCloudDefaults(&r)
	return Cloud{
		Provider:          r.Provider.val,
		Mode:              r.Mode.val,
		ReconcileInterval: r.ReconcileInterval.val,
		CallTimeout:       r.CallTimeout.val,
		MetadataURL:       r.MetadataURL.val,
		ManageOwnPort:     r.ManageOwnPort.val,
		FloatingIPPort:    r.FloatingIPPort.val,
		Timeout:           r.Timeout.val,
		Retries:           r.Retries.val,
	}
}

func applyCloudDefaults(r *rawCloud) {
	r.Provider.setDefault(ProviderNone)
	r.Mode.setDefault(ModeExclusive)
	r.ReconcileInterval.setDefault(30 * time.Second)
	r.CallTimeout.setDefault(10 * time.Second)
	r.MetadataURL.setDefault(DefaultMetadataURL)
	r.ManageOwnPort.setDefault(true)
	r.FloatingIPPort.setDefault(FloatingIPOnMaster)
	r.Timeout.setDefault(30 * time.Second)
	r.Retries.setDefault(3)
}

// buildCloud checks [cloud] and fills cfg.Cloud. It runs after the
// cluster and the instances are built, for the limits.
func buildCloud(f *rawFile, cfg *Config, dir string, opts ParseOptions, c *collector) {
	r := &f.Cloud
	out := &cfg.Cloud
	key := func(k string) string { return "cloud." + k }
	str := func(k string, o *optString, dst *string) bool {
		if !c.valid(key(k), o.problem) {
			return false
		}
		*dst = strings.TrimSpace(o.val)
		return true
	}

	var provider string
	if str("provider", &r.Provider, &provider) {
		switch provider {
		case ProviderNone, ProviderExec, ProviderOpenStack, ProviderHuaweiCloud:
			out.Provider = provider
		default:
			c.add(key("provider"), "unknown provider %q (want %s)", provider,
				orList([]string{ProviderNone, ProviderExec, ProviderOpenStack, ProviderHuaweiCloud}))
			return
		}
	} else {
		return
	}
	if str("mode", &r.Mode, &out.Mode) && out.Mode != ModeExclusive && out.Mode != ModeShared {
		c.add(key("mode"), "unknown mode %q (want %s)", out.Mode, orList([]string{ModeExclusive, ModeShared}))
	}
	if c.valid(key("reconcile_interval"), r.ReconcileInterval.problem) {
		if v := r.ReconcileInterval.val; v < 100*time.Millisecond {
			c.add(key("reconcile_interval"), "must be at least 100ms, not %s", v)
		}
		out.ReconcileInterval = r.ReconcileInterval.val
	}
	if c.valid(key("call_timeout"), r.CallTimeout.problem) {
		if v := r.CallTimeout.val; v < 10*time.Millisecond || v > 5*time.Minute {
			c.add(key("call_timeout"), "must be 10ms..5m, not %s", v)
		}
		out.CallTimeout = r.CallTimeout.val
	}
	if c.valid(key("timeout"), r.Timeout.problem) {
		if v := r.Timeout.val; v < 10*time.Millisecond || v > 10*time.Minute {
			c.add(key("timeout"), "must be 10ms..10m, not %s", v)
		}
		out.Timeout = r.Timeout.val
	}
	if c.valid(key("retries"), r.Retries.problem) {
		if v := r.Retries.val; v < 0 || v > 100 {
			c.add(key("retries"), "must be 0..100, not %d", v)
		}
		out.Retries = r.Retries.val
	}

	strs := []struct {
		name string
		raw  *optString
		dst  *string
	}{
		{"region", &r.Region, &out.Region},
		{"endpoint", &r.Endpoint, &out.Endpoint},
		{"project_id", &r.ProjectID, &out.ProjectID},
		{"vip_port_id", &r.VIPPortID, &out.VIPPortID},
		{"port_id", &r.PortID, &out.PortID},
		{"metadata_url", &r.MetadataURL, &out.MetadataURL},
		{"auth", &r.Auth, &out.Auth},
		{"access_key", &r.AccessKey, &out.AccessKey},
		{"secret_key_file", &r.SecretKeyFile, &out.SecretKeyFile},
		{"auth_url", &r.AuthURL, &out.AuthURL},
		{"application_credential_id", &r.ApplicationCredentialID, &out.ApplicationCredentialID},
		{"application_credential_secret_file", &r.ApplicationCredentialSecretFile, &out.ApplicationCredentialSecretFile},
		{"user", &r.User, &out.User},
		{"domain", &r.Domain, &out.Domain},
		{"project", &r.Project, &out.Project},
		{"password_file", &r.PasswordFile, &out.PasswordFile},
		{"floating_ip_id", &r.FloatingIPID, &out.FloatingIPID},
		{"floating_ip_port", &r.FloatingIPPort, &out.FloatingIPPort},
	}
	set := map[string]bool{}
	for _, s := range strs {
		str(s.name, s.raw, s.dst)
		if s.raw.set {
			set[s.name] = true
		}
	}
	if c.valid(key("acquire"), r.Acquire.problem) && r.Acquire.set {
		out.Acquire = r.Acquire.val
		set["acquire"] = true
	}
	if c.valid(key("release"), r.Release.problem) && r.Release.set {
		out.Release = r.Release.val
		set["release"] = true
	}
	if c.valid(key("manage_own_port"), r.ManageOwnPort.problem) {
		out.ManageOwnPort = r.ManageOwnPort.val
		set["manage_own_port"] = r.ManageOwnPort.set
	}
	set["timeout"] = r.Timeout.set
	set["retries"] = r.Retries.set
	set["mode"] = r.Mode.set
	for k, v := range set {
		if !v {
			delete(set, k)
		}
	}
	out.SecretKeyFile = resolveIf(dir, out.SecretKeyFile)
	out.ApplicationCredentialSecretFile = resolveIf(dir, out.ApplicationCredentialSecretFile)
	out.PasswordFile = resolveIf(dir, out.PasswordFile)

	// Which keys each provider reads; a key set for another provider is
	// a mistake worth reporting.
	uses := map[string][]string{
		ProviderNone: {},
		ProviderExec: {"acquire", "release", "timeout", "retries"},
		ProviderHuaweiCloud: {"mode", "region", "endpoint", "project_id", "vip_port_id", "port_id",
			"metadata_url", "manage_own_port", "auth", "access_key", "secret_key_file"},
		ProviderOpenStack: {"mode", "region", "endpoint", "project_id", "vip_port_id", "port_id", "metadata_url",
			"auth_url", "application_credential_id", "application_credential_secret_file",
			"user", "domain", "project", "password_file", "floating_ip_id", "floating_ip_port"},
	}
	allowed := map[string]bool{}
	for _, k := range uses[provider] {
		allowed[k] = true
	}
	for _, k := range sortedSet(set) {
		if !allowed[k] {
			c.add(key(k), "is not used with provider %q", provider)
		}
	}

	checkURL := func(k, v string) {
		if v == "" {
			return
		}
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			c.add(key(k), "%q is not an http:// or https:// URL", v)
		}
	}
	checkURL("endpoint", out.Endpoint)
	checkURL("auth_url", out.AuthURL)
	if provider == ProviderHuaweiCloud || provider == ProviderOpenStack {
		checkURL("metadata_url", out.MetadataURL)
	}

	secret := func(k, path string, dst *Secret) {
		if path == "" || opts.SkipKeyFile {
			return
		}
		v, problems := readSecretFile(path)
		for _, p := range problems {
			c.add(key(k), "%s", p)
		}
		*dst = Secret(v)
	}

	switch provider {
	case ProviderExec:
		if len(out.Acquire) == 0 {
			c.add(key("acquire"), "is required with provider %q: the command (argv, no shell) that binds the VIPs to this server", provider)
		}
	case ProviderHuaweiCloud:
		if out.Auth == "" {
			out.Auth = AuthAKSK
		}
		if out.Region == "" && out.Endpoint == "" {
			c.add(key("region"), "is required with provider %q (or set cloud.endpoint)", provider)
		}
		if out.Endpoint == "" && out.Region != "" {
			if !validRegion(out.Region) {
				c.add(key("region"), "%q is not a region name such as \"cn-north-4\"", out.Region)
			} else {
				out.Endpoint = HuaweiEndpoint(out.Region)
			}
		}
		if out.ProjectID == "" {
			c.add(key("project_id"), "is required with provider %q", provider)
		}
		switch out.Auth {
		case AuthAKSK:
			if out.AccessKey == "" {
				c.add(key("access_key"), "is required with auth = %q", AuthAKSK)
			}
			if out.SecretKeyFile == "" {
				c.add(key("secret_key_file"), "is required with auth = %q: a file (mode 0600) holding the secret key", AuthAKSK)
			}
			secret("secret_key_file", out.SecretKeyFile, &out.SecretKey)
		case AuthAgency:
			for _, k := range []string{"access_key", "secret_key_file"} {
				if set[k] {
					c.add(key(k), "is not used with auth = %q (the agency's temporary credentials come from the metadata service)", AuthAgency)
				}
			}
		default:
			c.add(key("auth"), "unknown auth %q (want %s)", out.Auth, orList([]string{AuthAKSK, AuthAgency}))
		}
	case ProviderOpenStack:
		if out.AuthURL == "" {
			c.add(key("auth_url"), "is required with provider %q (Keystone v3, such as \"https://keystone.example:5000/v3\")", provider)
		}
		switch {
		case out.ApplicationCredentialID != "":
			out.Auth = "application_credential"
			if out.ApplicationCredentialSecretFile == "" {
				c.add(key("application_credential_secret_file"), "is required with application_credential_id")
			}
			for _, k := range []string{"user", "password_file"} {
				if set[k] {
					c.add(key(k), "cannot be combined with application_credential_id")
				}
			}
			secret("application_credential_secret_file", out.ApplicationCredentialSecretFile, &out.ApplicationCredentialSecret)
		case out.User != "":
			out.Auth = "password"
			if out.PasswordFile == "" {
				c.add(key("password_file"), "is required with cloud.user")
			}
			if out.Project == "" && out.ProjectID == "" {
				c.add(key("project"), "is required with cloud.user (or set cloud.project_id)")
			}
			if out.Domain == "" {
				out.Domain = "Default"
			}
			secret("password_file", out.PasswordFile, &out.Password)
		default:
			c.add(key("application_credential_id"), "is required with provider %q (or set cloud.user and cloud.password_file)", provider)
		}
		checkFloatingIP(cfg, set, c)
	}

	if !out.Enabled() || provider == ProviderExec {
		return
	}
	// The documented limits of cloud VIPs.
	if n := cfg.Cluster.Size(); n > MaxNICsPerVIP {
		c.add("cluster.peers", "%d members: with cloud.provider %q one VIP can be bound to at most %d servers", n, provider, MaxNICsPerVIP)
	}
	perNIC := map[string]int{}
	total := 0
	for _, in := range cfg.Instances {
		perNIC[in.Interface] += len(in.VIPs)
		total += len(in.VIPs)
	}
	for _, in := range cfg.Instances {
		if n := perNIC[in.Interface]; n > MaxVIPsPerNIC {
			c.add("instance", "%d VIPs on interface %s: with cloud.provider %q one NIC can carry at most %d", n, in.Interface, provider, MaxVIPsPerNIC)
			perNIC[in.Interface] = 0
		}
	}
	if provider == ProviderHuaweiCloud && out.ReconcileInterval > 0 {
		// Each master instance reads its binding once per interval,
		// and, with manage_own_port, its own port every tenth.
		reads := int(5 * time.Minute / out.ReconcileInterval)
		if out.ManageOwnPort {
			reads += reads / 10
		}
		per5m := reads * max(len(cfg.Instances), 1)
		if per5m > 100 {
			cfg.Warnings = append(cfg.Warnings, fmt.Sprintf("cloud.reconcile_interval %s: up to %d calls per 5 minutes from this server; Huawei Cloud throttles around 200 per account", out.ReconcileInterval, per5m))
		}
	}
	if total > WarnVIPsPerServer {
		cfg.Warnings = append(cfg.Warnings, fmt.Sprintf("%d VIPs on this server: the cloud advises at most %d", total, WarnVIPsPerServer))
	}
	if out.VIPPortID != "" && total > 1 {
		c.add(key("vip_port_id"), "names one VIP port, but the instances have %d VIPs; leave it empty to find each VIP's port by its address", total)
	}
}

// checkFloatingIP checks cloud.floating_ip_port: master or vip, with a
// floating IP to place; vip needs the one IPv4 VIP whose port it goes to.
func checkFloatingIP(cfg *Config, set map[string]bool, c *collector) {
	out := &cfg.Cloud
	switch out.FloatingIPPort {
	case FloatingIPOnMaster, FloatingIPOnVIP:
	default:
		c.add("cloud.floating_ip_port", "unknown value %q (want %s)", out.FloatingIPPort,
			orList([]string{FloatingIPOnMaster, FloatingIPOnVIP}))
		return
	}
	if set["floating_ip_port"] && out.FloatingIPID == "" {
		c.add("cloud.floating_ip_port", "only applies with cloud.floating_ip_id")
		return
	}
	if out.FloatingIPPort != FloatingIPOnVIP || out.FloatingIPID == "" {
		return
	}
	v4 := 0
	for _, a := range cfg.VIPAddrs() {
		if a.Is4() {
			v4++
		}
	}
	if v4 != 1 {
		c.add("cloud.floating_ip_port", "%q puts the floating IP on the port of one IPv4 VIP, but the instances have %d", FloatingIPOnVIP, v4)
	}
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func resolveIf(dir, p string) string {
	if p == "" {
		return ""
	}
	return resolve(dir, p)
}

func validRegion(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// readSecretFile reads a credential file, which must be a regular file
// that only its owner (root, or the user running havip) can read
// (secretAccessProblems, per platform).
func readSecretFile(path string) (string, []string) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", []string{fmt.Sprintf("cannot read %q: %s", path, errText(err))}
	}
	if !fi.Mode().IsRegular() {
		return "", []string{fmt.Sprintf("%q is not a regular file", path)}
	}
	if problems := secretAccessProblems(path, fi); len(problems) > 0 {
		return "", problems
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", []string{fmt.Sprintf("cannot read %q: %s", path, errText(err))}
	}
	v := strings.TrimSpace(string(data))
	if v == "" {
		return "", []string{fmt.Sprintf("%q is empty", path)}
	}
	if strings.ContainsAny(v, "\r\n") {
		return "", []string{fmt.Sprintf("%q holds more than one line", path)}
	}
	return v, nil
}

// VIPAddrs lists every VIP of the configuration.
func (c *Config) VIPAddrs() []netip.Addr {
	var out []netip.Addr
	for _, in := range c.Instances {
		for _, p := range in.VIPs {
			out = append(out, p.Addr())
		}
	}
	return out
}
