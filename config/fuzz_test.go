package config_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/havip/havip/config"
)

// fuzzFiles are the key and credential files a fuzzed configuration can
// name, relative to its directory: good ones and each kind of bad one.
var fuzzFiles = []struct {
	name, content string
	mode          os.FileMode
}{
	{"secret.key", key(32), 0o600},
	{"short.key", key(20), 0o600},
	{"bad.key", "not*base64!", 0o600},
	{"open.key", key(16), 0o644},
	{"cloud.sk", "s3cret", 0o600},
	{"two.sk", "one\ntwo", 0o600},
	{"empty.sk", "\n", 0o600},
}

// FuzzConfigParse: the configuration is an operator's file, often edited
// by hand. Parsing never panics; it fails with an Errors, every problem
// of which names the file, or returns a Config of that file; and reading
// the key files only adds problems. The files are read only when every
// path the configuration names is in its directory (a temporary one
// holding fuzzFiles), never elsewhere on the machine.
func FuzzConfigParse(f *testing.F) {
	dir := f.TempDir()
	for _, kf := range fuzzFiles {
		p := filepath.Join(dir, kf.name)
		if err := os.WriteFile(p, []byte(kf.content), 0o600); err != nil {
			f.Fatal(err)
		}
		if err := os.Chmod(p, kf.mode); err != nil {
			f.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "keys"), 0o700); err != nil {
		f.Fatal(err)
	}
	path := filepath.Join(dir, "havip.toml")

	var examples []string
	for _, pattern := range []string{"*.toml", "*/*.toml"} {
		m, err := filepath.Glob(filepath.Join("..", "examples", pattern))
		if err != nil {
			f.Fatal(err)
		}
		examples = append(examples, m...)
	}
	if len(examples) == 0 {
		f.Fatal("no example configurations")
	}
	for _, ex := range examples {
		data, err := os.ReadFile(ex)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
		// The same with its files next to it.
		f.Add(bytes.ReplaceAll(data, []byte("/etc/havip/"), nil))
	}
	base := `[cluster]
name = "c"
peers = ["192.0.2.2:7946", "peer-b:7946"]
secret_key_file = "%s"

[[instance]]
name = "web"
interface = "eth0"
vips = ["192.0.2.10", "2001:db8::10/128"]
`
	for _, name := range []string{"secret.key", "short.key", "bad.key", "open.key", "keys", "missing.key"} {
		f.Add([]byte(strings.Replace(base, "%s", name, 1)))
	}
	f.Add([]byte("[cluster]\nname = \"c\"\ninsecure = true\n[cloud]\nprovider = \"huaweicloud\"\nauth = \"aksk\"\nregion = \"ap-southeast-1\"\nproject_id = \"p\"\naccess_key = \"AK\"\nsecret_key_file = \"two.sk\"\n"))
	f.Add([]byte("[cluster]\nname = \"c\"\ninsecure = true\n[cloud]\nprovider = \"openstack\"\nauth_url = \"https://keystone.example:5000/v3\"\nuser = \"u\"\ndomain = \"d\"\nproject = \"p\"\npassword_file = \"empty.sk\"\n"))
	f.Add([]byte("[cluster]\nname = \"c\"\ninsecure = true\n[[instance]]\nname = \"web\"\ninterface = \"eth0\"\nvips = [\"192.0.2.10\"]\n" +
		"[[instance.track_script]]\nname = \"app\"\ncommand = [\"true\"]\nweight = 20\n[instance.notify]\nmaster = [\"on-master\"]\n"))
	f.Add([]byte("[cluster\nname = \"c\"\n"))
	f.Add([]byte("cluster = 5\n[node]\nnmae = \"x\"\n"))
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, data []byte) {
		skipped, skipErr := config.ParseWithOptions(data, path, config.ParseOptions{SkipKeyFile: true})
		skipProblems := checkParse(t, data, path, skipped, skipErr)

		// With the files: only those in dir.
		if skipErr == nil {
			for _, p := range []string{skipped.Cluster.SecretKeyFile, skipped.Cloud.SecretKeyFile,
				skipped.Cloud.ApplicationCredentialSecretFile, skipped.Cloud.PasswordFile} {
				if p != "" && filepath.Dir(p) != dir {
					return
				}
			}
		} else if bytes.ContainsAny(data, `/\`) {
			return
		}
		cfg, err := config.ParseWithOptions(data, path, config.ParseOptions{})
		problems := checkParse(t, data, path, cfg, err)
		for _, p := range skipProblems {
			if !slices.Contains(problems, p) {
				t.Fatalf("%q: problem %q without the files but not with them:\n%v", data, p, err)
			}
		}
	})
}

// checkParse checks what ParseWithOptions returned for data from path,
// and returns the problems it reported.
func checkParse(t *testing.T, data []byte, path string, cfg *config.Config, err error) []string {
	t.Helper()
	if err == nil {
		if cfg == nil || cfg.Path != path {
			t.Fatalf("%q: no error, but config %+v", data, cfg)
		}
		return nil
	}
	if cfg != nil {
		t.Fatalf("%q: config %+v along with %v", data, cfg, err)
	}
	es, ok := err.(config.Errors)
	if !ok || len(es) == 0 {
		t.Fatalf("%q: error %T %v, want a config.Errors", data, err, err)
	}
	var problems []string
	for _, e := range es {
		if e == nil {
			t.Fatalf("%q: a nil problem in %v", data, err)
		}
		msg := e.Error()
		if e.File != path || !strings.HasPrefix(msg, path+":") || e.Msg == "" {
			t.Fatalf("%q: problem %#v (%q) does not name the file", data, e, msg)
		}
		if strings.Contains(msg, "\n") {
			t.Fatalf("%q: problem %q spans lines (one problem a line)", data, msg)
		}
		problems = append(problems, msg)
	}
	return problems
}
