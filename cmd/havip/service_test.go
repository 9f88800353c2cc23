package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeServices records what `havip service` asks of the service control
// manager.
type fakeServices struct {
	calls []string
	err   error
}

func (f *fakeServices) Install(exe string, args []string) error {
	f.calls = append(f.calls, "install "+strings.Join(args, " "))
	return f.err
}
func (f *fakeServices) Uninstall() error { f.calls = append(f.calls, "uninstall"); return f.err }
func (f *fakeServices) Start() error     { f.calls = append(f.calls, "start"); return f.err }
func (f *fakeServices) Stop(timeout time.Duration) error {
	f.calls = append(f.calls, "stop "+timeout.String())
	return f.err
}

func withFakeServices(t *testing.T, f *fakeServices) {
	t.Helper()
	old := openServiceManager
	openServiceManager = func() (serviceManager, error) { return f, nil }
	t.Cleanup(func() { openServiceManager = old })
}

func TestServiceCommands(t *testing.T) {
	good := write(t, goodConfig)
	bad := write(t, strings.Replace(goodConfig, "priority = 150", "priority = 300", 1))
	tests := []struct {
		name      string
		args      []string
		err       error
		wantCode  int
		wantCalls []string
		wantOut   string
		wantErr   string
	}{
		{name: "install", args: []string{"install", "--config", good, "--log-level", "debug"}, wantCode: exitOK,
			wantCalls: []string{"install run --config " + good + " --log-level debug"}, wantOut: "service havip installed"},
		{name: "install checks the config first", args: []string{"install", "--config", bad}, wantCode: exitUsage,
			wantErr: "priority"},
		{name: "install with a bad level", args: []string{"install", "--config", good, "--log-level", "loud"}, wantCode: exitUsage,
			wantErr: "--log-level"},
		{name: "start", args: []string{"start"}, wantCode: exitOK, wantCalls: []string{"start"}, wantOut: "service havip started"},
		{name: "stop waits for the release", args: []string{"stop"}, wantCode: exitOK, wantCalls: []string{"stop 30s"}},
		{name: "uninstall", args: []string{"uninstall"}, wantCode: exitOK, wantCalls: []string{"uninstall"}},
		{name: "failure", args: []string{"start"}, err: errors.New("Access is denied."), wantCode: exitRuntime,
			wantCalls: []string{"start"}, wantErr: "havip service start: Access is denied."},
		{name: "no action", args: nil, wantCode: exitUsage, wantErr: "Usage:"},
		{name: "unknown action", args: []string{"restart"}, wantCode: exitUsage, wantErr: `unknown action "restart"`},
		{name: "stray argument", args: []string{"start", "now"}, wantCode: exitUsage, wantErr: `unexpected argument "now"`},
		{name: "flag of another action", args: []string{"stop", "--config", good}, wantCode: exitUsage, wantErr: "unknown flag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeServices{err: tt.err}
			withFakeServices(t, f)
			var out, errb bytes.Buffer
			code := run(append([]string{"service"}, tt.args...), &out, &errb)
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, tt.wantCode, errb.String())
			}
			if diff := cmp.Diff(tt.wantCalls, f.calls); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
			if !strings.Contains(out.String(), tt.wantOut) {
				t.Errorf("stdout %q does not contain %q", out.String(), tt.wantOut)
			}
			if !strings.Contains(errb.String(), tt.wantErr) {
				t.Errorf("stderr %q does not contain %q", errb.String(), tt.wantErr)
			}
		})
	}
}

// Without Windows services the subcommand is a usage error that says so.
func TestServiceElsewhere(t *testing.T) {
	old := openServiceManager
	openServiceManager = func() (serviceManager, error) { return nil, errNoServices }
	defer func() { openServiceManager = old }()
	var out, errb bytes.Buffer
	if code := run([]string{"service", "start"}, &out, &errb); code != exitUsage {
		t.Errorf("exit code %d, want %d", code, exitUsage)
	}
	if !strings.Contains(errb.String(), "Windows feature") {
		t.Errorf("stderr %q", errb.String())
	}
}

// A stop request cancels the daemon's context and waits for it to finish
// (release, leave) before reporting its exit code.
func TestServiceLoopStop(t *testing.T) {
	stop := make(chan struct{})
	released := make(chan struct{})
	result := make(chan int, 1)
	go func() {
		result <- serviceLoop(func(ctx context.Context) int {
			<-ctx.Done()
			time.Sleep(20 * time.Millisecond) // the handover
			close(released)
			return exitOK
		}, stop)
	}()
	close(stop)
	select {
	case code := <-result:
		select {
		case <-released:
		default:
			t.Error("serviceLoop returned before the daemon finished")
		}
		if code != exitOK {
			t.Errorf("exit code %d", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("serviceLoop did not return after stop")
	}
}

// A daemon that fails on its own ends the loop with its code.
func TestServiceLoopFailure(t *testing.T) {
	code := serviceLoop(func(ctx context.Context) int { return exitUsage }, make(chan struct{}))
	if code != exitUsage {
		t.Errorf("exit code %d, want %d", code, exitUsage)
	}
}

type logLine struct {
	level slog.Level
	line  string
}

func TestLineHandler(t *testing.T) {
	var got []logLine
	sink := func(l slog.Level, s string) error { got = append(got, logLine{l, s}); return nil }
	logger := slog.New(newLineHandler(slog.LevelInfo, "text", sink)).With("node", "ecs-a")
	logger.Debug("hidden")
	logger.Info("VIPs added", "vip", "192.0.2.22/32")
	logger.WithGroup("g").Warn("link changed", "up", false)
	logger.Error("havip stopped", "err", "boom")

	var levels []slog.Level
	for _, l := range got {
		levels = append(levels, l.level)
		if strings.Contains(l.line, "\n") {
			t.Errorf("line %q has a newline", l.line)
		}
	}
	if diff := cmp.Diff([]slog.Level{slog.LevelInfo, slog.LevelWarn, slog.LevelError}, levels); diff != "" {
		t.Errorf("levels (-want +got):\n%s", diff)
	}
	for i, want := range []string{`msg="VIPs added" node=ecs-a vip=192.0.2.22/32`, `msg="link changed" node=ecs-a g.up=false`, `msg="havip stopped" node=ecs-a err=boom`} {
		if i < len(got) && !strings.Contains(got[i].line, want) {
			t.Errorf("line %d %q does not contain %q", i, got[i].line, want)
		}
	}

	got = nil
	slog.New(newLineHandler(slog.LevelInfo, "json", sink)).Info("x", "k", 1)
	if len(got) != 1 || !strings.HasPrefix(got[0].line, "{") || !strings.Contains(got[0].line, `"k":1`) {
		t.Errorf("json line: %+v", got)
	}
}

func TestSinkWriter(t *testing.T) {
	var got []logLine
	w := &sinkWriter{sink: func(l slog.Level, s string) error { got = append(got, logLine{l, s}); return nil }}
	printConfigError(w, errors.New("havip.toml: instance \"web\": priority: 300 is out of range"))
	w.Write([]byte("a\n\nb\n"))
	want := []logLine{
		{slog.LevelError, `havip.toml: instance "web": priority: 300 is out of range`},
		{slog.LevelError, "a"}, {slog.LevelError, "b"},
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(logLine{})); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
}

// The daemon's own flags still apply under a handler: a bad level or
// format is a usage error before anything starts.
func TestRunDaemonHandlerFlags(t *testing.T) {
	var errb bytes.Buffer
	called := false
	nh := func(slog.Level, string) (slog.Handler, error) { called = true; return slog.DiscardHandler, nil }
	if code := runDaemon(context.Background(), []string{"--log-format", "xml"}, &errb, nh); code != exitUsage {
		t.Errorf("exit code %d, want %d", code, exitUsage)
	}
	if called {
		t.Error("handler made for a bad format")
	}
}
