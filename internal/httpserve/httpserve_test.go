package httpserve

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// listen opens a TCP listener on the loopback.
func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// start runs Serve in a goroutine and returns the channel of its result.
func start(ctx context.Context, ln net.Listener, h http.Handler, opts ...Option) <-chan error {
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, h, opts...) }()
	return done
}

// wait returns Serve's result, failing the test if it does not come.
func wait(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
		return nil
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return string(b)
}

func TestServeUntilCancelled(t *testing.T) {
	ln := listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := start(ctx, ln, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "hello")
	}))
	if got := get(t, "http://"+ln.Addr().String()+"/"); got != "hello" {
		t.Errorf("body %q, want %q", got, "hello")
	}
	cancel()
	if err := wait(t, done); err != nil {
		t.Errorf("Serve after cancel: %v, want nil", err)
	}
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Serve returned: %v, want the listener closed", err)
	}
}

// failingListener fails its first Accept.
type failingListener struct {
	net.Listener
	err error
}

func (l failingListener) Accept() (net.Conn, error) { return nil, l.err }

func TestServeListenerFails(t *testing.T) {
	boom := errors.New("boom")
	ln := failingListener{Listener: listen(t), err: boom}
	err := wait(t, start(context.Background(), ln, http.NotFoundHandler()))
	if !errors.Is(err, boom) {
		t.Errorf("Serve on a failing listener: %v, want %v", err, boom)
	}
}

func TestServeWaitsForRequestsInFlight(t *testing.T) {
	ln := listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	entered, release := make(chan struct{}), make(chan struct{})
	done := start(ctx, ln, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		close(entered)
		<-release
		io.WriteString(w, "late")
	}))
	body := make(chan string, 1)
	go func() { body <- get(t, "http://"+ln.Addr().String()+"/") }()
	<-entered
	cancel()
	select {
	case err := <-done:
		t.Fatalf("Serve returned (%v) with a request in flight", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	if got := <-body; got != "late" {
		t.Errorf("request in flight at shutdown: body %q, want %q", got, "late")
	}
	if err := wait(t, done); err != nil {
		t.Errorf("Serve after cancel: %v, want nil", err)
	}
}

func TestServeShutdownGrace(t *testing.T) {
	ln := listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	entered, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	done := start(ctx, ln, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		close(entered)
		<-release
	}), WithShutdownGrace(50*time.Millisecond))
	go func() {
		if resp, err := http.Get("http://" + ln.Addr().String() + "/"); err == nil {
			resp.Body.Close()
		}
	}()
	<-entered
	began := time.Now()
	cancel()
	if err := wait(t, done); err != nil {
		t.Errorf("Serve after the grace: %v, want nil", err)
	}
	if took := time.Since(began); took > 2*time.Second {
		t.Errorf("Serve returned %v after cancel, want about the 50ms grace", took)
	}
}

func TestServeErrorLog(t *testing.T) {
	ln := listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var buf syncBuffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	done := start(ctx, ln, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("handler broke")
	}), WithLogger(log))
	if resp, err := http.Get("http://" + ln.Addr().String() + "/"); err == nil {
		resp.Body.Close()
	}
	cancel()
	if err := wait(t, done); err != nil {
		t.Errorf("Serve after cancel: %v, want nil", err)
	}
	if got := buf.String(); !strings.Contains(got, "level=WARN") || !strings.Contains(got, "handler broke") {
		t.Errorf("the server's error log went elsewhere; the logger has %q", got)
	}
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
