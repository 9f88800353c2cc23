// Command havip is the high-availability VIP daemon and its control tool.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/spf13/pflag"

	"github.com/havip/havip/cloudbind"
	"github.com/havip/havip/config"
	"github.com/havip/havip/daemon"
	"github.com/havip/havip/status"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = ""

// Exit codes of every subcommand (part of the contract).
const (
	exitOK      = 0
	exitRuntime = 1
	exitUsage   = 2
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `havip owns shared virtual IP addresses for a group of servers.

Usage:
  havip run [--config PATH]                   run the daemon
  havip status [--config PATH | --socket PATH] [--json]
  havip check [--config PATH] [--cloud]       validate the configuration
                                              (--cloud: test credentials and ports)
  havip version

--config defaults to ` + config.DefaultPath + `.
Exit codes: 0 success, 1 runtime failure, 2 usage or configuration error.
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "run":
		return cmdRun(rest, stdout, stderr)
	case "status":
		return cmdStatus(rest, stdout, stderr)
	case "check":
		return cmdCheck(rest, stdout, stderr)
	case "version", "--version":
		fmt.Fprintf(stdout, "havip %s (%s %s/%s)\n", versionString(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return exitOK
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "havip: unknown command %q\n\n%s", cmd, usage)
		return exitUsage
	}
}

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// flags returns a flag set for a subcommand that reports its own errors.
func flags(name string, stderr io.Writer) *pflag.FlagSet {
	fs := pflag.NewFlagSet("havip "+name, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.SortFlags = false
	return fs
}

// parse parses args and rejects positional arguments beyond maxArgs.
func parse(fs *pflag.FlagSet, args []string, maxArgs int, stderr io.Writer) bool {
	if err := fs.Parse(args); err != nil {
		if !errors.Is(err, pflag.ErrHelp) {
			fmt.Fprintf(stderr, "%s: %v\n", fs.Name(), err)
		}
		return false
	}
	if fs.NArg() > maxArgs {
		fmt.Fprintf(stderr, "%s: unexpected argument %q\n", fs.Name(), fs.Arg(maxArgs))
		return false
	}
	return true
}

// printConfigError prints every problem, one per line.
func printConfigError(stderr io.Writer, err error) {
	var errs config.Errors
	if errors.As(err, &errs) {
		for _, e := range errs {
			fmt.Fprintln(stderr, e.Error())
		}
		return
	}
	fmt.Fprintln(stderr, err)
}

func cmdCheck(args []string, stdout, stderr io.Writer) int {
	fs := flags("check", stderr)
	path := fs.String("config", config.DefaultPath, "configuration file")
	cloud := fs.Bool("cloud", false, "also test the cloud credentials and ports with read-only calls")
	if !parse(fs, args, 0, stderr) {
		return exitUsage
	}
	cfg, err := config.Load(*path)
	if err != nil {
		printConfigError(stderr, err)
		return exitUsage
	}
	fmt.Fprintf(stdout, "%s: OK\n%s", *path, cfg.Summary())
	if *cloud {
		return checkCloud(cfg, stdout, stderr)
	}
	return exitOK
}

// checkCloud reads each instance's binding through the cloud API without
// changing it.
func checkCloud(cfg *config.Config, stdout, stderr io.Writer) int {
	if !cfg.Cloud.Enabled() {
		fmt.Fprintln(stdout, "cloud: provider none, nothing to check")
		return exitOK
	}
	p, err := cloudbind.New(cfg.Cloud, cloudbind.Options{})
	if err != nil {
		fmt.Fprintf(stderr, "havip check: cloud: %v\n", err)
		return exitRuntime
	}
	code := exitOK
	for _, in := range cfg.Instances {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		bound, err := p.Binder(in).Check(ctx)
		cancel()
		switch {
		case errors.Is(err, cloudbind.ErrNoCheck):
			fmt.Fprintf(stdout, "cloud: instance %s: provider %s cannot be checked read-only\n", in.Name, p.Name())
		case err != nil:
			fmt.Fprintf(stderr, "havip check: cloud: instance %s: %v\n", in.Name, err)
			code = exitRuntime
		default:
			yes := "no"
			if bound {
				yes = "yes"
			}
			fmt.Fprintf(stdout, "cloud: instance %s: credentials and ports OK; bound to this server: %s\n", in.Name, yes)
		}
	}
	fmt.Fprintf(stdout, "cloud: %d read-only API calls\n", p.Calls())
	return code
}

func cmdRun(args []string, stdout, stderr io.Writer) int {
	fs := flags("run", stderr)
	path := fs.String("config", config.DefaultPath, "configuration file")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	format := fs.String("log-format", "text", "log format: text or json")
	if !parse(fs, args, 0, stderr) {
		return exitUsage
	}
	logger, err := newLogger(stderr, *level, *format)
	if err != nil {
		fmt.Fprintf(stderr, "havip run: %v\n", err)
		return exitUsage
	}
	cfg, err := config.Load(*path)
	if err != nil {
		printConfigError(stderr, err)
		return exitUsage
	}
	logger = logger.With("node", cfg.Node.Name)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	// HAVIP_CPUPROFILE=FILE writes a CPU profile of the whole run, for
	// `go tool pprof` (a debugging aid, not a contract).
	if f := os.Getenv("HAVIP_CPUPROFILE"); f != "" {
		if out, err := os.Create(f); err == nil {
			if err := pprof.StartCPUProfile(out); err == nil {
				defer func() { pprof.StopCPUProfile(); out.Close() }()
			}
		}
	}
	d, err := daemon.New(daemon.Options{Config: cfg, Logger: logger, Version: versionString()})
	if err != nil {
		logger.Error("starting", "err", err)
		return exitRuntime
	}
	logger.Info("starting havip", "version", versionString(), "config", *path, "instances", len(cfg.Instances))
	if err := d.Run(ctx); err != nil {
		logger.Error("havip stopped", "err", err)
		return exitRuntime
	}
	logger.Info("havip stopped")
	return exitOK
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %q is not one of debug, info, warn, error", level)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format: %q is not text or json", format)
}

// socketFromConfig finds the status socket in a configuration file. It is
// lenient: `havip status` must work while the file has an unrelated
// mistake (an operator fixing it wants to see the running daemon).
func socketFromConfig(path string) (string, error) {
	cfg, err := config.Load(path)
	if err == nil {
		return cfg.Status.Socket, nil
	}
	var raw struct {
		Status struct {
			Socket string `toml:"socket"`
		} `toml:"status"`
	}
	if _, derr := toml.DecodeFile(path, &raw); derr != nil {
		if os.IsNotExist(derr) {
			return config.DefaultSocket, nil
		}
		return "", err
	}
	if raw.Status.Socket == "" {
		return config.DefaultSocket, nil
	}
	return raw.Status.Socket, nil
}

func cmdStatus(args []string, stdout, stderr io.Writer) int {
	fs := flags("status", stderr)
	path := fs.String("config", config.DefaultPath, "configuration file (for status.socket)")
	sock := fs.String("socket", "", "daemon socket (default: status.socket of the config)")
	asJSON := fs.Bool("json", false, "print the status document as JSON")
	if !parse(fs, args, 0, stderr) {
		return exitUsage
	}
	socket := *sock
	if socket == "" {
		s, err := socketFromConfig(*path)
		if err != nil {
			printConfigError(stderr, err)
			return exitUsage
		}
		socket = s
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	doc, err := status.Fetch(ctx, socket)
	if err != nil {
		fmt.Fprintf(stderr, "havip status: %v\n", err)
		return exitRuntime
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(doc); err != nil {
			return exitRuntime
		}
		return exitOK
	}
	if err := doc.WriteTable(stdout); err != nil {
		return exitRuntime
	}
	return exitOK
}
