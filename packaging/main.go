// Command packaging builds the havip .deb and .rpm from this repository:
//
//	cd packaging && go run . [-version 1.2.3] [-arch amd64] [-out ../dist]
//
// It builds the binary, generates the shell completions and the starting
// /etc/havip.toml with the binary itself (or takes the file -config
// names, a site's own starting configuration), compresses the manual page,
// writes the changelog entry of the version, and packs them with the
// unit, the documentation and the examples as nfpm.yaml describes. It is
// a module of its own so that nfpm's dependencies stay out of havip's.
package main

import (
	"bytes"
	"compress/gzip"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb"
	"github.com/goreleaser/nfpm/v2/files"
	_ "github.com/goreleaser/nfpm/v2/rpm"
)

func main() {
	version := flag.String("version", "0.1.0-dev", "package version (semantic version)")
	arch := flag.String("arch", runtime.GOARCH, "target architecture (GOARCH)")
	out := flag.String("out", "../dist", "directory the packages are written to")
	repo := flag.String("repo", "..", "root of the havip repository")
	formats := flag.String("formats", "deb,rpm", "package formats, comma-separated")
	conf := flag.String("config", "", "ship `FILE` as /etc/havip.toml instead of the starting configuration havip init --print writes")
	flag.Parse()
	if err := build(*repo, *out, *version, *arch, *conf, strings.Split(*formats, ",")); err != nil {
		fmt.Fprintf(os.Stderr, "packaging: %v\n", err)
		os.Exit(1)
	}
}

func build(repo, out, version, arch, conf string, formats []string) error {
	repo, err := filepath.Abs(repo)
	if err != nil {
		return err
	}
	var confData []byte
	if conf != "" {
		// Read before anything is built: a wrong path fails at once.
		if confData, err = os.ReadFile(conf); err != nil {
			return fmt.Errorf("-config: %w", err)
		}
	}
	if out, err = filepath.Abs(out); err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	staging, err := os.MkdirTemp("", "havip-packaging-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(staging)

	bin := filepath.Join(staging, "havip")
	ldflags := "-s -w -X main.version=" + version
	if err := goBuild(repo, bin, "linux", arch, ldflags); err != nil {
		return err
	}
	// The generated files come from a binary that runs here.
	gen := bin
	if runtime.GOOS != "linux" || runtime.GOARCH != arch {
		gen = filepath.Join(staging, "havip-host")
		if err := goBuild(repo, gen, runtime.GOOS, runtime.GOARCH, ldflags); err != nil {
			return err
		}
	}
	for file, args := range map[string][]string{
		"havip.bash": {"completion", "bash"},
		"_havip":     {"completion", "zsh"},
		"havip.fish": {"completion", "fish"},
		// The key file is the packaged default; `havip init --no-config`
		// writes it.
		"havip.toml": {"init", "--print", "--secret-key-file", "/etc/havip/secret.key"},
	} {
		cmd := exec.Command(gen, args...)
		cmd.Stderr = os.Stderr
		data, err := cmd.Output()
		if err != nil {
			return fmt.Errorf("havip %s: %w", strings.Join(args, " "), err)
		}
		if file == "havip.toml" && confData != nil {
			data = confData
		}
		if err := os.WriteFile(filepath.Join(staging, file), data, 0o644); err != nil {
			return err
		}
	}

	if err := gzipFile(filepath.Join(repo, "packaging", "havip.1"), filepath.Join(staging, "havip.1.gz")); err != nil {
		return err
	}

	// nfpm reads relative paths (the scripts) from the working directory.
	if err := os.Chdir(filepath.Join(repo, "packaging")); err != nil {
		return err
	}
	env := map[string]string{"STAGING": staging, "REPO": repo, "VERSION": version, "ARCH": arch}
	config, err := nfpm.ParseFileWithEnvMapping(filepath.Join(repo, "packaging", "nfpm.yaml"), func(k string) string { return env[k] })
	if err != nil {
		return err
	}
	// The changelog names the version as the packages do, with the
	// packaging's release: 1.2.3-1.
	config.Changelog = filepath.Join(staging, "changelog.yml")
	if err := writeChangelog(config.Changelog, version+"-"+config.Release); err != nil {
		return err
	}
	for _, format := range formats {
		if err := pack(config, format, out); err != nil {
			return fmt.Errorf("%s: %w", format, err)
		}
	}
	return nil
}

func goBuild(repo, out, goos, goarch, ldflags string) error {
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", ldflags, "-o", out, "./cmd/havip")
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building havip for %s/%s: %w", goos, goarch, err)
	}
	return nil
}

func pack(config nfpm.Config, format, out string) error {
	info, err := config.Get(format)
	if err != nil {
		return err
	}
	info = nfpm.WithDefaults(info)
	if err := nfpm.Validate(info); err != nil {
		return err
	}
	if format == "rpm" {
		if err := markDocs(info); err != nil {
			return err
		}
	}
	pkg, err := nfpm.Get(format)
	if err != nil {
		return err
	}
	target := filepath.Join(out, pkg.ConventionalFileName(info))
	f, err := os.Create(target)
	if err != nil {
		return err
	}
	info.Target = target
	if err := pkg.Package(info, f); err != nil {
		f.Close()
		os.Remove(target)
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Println(target)
	return nil
}

// gzipFile compresses src into dst as gzip -9n does: no name, no time, so
// that the same input gives the same package.
func gzipFile(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	zw, err := gzip.NewWriterLevel(&b, gzip.BestCompression)
	if err != nil {
		return err
	}
	if _, err := zw.Write(data); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(dst, b.Bytes(), 0o644)
}

// writeChangelog writes the packages' changelog (nfpm's chglog format):
// one entry for version, which points to the project's history. Its date
// is SOURCE_DATE_EPOCH when set, for reproducible builds, else now.
func writeChangelog(path, version string) error {
	date := time.Now().UTC()
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		sec, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("SOURCE_DATE_EPOCH: %q is not a number of seconds", s)
		}
		date = time.Unix(sec, 0).UTC()
	}
	entry := fmt.Sprintf(`- semver: %s
  date: %s
  packager: %s
  deb:
    urgency: medium
    distributions: [stable]
  changes:
    - note: "Release %s; changes: %s"
`, version, date.Format(time.RFC3339), maintainer, version, history)
	return os.WriteFile(path, []byte(entry), 0o644)
}

// The changelog's packager and where the changes are told; nfpm.yaml
// names the same maintainer.
const (
	maintainer = "havip maintainers <havip@example.org>"
	history    = "https://github.com/havip/havip/commits"
)

// markDocs marks the .rpm's files under /usr/share/doc and
// /usr/share/man as documentation (%doc), as rpmbuild does. nfpm's doc type takes single files, not the globs and trees of
// nfpm.yaml, and leaves such files out of the other formats: so the
// contents are expanded into files here first.
func markDocs(info *nfpm.Info) error {
	if err := nfpm.PrepareForPackager(info, "rpm"); err != nil {
		return err
	}
	for _, c := range info.Contents {
		doc := strings.HasPrefix(c.Destination, "/usr/share/doc/") || strings.HasPrefix(c.Destination, "/usr/share/man/")
		if doc && (c.Type == files.TypeFile || c.Type == "") {
			c.Type = files.TypeRPMDoc
		}
	}
	return nil
}
