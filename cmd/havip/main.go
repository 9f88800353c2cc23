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
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/havip/havip/config"
	"github.com/havip/havip/daemon"
	"github.com/havip/havip/keepalived"
	"github.com/havip/havip/preflight"
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
  havip status [--config PATH | --socket PATH] [--json] [--watch [--interval DURATION]]
                                              show the cluster (--watch: redraw until Ctrl-C)
  havip events [--config PATH | --socket PATH] [--follow] [--json]
                                              the daemon's recent transitions, member changes,
                                              check verdicts and cloud results
  havip check [--config PATH] [--no-host] [--cloud]
                                              validate the configuration and this host
                                              (--cloud: test the cloud credentials and ports)
  havip maintenance on|off [--config PATH | --socket PATH]
                                              drain this node (kept across restarts) or undrain it
  havip switchover [--to NODE] [--instance NAME] [--config PATH | --socket PATH]
                                              move an instance to NODE (default: the best other node)
  havip reload [--config PATH | --socket PATH] re-read the daemon's configuration (like SIGHUP)
  havip init [--config PATH] [--secret-key-file PATH] [--force] [...]
                                              write a starting configuration and key
  havip import keepalived [FILE] [--output PATH] [--config-id ID] [...]
                                              convert a keepalived configuration (default
                                              ` + keepalived.DefaultPath + `) for this node
  havip completion bash|zsh|fish              print a shell completion script
  havip service install|uninstall|start|stop  the Windows service (Windows only)
  havip version

--config defaults to ` + config.DefaultPath + `.
Exit codes: 0 success, 1 runtime failure, 2 usage or configuration error.
`

func run(args []string, stdout, stderr io.Writer) int {
	errw := &cliStderr{Writer: stderr, stdout: stdout}
	code := dispatch(args, stdout, errw)
	if errw.helped {
		return exitOK
	}
	return code
}

// dispatch runs the subcommand args name.
func dispatch(args []string, stdout, stderr io.Writer) int {
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
	case "events":
		return cmdEvents(rest, stdout, stderr)
	case "check":
		return cmdCheck(rest, stdout, stderr)
	case "maintenance":
		return cmdMaintenance(rest, stdout, stderr)
	case "switchover":
		return cmdSwitchover(rest, stdout, stderr)
	case "reload":
		return cmdReload(rest, stdout, stderr)
	case "init":
		return cmdInit(rest, stdout, stderr)
	case "import":
		return cmdImport(rest, stdout, stderr)
	case "completion":
		return cmdCompletion(rest, stdout, stderr)
	case "service":
		return cmdService(rest, stdout, stderr)
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
	setUsage(fs, name, stderr)
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

// printConfigError prints every problem, one per line, a syntax error
// followed by the lines around it with a caret under the mistake.
func printConfigError(stderr io.Writer, err error) {
	var errs config.Errors
	if errors.As(err, &errs) {
		for _, e := range errs {
			fmt.Fprintln(stderr, e.Error())
			if e.Excerpt != "" {
				fmt.Fprintf(stderr, "\n%s\n\n", e.Excerpt)
			}
		}
		return
	}
	fmt.Fprintln(stderr, err)
}

// Host lookups of `havip check` and `havip run`, replaced in tests.
var (
	hostLinks preflight.Links          = preflight.SystemLinks{}
	peerDial  preflight.DialFunc       = preflight.SystemDial
	hostView  preflight.Host           = preflight.SystemHost{}
	hostCaps  preflight.CapabilityFunc = preflight.SystemCapabilities
)

func cmdCheck(args []string, stdout, stderr io.Writer) int {
	fs := flags("check", stderr)
	path := fs.String("config", config.DefaultPath, "configuration file")
	noHost := fs.Bool("no-host", false, "check the configuration only, not this host")
	root := fs.String("root", "/", "read the host's files (/etc, /proc/sys) under this directory")
	timeout := fs.Duration("peer-timeout", time.Second, "how long to wait for each peer's memberlist port")
	cloud := fs.Bool("cloud", false, "also test the cloud credentials and ports with read-only calls")
	if !parse(fs, args, 0, stderr) {
		return exitUsage
	}
	// --no-host checks the file alone, as if on another machine: no key,
	// no owner, no group lookups (--cloud needs the cloud credentials).
	cfg, err := config.LoadWithOptions(*path, config.ParseOptions{SkipKeyFile: *noHost && !*cloud})
	if err != nil {
		printConfigError(stderr, err)
		return exitUsage
	}
	fmt.Fprintf(stdout, "%s: OK\n%s", *path, cfg.Summary())
	code := exitOK
	if !*noHost {
		findings := preflight.Run(context.Background(), cfg, preflight.Options{
			Root:         *root,
			Links:        hostLinks,
			Dial:         peerDial,
			DialTimeout:  *timeout,
			Host:         hostView,
			Capabilities: hostCaps,
		})
		fmt.Fprintln(stdout)
		if err := preflight.Write(stdout, findings); err != nil {
			return exitRuntime
		}
		if preflight.Worst(findings) == preflight.Error {
			fmt.Fprintf(stderr, "havip check: this host is not ready for %s (see the errors above)\n", *path)
			code = exitUsage
		}
	}
	if *cloud {
		if c := checkCloud(cfg, stdout, stderr); code == exitOK {
			code = c
		}
	}
	return code
}

func cmdRun(args []string, stdout, stderr io.Writer) int {
	if runningAsService() {
		return runService(args)
	}
	return runDaemon(context.Background(), args, stderr, nil)
}

// runDaemon is `havip run`: it runs the daemon until parent ends or
// SIGTERM or SIGINT comes. Logs go to stderr, or to the handler that
// newHandler makes from the --log-level and --log-format flags (the
// Windows service's event log).
func runDaemon(parent context.Context, args []string, stderr io.Writer, newHandler func(level slog.Level, format string) (slog.Handler, error)) int {
	fs := flags("run", stderr)
	path := fs.String("config", config.DefaultPath, "configuration file")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	format := fs.String("log-format", "text", "log format: text or json")
	if !parse(fs, args, 0, stderr) {
		return exitUsage
	}
	logger, err := newLogger(stderr, *level, *format, newHandler)
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
	// Nothing is changed on the host for a configuration it must not run.
	if err := hostGuard(logger)(cfg); err != nil {
		printConfigError(stderr, err)
		return exitUsage
	}

	// An idle daemon's CPU is mostly wakeups: a packet arrives, the
	// transport's reader hands it to memberlist's handler, which may wake
	// the election loop. With one P these hand-offs stay on one thread
	// instead of waking another (a futex, and on a VM an interprocessor
	// interrupt): about a third fewer context switches on an idle
	// three-node cluster. The work itself is small. GOMAXPROCS in the
	// environment still wins.
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
	// The daemon's live heap is well under 1 MB, so with Go's default
	// GOGC=100 the heap grows to the 4 MB minimum goal between
	// collections: RSS is 2 MB larger than it needs to be. GOGC=25 makes
	// the goal 1 MB; with the fast profile's packet rate that is a
	// collection about every 10 s, about 1 ms of CPU each. GOGC in the
	// environment still wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(25)
	}

	// HAVIP_CPUPROFILE=FILE writes a CPU profile of the whole run, for
	// `go tool pprof` (a debugging aid, not a contract); %p in FILE is
	// the process ID, so every daemon of a test cluster writes its own.
	if f := os.Getenv("HAVIP_CPUPROFILE"); f != "" {
		f = strings.ReplaceAll(f, "%p", strconv.Itoa(os.Getpid()))
		if out, err := os.Create(f); err == nil {
			if err := pprof.StartCPUProfile(out); err == nil {
				defer func() { pprof.StopCPUProfile(); out.Close() }()
			}
		}
	}

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sigs)
	return serveContext(parent, cfg, logger, sigs)
}

// serve runs the daemon for cfg until SIGTERM or SIGINT arrives on sigs,
// keeping systemd informed: READY once every instance is in its first
// state and the node has joined a member or waited its startup_grace,
// STOPPING when asked to stop, watchdog pings while it runs. SIGHUP
// applies the configuration file again (see reload).
func serve(cfg *config.Config, logger *slog.Logger, sigs <-chan os.Signal) int {
	return serveContext(context.Background(), cfg, logger, sigs)
}

// serveContext is serve that also stops when parent ends: the Windows
// service cancels parent on a stop request, as SIGTERM does on Linux.
func serveContext(parent context.Context, cfg *config.Config, logger *slog.Logger, sigs <-chan os.Signal) int {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	sd := notifier{log: logger}

	ready := func() {
		logger.Info("ready", "instances", len(cfg.Instances))
		sd.send(fmt.Sprintf("READY=1\nSTATUS=serving %d instances in cluster %s", len(cfg.Instances), cfg.Cluster.Name))
	}
	d, err := daemon.New(daemon.Options{Config: cfg, Logger: logger, Version: versionString(), Ready: ready, Guard: hostGuard(logger)})
	if err != nil {
		logger.Error("starting", "err", err)
		return exitRuntime
	}
	go sd.watchdog(ctx)
	go func() {
		for {
			select {
			case <-ctx.Done():
				if parent.Err() != nil {
					// The Windows service was asked to stop.
					logger.Info("stopping", "reason", "service stop")
				}
				return
			case sig := <-sigs:
				if sig == syscall.SIGHUP {
					reload(d, cfg.Path, logger, sd)
					continue
				}
				logger.Info("stopping", "signal", sig.String())
				sd.send("STOPPING=1")
				cancel()
				return
			}
		}
	}()

	logger.Info("starting havip", "version", versionString(), "config", cfg.Path, "instances", len(cfg.Instances))
	if err := d.Run(ctx); err != nil {
		logger.Error("havip stopped", "err", err)
		return exitRuntime
	}
	logger.Info("havip stopped")
	return exitOK
}

// reload applies the configuration file again (SIGHUP): what changed is
// applied in place, what needs a restart is logged, and a broken file
// changes nothing. The daemon logs the details; systemd gets a status
// line.
func reload(d *daemon.Daemon, path string, logger *slog.Logger, sd notifier) {
	logger.Info("SIGHUP: reloading the configuration", "config", path)
	reply, err := d.ReloadFile()
	switch {
	case err != nil:
		sd.send("STATUS=" + path + " not applied: see the log")
	case len(reply.NeedRestart) > 0:
		sd.send("STATUS=" + path + " applied; restart to apply " + strings.Join(reply.NeedRestart, ", "))
	default:
		sd.send("STATUS=" + path + " applied")
	}
}

func newLogger(w io.Writer, level, format string, newHandler func(slog.Level, string) (slog.Handler, error)) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %q is not one of debug, info, warn, error", level)
	}
	if format != "text" && format != "json" {
		return nil, fmt.Errorf("--log-format: %q is not text or json", format)
	}
	if newHandler != nil {
		h, err := newHandler(l, format)
		if err != nil {
			return nil, err
		}
		return slog.New(h), nil
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

func cmdStatus(args []string, stdout, stderr io.Writer) int {
	fs := flags("status", stderr)
	path := fs.String("config", config.DefaultPath, "configuration file (for status.socket)")
	sock := fs.String("socket", "", "daemon socket (default: status.socket of the config)")
	asJSON := fs.Bool("json", false, "print the status document as JSON")
	watch := fs.BoolP("watch", "w", false, "print the status again every --interval until interrupted")
	interval := fs.Duration("interval", 2*time.Second, "how often --watch prints the status")
	if !parse(fs, args, 0, stderr) {
		return exitUsage
	}
	if *interval <= 0 {
		fmt.Fprintf(stderr, "havip status: --interval: %s is not a positive duration such as 2s\n", *interval)
		return exitUsage
	}
	socket := resolveSocket("status", *path, *sock, stderr)
	if *watch {
		ctx, stop := interrupted()
		defer stop()
		w := watcher{socket: socket, interval: *interval, json: *asJSON, tty: isTerminal(stdout), stdout: stdout, stderr: stderr}
		return w.run(ctx)
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

// socketFlags adds --config and --socket to a control subcommand.
func socketFlags(fs *pflag.FlagSet) (path, sock *string) {
	path = fs.String("config", config.DefaultPath, "configuration file (for status.socket)")
	sock = fs.String("socket", "", "daemon socket (default: status.socket of the config)")
	return path, sock
}

// post sends a control request and maps a refusal to an exit code: 2
// for a request the daemon could not understand (a usage error), 1 for
// everything else.
func post(name, socket, path string, req, reply any, stderr io.Writer) int {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	err := status.Post(ctx, socket, path, req, reply)
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "havip %s: %v\n", name, err)
	var re *status.RequestError
	if errors.As(err, &re) && re.Code == 400 && name != "reload" {
		return exitUsage
	}
	return exitRuntime
}

func cmdMaintenance(args []string, stdout, stderr io.Writer) int {
	fs := flags("maintenance", stderr)
	path, sock := socketFlags(fs)
	if !parse(fs, args, 1, stderr) {
		return exitUsage
	}
	var on bool
	switch fs.Arg(0) {
	case "on":
		on = true
	case "off":
	default:
		fmt.Fprintf(stderr, "havip maintenance: say on or off\n")
		return exitUsage
	}
	socket := resolveSocket("maintenance", *path, *sock, stderr)
	var reply status.MaintenanceReply
	if code := post("maintenance", socket, status.MaintenancePath, status.MaintenanceRequest{On: on}, &reply, stderr); code != exitOK {
		return code
	}
	if reply.Maintenance {
		fmt.Fprintf(stdout, "maintenance on: this node holds no VIP and is not eligible until `havip maintenance off` (kept in %s)\n", reply.StateFile)
	} else {
		fmt.Fprintln(stdout, "maintenance off: this node is eligible again")
	}
	return exitOK
}

func cmdSwitchover(args []string, stdout, stderr io.Writer) int {
	fs := flags("switchover", stderr)
	to := fs.String("to", "", "node to move the instance to (default: the best eligible node other than the master)")
	inst := fs.String("instance", "", "instance to move (default: the only one)")
	path, sock := socketFlags(fs)
	if !parse(fs, args, 0, stderr) {
		return exitUsage
	}
	socket := resolveSocket("switchover", *path, *sock, stderr)
	var reply status.SwitchoverReply
	if code := post("switchover", socket, status.SwitchoverPath, status.SwitchoverRequest{Instance: *inst, To: *to}, &reply, stderr); code != exitOK {
		return code
	}
	fmt.Fprintf(stdout, "instance %s: switching over to %s\n", reply.Instance, reply.To)
	return exitOK
}

func cmdReload(args []string, stdout, stderr io.Writer) int {
	fs := flags("reload", stderr)
	path, sock := socketFlags(fs)
	if !parse(fs, args, 0, stderr) {
		return exitUsage
	}
	socket := resolveSocket("reload", *path, *sock, stderr)
	var reply status.ReloadReply
	if code := post("reload", socket, status.ReloadPath, struct{}{}, &reply, stderr); code != exitOK {
		return code
	}
	list := func(s []string) string {
		if len(s) == 0 {
			return "none"
		}
		return strings.Join(s, ", ")
	}
	fmt.Fprintf(stdout, "reloaded: changed %s; added %s; removed %s\n", list(reply.Changed), list(reply.Added), list(reply.Removed))
	if len(reply.NeedRestart) > 0 {
		fmt.Fprintf(stdout, "needs a restart to take effect (running values kept): %s\n", strings.Join(reply.NeedRestart, ", "))
	}
	return exitOK
}
