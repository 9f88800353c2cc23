package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/template"

	"github.com/havip/havip/config"
)

// initParams fill the starting configuration.
type initParams struct {
	// Path is the file the configuration is written to.
	Path      string
	Name      string
	Bind      string
	Cluster   string
	Peers     []string
	KeyFile   string
	Interface string
	VIPs      []string
	Priority  int
}

func (p initParams) Quote(s string) string { return strconv.Quote(s) }

func (p initParams) QuoteList(l []string) string {
	q := make([]string, len(l))
	for i, s := range l {
		q[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// Apply says how to apply a change of the file at p.Path: through
// systemd for the packaged path, else with havip itself.
func (p initParams) Apply() string {
	if p.Path == config.DefaultPath {
		return "`systemctl reload havip`; [node], [status], [cloud] and\n# most of [cluster] need `systemctl restart havip`, one member at a time"
	}
	return "`havip reload --config " + p.Path + "`; [node], [status],\n# [cloud] and most of [cluster] need a restart of\n# `havip run --config " + p.Path + "`, one member at a time"
}

// Timing lists how fast each timing profile finds a dead member, one
// comment line each.
func (p initParams) Timing() string {
	var lines []string
	for _, name := range config.ProfileNames() {
		t, _ := config.Profile(name)
		lines = append(lines, fmt.Sprintf("#   %-15s about %s", strconv.Quote(name), t.FailureDetection()))
	}
	return strings.Join(lines, "\n")
}

var starter = template.Must(template.New("havip.toml").Parse(`# {{.Path}}: havip's configuration. The full list of keys, with
# their defaults, is in docs/config.md; examples/ has complete clusters.
# Check changes with
#
#     havip check --config {{.Path}}
#
# and apply them with {{.Apply}}.

[node]
# Unique in the cluster. Default: the hostname.
{{if .Name}}name = {{.Quote .Name}}{{else}}# name = "ecs-a"{{end}}
# Address memberlist listens on; TCP and UDP on its port (default 7946)
# must be open between the members (security group, firewalld, ufw).
{{if .Bind}}bind = {{.Quote .Bind}}{{else}}# bind = "192.168.0.11:7946"{{end}}

[cluster]
# The same on every member; members of other clusters are ignored.
name = {{.Quote .Cluster}}
# The other members' memberlist addresses (not this node).
{{if .Peers}}peers = {{.QuoteList .Peers}}{{else}}# peers = ["192.168.0.12:7946", "192.168.0.13:7946"]{{end}}
# The same key on every member: copy this file to the others (mode 0600).
secret_key_file = {{.Quote .KeyFile}}
# "auto": a majority of the members is needed to hold a VIP with three or
# more members, not with two. Add a witness (a member without instances)
# to a pair to get a majority.
quorum = "auto"
# How long the other members take to find a dead one:
{{.Timing}}
timing = "default"

# One [[instance]] per set of VIPs that moves between members together.
# Without any instance this node is a witness.
{{if .VIPs}}[[instance]]
name = "vip"
interface = {{.Quote .Interface}}
vips = {{.QuoteList .VIPs}}
# The eligible member with the highest priority (1..255) holds the VIPs.
priority = {{.Priority}}
preempt = true
{{else}}# [[instance]]
# name = "web"
# interface = {{.Quote .Interface}}
# vips = ["192.168.0.22"]
# priority = 100
# preempt = true
{{end}}
[status]
# Socket of havip status, maintenance and switchover.
socket = "/run/havip/havip.sock"
`))

func (p initParams) render() ([]byte, error) {
	var b bytes.Buffer
	if err := starter.Execute(&b, p); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// packagedStarter is the starting configuration the packages install
// as /etc/havip.toml: `havip init --print` with the defaults.
func packagedStarter() ([]byte, error) {
	return initParams{Path: config.DefaultPath, Cluster: "havip", KeyFile: defaultKeyFile,
		Interface: defaultInterface, Priority: 100}.render()
}

// isPackaged reports whether the file at path is the packages' starting
// configuration, as installed: replacing it loses nothing.
func isPackaged(path string) bool {
	have, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	starter, err := packagedStarter()
	return err == nil && bytes.Equal(have, starter)
}

// newKey returns a fresh cluster key: base64 of 32 random bytes.
func newKey() ([]byte, error) {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	return []byte(base64.StdEncoding.EncodeToString(k) + "\n"), nil
}

func cmdInit(args []string, stdout, stderr io.Writer) int {
	fs := flags("init", stderr)
	path := fs.String("config", config.DefaultPath, "configuration file to write")
	keyFile := fs.String("secret-key-file", defaultKeyFile, "cluster key file to write")
	p := initParams{}
	fs.StringVar(&p.Name, "name", "", "node.name (default: the hostname, left out of the file)")
	fs.StringVar(&p.Bind, "bind", "", "node.bind, the memberlist address")
	fs.StringVar(&p.Cluster, "cluster", "havip", "cluster.name")
	fs.StringSliceVar(&p.Peers, "peer", nil, "a peer's memberlist address, host:port (repeat or separate with commas)")
	fs.StringVar(&p.Interface, "interface", defaultInterface, "interface of the instance")
	fs.StringSliceVar(&p.VIPs, "vip", nil, "a VIP of the instance (repeat or separate with commas); none writes the instance commented out")
	fs.IntVar(&p.Priority, "priority", 100, "priority of this node for the instance, 1..255")
	noConfig := fs.Bool("no-config", false, "write only the key (the configuration came with the package)")
	noKey := fs.Bool("no-key", false, "write only the configuration (copy the key from the first member)")
	force := fs.Bool("force", false, "overwrite files that exist")
	print := fs.Bool("print", false, "print the configuration and write nothing")
	if !parse(fs, args, 0, stderr) {
		return exitUsage
	}
	key, err := filepath.Abs(*keyFile)
	if err != nil {
		fmt.Fprintf(stderr, "havip init: %v\n", err)
		return exitUsage
	}
	p.KeyFile = key
	p.Path = *path
	text, err := p.render()
	if err != nil {
		fmt.Fprintf(stderr, "havip init: %v\n", err)
		return exitRuntime
	}
	// What is written must load: a wrong flag is reported before any file
	// is touched.
	if _, err := config.ParseWithOptions(text, *path, config.ParseOptions{SkipKeyFile: true}); err != nil {
		fmt.Fprintln(stderr, "havip init: the options do not make a valid configuration:")
		printConfigError(stderr, err)
		return exitUsage
	}
	if *print {
		stdout.Write(text)
		return exitOK
	}
	if *noConfig && *noKey {
		fmt.Fprintln(stderr, "havip init: --no-config and --no-key leave nothing to do")
		return exitUsage
	}

	type file struct {
		path string
		data func() ([]byte, error)
		mode os.FileMode
		what string
		// pristine: the file is the package's starting configuration,
		// untouched, which init replaces without --force.
		pristine bool
	}
	var files []file
	if !*noConfig {
		files = append(files, file{*path, func() ([]byte, error) { return text, nil }, 0o644, "configuration", isPackaged(*path)})
	}
	if !*noKey {
		files = append(files, file{key, newKey, 0o600, "cluster key", false})
	}
	if !*force {
		for _, f := range files {
			if _, err := os.Lstat(f.path); err == nil && !f.pristine {
				fmt.Fprintf(stderr, "havip init: %s exists; nothing written (--force overwrites it)\n", f.path)
				return exitUsage
			}
		}
	}
	for _, f := range files {
		data, err := f.data()
		if err == nil {
			err = writeFile(f.path, data, f.mode, *force || f.pristine)
		}
		if err != nil {
			fmt.Fprintf(stderr, "havip init: writing the %s: %v\n", f.what, err)
			return exitRuntime
		}
		how := ""
		if f.pristine {
			how = " (it replaces the package's untouched starting file)"
		}
		fmt.Fprintf(stdout, "wrote the %s to %s%s\n", f.what, f.path, how)
	}
	if !*noKey {
		fmt.Fprintf(stdout, "copy %s to every member (mode 0600), then run: havip check --config %s\n", key, *path)
	}
	return exitOK
}

// writeFile writes data to path with mode, creating a missing directory
// with mode 0700. Without overwrite an existing file is an error; with
// it, the file is replaced atomically.
func writeFile(path string, data []byte, mode os.FileMode, overwrite bool) error {
	dir := filepath.Dir(path)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		// MkdirAll honours the umask; the directory must be 0700 anyway.
		if err := os.Chmod(dir, 0o700); err != nil {
			return err
		}
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if overwrite {
		return os.Rename(tmp.Name(), path)
	}
	// Link fails if path appeared meanwhile, where rename would replace it.
	return os.Link(tmp.Name(), path)
}
