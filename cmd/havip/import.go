package main

import (
	"fmt"
	"io"
	"os"

	"github.com/havip/havip/keepalived"
)

// cmdImport is `havip import keepalived [FILE]`: it converts a keepalived
// configuration for this node into havip's, written to stdout or
// --output, and reports on stderr what was not carried over.
func cmdImport(args []string, stdout, stderr io.Writer) int {
	fs := flags("import", stderr)
	output := fs.String("output", "", "write the configuration to this file (default: stdout)")
	force := fs.Bool("force", false, "overwrite --output if it exists")
	configID := fs.String("config-id", "", "keepalived's config-id for @ lines, as keepalived -i (default: the host name up to its first dot)")
	name := fs.String("name", "", "node.name (default: router_id, else the host name)")
	cluster := fs.String("cluster", "", "cluster.name (default: from the instances' virtual_router_id)")
	keyFile := fs.String("secret-key-file", defaultKeyFile, "cluster.secret_key_file")
	if !parse(fs, args, 2, stderr) {
		return exitUsage
	}
	if fs.Arg(0) != "keepalived" {
		fmt.Fprintln(stderr, "usage: havip import keepalived [FILE] [--output PATH]")
		return exitUsage
	}
	path := keepalived.DefaultPath
	if fs.NArg() == 2 {
		path = fs.Arg(1)
	}
	cfg, err := keepalived.ParseFile(path, keepalived.ParseOptions{ConfigID: *configID})
	if err != nil {
		fmt.Fprintf(stderr, "havip import: %v\n", err)
		return exitUsage
	}
	host, _ := os.Hostname()
	res := keepalived.Convert(cfg, keepalived.Options{Name: *name, Hostname: host, Cluster: *cluster, SecretKeyFile: *keyFile})
	for _, f := range res.Report {
		fmt.Fprintln(stderr, f)
	}
	if len(res.Instances) == 0 {
		fmt.Fprintf(stderr, "havip import: %s has no vrrp_instance havip can hold: nothing written\n", path)
		return exitUsage
	}
	dest := *output
	if dest == "" {
		dest = "havip.toml"
	}
	text, err := res.Check(dest)
	if err != nil {
		fmt.Fprintln(stderr, "havip import: the converted configuration does not load:")
		printConfigError(stderr, err)
		return exitUsage
	}
	fmt.Fprintf(stderr, "havip import: %s\n", res.Summary())
	if *output == "" {
		if _, err := stdout.Write(text); err != nil {
			return exitRuntime
		}
		return exitOK
	}
	if !*force {
		if _, err := os.Lstat(*output); err == nil {
			fmt.Fprintf(stderr, "havip import: %s exists; nothing written (--force overwrites it)\n", *output)
			return exitUsage
		}
	}
	if err := writeFile(*output, text, 0o644, *force); err != nil {
		fmt.Fprintf(stderr, "havip import: writing %s: %v\n", *output, err)
		return exitRuntime
	}
	fmt.Fprintf(stderr, "havip import: wrote %s; check it with: havip check --config %s\n", *output, *output)
	return exitOK
}
