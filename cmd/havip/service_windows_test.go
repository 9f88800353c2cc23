package main

import (
	"context"
	"testing"
	"time"

	"golang.org/x/sys/windows/svc"
)

// The handler reports Running, answers Interrogate, and on Stop reports
// StopPending, cancels the daemon's context and returns its exit code.
func TestHandlerStop(t *testing.T) {
	stopped := make(chan struct{})
	h := &handler{run: func(ctx context.Context) int {
		<-ctx.Done()
		close(stopped)
		return exitOK
	}}
	requests := make(chan svc.ChangeRequest)
	status := make(chan svc.Status, 8)
	type result struct {
		ssec bool
		code uint32
	}
	done := make(chan result, 1)
	go func() {
		ssec, code := h.Execute(nil, requests, status)
		done <- result{ssec, code}
	}()
	if s := <-status; s.State != svc.StartPending {
		t.Fatalf("first status %d, want StartPending", s.State)
	}
	running := <-status
	if running.State != svc.Running || running.Accepts&svc.AcceptStop == 0 || running.Accepts&svc.AcceptShutdown == 0 {
		t.Fatalf("second status %+v, want Running accepting stop and shutdown", running)
	}
	requests <- svc.ChangeRequest{Cmd: svc.Interrogate, CurrentStatus: running}
	if s := <-status; s != running {
		t.Errorf("Interrogate answered %+v", s)
	}
	requests <- svc.ChangeRequest{Cmd: svc.Stop}
	if s := <-status; s.State != svc.StopPending {
		t.Errorf("status after Stop %d, want StopPending", s.State)
	}
	select {
	case r := <-done:
		select {
		case <-stopped:
		default:
			t.Error("Execute returned before the daemon stopped")
		}
		if r.ssec || r.code != 0 {
			t.Errorf("Execute = %t, %d; want false, 0", r.ssec, r.code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Execute did not return after Stop")
	}
}

// A daemon that fails reports its exit code as a service-specific one.
func TestHandlerFailure(t *testing.T) {
	h := &handler{run: func(ctx context.Context) int { return exitUsage }}
	status := make(chan svc.Status, 8)
	ssec, code := h.Execute(nil, make(chan svc.ChangeRequest), status)
	if !ssec || code != exitUsage {
		t.Errorf("Execute = %t, %d; want true, %d", ssec, code, exitUsage)
	}
}
