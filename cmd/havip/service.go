package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/havip/havip/config"
)

// The Windows service: `havip service install|uninstall|start|stop`, and
// `havip run` started by the service control manager. What does not call
// Windows lives here so that it is tested everywhere; service_windows.go
// holds the calls to the service control manager and the event log.

// serviceName is the name of the Windows service and of its event log
// source.
const serviceName = "havip"

// stopTimeout bounds `havip service stop`: the daemon releases its VIPs
// and leaves the cluster within a few seconds.
const stopTimeout = 30 * time.Second

// serviceManager is the part of the Windows service control manager that
// `havip service` uses.
type serviceManager interface {
	// Install creates the service (automatic start, restart on failure)
	// running exe with args, and the event log source.
	Install(exe string, args []string) error
	// Uninstall deletes the service and the event log source.
	Uninstall() error
	Start() error
	// Stop asks the service to stop and waits until it has, at most
	// timeout.
	Stop(timeout time.Duration) error
}

// openServiceManager connects to the service control manager; tests
// replace it.
var openServiceManager = platformServiceManager

// errNoServices: this platform has no Windows services.
var errNoServices = errors.New("services are a Windows feature; on Linux run havip under systemd (examples/havip.service)")

const serviceUsage = `Usage:
  havip service install [--config PATH] [--log-level LEVEL]
  havip service uninstall
  havip service start
  havip service stop

install registers havip as a Windows service that starts with the system,
runs "havip run --config PATH" as LocalSystem, logs to the Application
event log (source "havip") and is restarted when it fails. stop releases
the VIPs and leaves the cluster, as SIGTERM does on Linux.
`

func cmdService(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, serviceUsage)
		return exitUsage
	}
	action, rest := args[0], args[1:]
	fs := flags("service "+action, stderr)
	var path, level *string
	switch action {
	case "install":
		path = fs.String("config", config.DefaultPath, "configuration file the service runs with")
		level = fs.String("log-level", "info", "log level: debug, info, warn, error")
	case "uninstall", "start", "stop":
	case "help", "-h", "--help":
		fmt.Fprint(stdout, serviceUsage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "havip service: unknown action %q\n\n%s", action, serviceUsage)
		return exitUsage
	}
	if !parse(fs, rest, 0, stderr) {
		return exitUsage
	}

	var runArgs []string
	if action == "install" {
		var l slog.Level
		if err := l.UnmarshalText([]byte(*level)); err != nil {
			fmt.Fprintf(stderr, "havip service install: --log-level: %q is not one of debug, info, warn, error\n", *level)
			return exitUsage
		}
		// The service starts without a console to report a broken file
		// on: check it now, and pin its absolute path.
		abs, err := filepath.Abs(*path)
		if err != nil {
			fmt.Fprintf(stderr, "havip service install: %v\n", err)
			return exitUsage
		}
		if _, err := config.Load(abs); err != nil {
			printConfigError(stderr, err)
			return exitUsage
		}
		runArgs = []string{"run", "--config", abs, "--log-level", *level}
	}

	m, err := openServiceManager()
	if errors.Is(err, errNoServices) {
		fmt.Fprintf(stderr, "havip service: %v\n", err)
		return exitUsage
	}
	if err != nil {
		fmt.Fprintf(stderr, "havip service %s: %v\n", action, err)
		return exitRuntime
	}
	switch action {
	case "install":
		exe, err := os.Executable()
		if err == nil {
			exe, err = filepath.Abs(exe)
		}
		if err == nil {
			err = m.Install(exe, runArgs)
		}
		if err != nil {
			fmt.Fprintf(stderr, "havip service install: %v\n", err)
			return exitRuntime
		}
		fmt.Fprintf(stdout, "service %s installed: %s %s\nstart it with: havip service start\n", serviceName, exe, strings.Join(runArgs, " "))
	case "uninstall":
		if err := m.Uninstall(); err != nil {
			fmt.Fprintf(stderr, "havip service uninstall: %v\n", err)
			return exitRuntime
		}
		fmt.Fprintf(stdout, "service %s uninstalled\n", serviceName)
	case "start":
		if err := m.Start(); err != nil {
			fmt.Fprintf(stderr, "havip service start: %v\n", err)
			return exitRuntime
		}
		fmt.Fprintf(stdout, "service %s started\n", serviceName)
	case "stop":
		if err := m.Stop(stopTimeout); err != nil {
			fmt.Fprintf(stderr, "havip service stop: %v\n", err)
			return exitRuntime
		}
		fmt.Fprintf(stdout, "service %s stopped\n", serviceName)
	}
	return exitOK
}

// serviceLoop runs the daemon (run, until its context ends) for the
// service control manager: stop is closed when the manager asks the
// service to stop or the system shuts down; the daemon's context is then
// cancelled, exactly as SIGTERM cancels it on Linux, so it releases its
// VIPs and leaves the cluster before serviceLoop returns its exit code.
// A daemon that ends on its own (a start-up error) ends the loop too.
func serviceLoop(run func(ctx context.Context) int, stop <-chan struct{}) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() { done <- run(ctx) }()
	select {
	case code := <-done:
		return code
	case <-stop:
		cancel()
		return <-done
	}
}

// lineHandler is a slog.Handler that formats each record as one text (or
// JSON) line and hands it to sink with its level: the event log takes
// whole messages, each with a type (information, warning, error).
type lineHandler struct {
	h    slog.Handler
	mu   *sync.Mutex
	buf  *bytes.Buffer
	sink func(level slog.Level, line string) error
}

func newLineHandler(level slog.Level, format string, sink func(slog.Level, string) error) *lineHandler {
	buf := new(bytes.Buffer)
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(buf, opts)
	if format == "json" {
		h = slog.NewJSONHandler(buf, opts)
	}
	return &lineHandler{h: h, mu: new(sync.Mutex), buf: buf, sink: sink}
}

func (l *lineHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return l.h.Enabled(ctx, level)
}

func (l *lineHandler) Handle(ctx context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Reset()
	if err := l.h.Handle(ctx, r); err != nil {
		return err
	}
	return l.sink(r.Level, strings.TrimSuffix(l.buf.String(), "\n"))
}

// The derived handlers write to the same buffer under the same lock.
func (l *lineHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &lineHandler{h: l.h.WithAttrs(attrs), mu: l.mu, buf: l.buf, sink: l.sink}
}

func (l *lineHandler) WithGroup(name string) slog.Handler {
	return &lineHandler{h: l.h.WithGroup(name), mu: l.mu, buf: l.buf, sink: l.sink}
}

// sinkWriter passes what is written to it, line by line, to sink as
// errors: the configuration problems `havip run` prints on stderr, which
// a service has not got.
type sinkWriter struct {
	mu   sync.Mutex
	sink func(slog.Level, string) error
}

func (w *sinkWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for line := range strings.SplitSeq(strings.TrimRight(string(b), "\n"), "\n") {
		if line != "" {
			w.sink(slog.LevelError, line)
		}
	}
	return len(b), nil
}
