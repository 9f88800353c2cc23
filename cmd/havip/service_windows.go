package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/eventlog"
	"golang.org/x/sys/windows/svc/mgr"
)

// runningAsService reports whether the service control manager started
// this process.
func runningAsService() bool {
	ok, err := svc.IsWindowsService()
	return err == nil && ok
}

// runService runs `havip run args` as the service: logs go to the event
// log, and a stop or shutdown request cancels the daemon's context.
func runService(args []string) int {
	elog, err := eventlog.Open(serviceName)
	if err != nil {
		// No event source (installed by hand?): nowhere to log, but the
		// daemon still runs.
		elog = nil
	}
	sink := func(level slog.Level, line string) error {
		if elog == nil {
			return nil
		}
		switch {
		case level >= slog.LevelError:
			return elog.Error(1, line)
		case level >= slog.LevelWarn:
			return elog.Warning(1, line)
		default:
			return elog.Info(1, line)
		}
	}
	if elog != nil {
		defer elog.Close()
	}
	h := &handler{run: func(ctx context.Context) int {
		return runDaemon(ctx, args, &sinkWriter{sink: sink}, func(level slog.Level, format string) (slog.Handler, error) {
			return newLineHandler(level, format, sink), nil
		})
	}}
	if err := svc.Run(serviceName, h); err != nil {
		sink(slog.LevelError, "running the service: "+err.Error())
		return exitRuntime
	}
	return h.code
}

// handler is the svc.Handler of havip.
type handler struct {
	run  func(ctx context.Context) int
	code int
}

func (h *handler) Execute(_ []string, requests <-chan svc.ChangeRequest, status chan<- svc.Status) (bool, uint32) {
	status <- svc.Status{State: svc.StartPending}
	stop := make(chan struct{})
	done := make(chan int, 1)
	go func() { done <- serviceLoop(h.run, stop) }()
	running := svc.Status{State: svc.Running, Accepts: svc.AcceptStop | svc.AcceptShutdown}
	status <- running
	for {
		select {
		case h.code = <-done:
			// Ended on its own: a non-zero exit code, reported as a
			// service-specific one (havip's 1 and 2, not Win32 codes),
			// makes the service control manager apply the recovery
			// actions (restart).
			return h.code != 0, uint32(h.code)
		case r := <-requests:
			switch r.Cmd {
			case svc.Interrogate:
				status <- r.CurrentStatus
			case svc.Stop, svc.Shutdown:
				status <- svc.Status{State: svc.StopPending, WaitHint: uint32(stopTimeout / time.Millisecond)}
				close(stop)
				h.code = <-done
				return h.code != 0, uint32(h.code)
			}
		}
	}
}

// winServices is the real serviceManager.
type winServices struct{}

func platformServiceManager() (serviceManager, error) {
	// Connect now so that a missing right (an unelevated prompt) is
	// reported before anything else.
	m, err := mgr.Connect()
	if err != nil {
		return nil, fmt.Errorf("connecting to the service control manager (run from an elevated prompt): %w", err)
	}
	m.Disconnect()
	return winServices{}, nil
}

func withService(f func(*mgr.Mgr, *mgr.Service) error) error {
	m, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("connecting to the service control manager: %w", err)
	}
	defer m.Disconnect()
	s, err := m.OpenService(serviceName)
	if err != nil {
		return fmt.Errorf("service %s: %w", serviceName, err)
	}
	defer s.Close()
	return f(m, s)
}

func (winServices) Install(exe string, args []string) error {
	m, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("connecting to the service control manager: %w", err)
	}
	defer m.Disconnect()
	if s, err := m.OpenService(serviceName); err == nil {
		s.Close()
		return fmt.Errorf("service %s is installed already (havip service uninstall first)", serviceName)
	}
	s, err := m.CreateService(serviceName, exe, mgr.Config{
		DisplayName: "havip",
		Description: "Owns shared virtual IP addresses for a group of servers.",
		StartType:   mgr.StartAutomatic,
	}, args...)
	if err != nil {
		return fmt.Errorf("creating service %s: %w", serviceName, err)
	}
	defer s.Close()
	// Restart after a failure, as Restart=on-failure does in the systemd
	// unit; the counter resets after a day.
	restart := mgr.RecoveryAction{Type: mgr.ServiceRestart, Delay: 5 * time.Second}
	if err := s.SetRecoveryActions([]mgr.RecoveryAction{restart}, 24*60*60); err != nil {
		s.Delete()
		return fmt.Errorf("setting recovery actions of %s: %w", serviceName, err)
	}
	// Also when the daemon stops with an error code rather than crashing
	// (the port taken, the interface missing at start).
	if err := s.SetRecoveryActionsOnNonCrashFailures(true); err != nil {
		s.Delete()
		return fmt.Errorf("setting recovery actions of %s: %w", serviceName, err)
	}
	if err := eventlog.InstallAsEventCreate(serviceName, eventlog.Error|eventlog.Warning|eventlog.Info); err != nil {
		s.Delete()
		return fmt.Errorf("creating event log source %s: %w", serviceName, err)
	}
	return nil
}

func (winServices) Uninstall() error {
	err := withService(func(_ *mgr.Mgr, s *mgr.Service) error {
		if err := s.Delete(); err != nil {
			return fmt.Errorf("deleting service %s: %w", serviceName, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := eventlog.Remove(serviceName); err != nil && !errors.Is(err, windows.ERROR_FILE_NOT_FOUND) {
		return fmt.Errorf("removing event log source %s: %w", serviceName, err)
	}
	return nil
}

func (winServices) Start() error {
	return withService(func(_ *mgr.Mgr, s *mgr.Service) error {
		if err := s.Start(); err != nil {
			return fmt.Errorf("starting service %s: %w", serviceName, err)
		}
		return nil
	})
}

func (winServices) Stop(timeout time.Duration) error {
	return withService(func(_ *mgr.Mgr, s *mgr.Service) error {
		st, err := s.Control(svc.Stop)
		if err != nil {
			return fmt.Errorf("stopping service %s: %w", serviceName, err)
		}
		deadline := time.Now().Add(timeout)
		for st.State != svc.Stopped {
			if time.Now().After(deadline) {
				return fmt.Errorf("service %s did not stop within %s (state %d)", serviceName, timeout, st.State)
			}
			time.Sleep(200 * time.Millisecond)
			if st, err = s.Query(); err != nil {
				return fmt.Errorf("querying service %s: %w", serviceName, err)
			}
		}
		return nil
	})
}
