package httpserve

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Connections beyond the cap wait until one is done; none is refused.
func TestServeMaxConns(t *testing.T) {
	ln := listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	entered := make(chan string, 3)
	release := make(chan struct{})
	done := start(ctx, ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- r.URL.Path
		<-release
		io.WriteString(w, r.URL.Path)
	}), WithMaxConns(2))
	// Without keep-alive, each connection ends with its request.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	bodies := make(chan error, 3)
	for _, p := range []string{"/1", "/2", "/3"} {
		go func() {
			resp, err := client.Get("http://" + ln.Addr().String() + p)
			if err == nil {
				resp.Body.Close()
			}
			bodies <- err
		}()
	}
	first := map[string]bool{<-entered: true, <-entered: true}
	select {
	case p := <-entered:
		t.Fatalf("request %s served while two connections are open, with at most 2 (first %v)", p, first)
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	<-entered // the third, once a connection is free
	for range 3 {
		if err := <-bodies; err != nil {
			t.Error(err)
		}
	}
	cancel()
	if err := wait(t, done); err != nil {
		t.Errorf("Serve after cancel: %v", err)
	}
}

// A client that stops sending its request, or leaves a kept-alive
// connection idle, is disconnected.
func TestServeReadAndIdleTimeouts(t *testing.T) {
	ln := listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := start(ctx, ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			return
		}
		io.WriteString(w, "ok")
	}), WithReadTimeout(100*time.Millisecond), WithIdleTimeout(100*time.Millisecond))

	// Headers in time, then 10 of the 100 bytes promised.
	c := dial(t, ln)
	fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
	waitClosed(t, c)

	// One request answered, then nothing on the kept-alive connection.
	c = dial(t, ln)
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	waitClosed(t, c)

	cancel()
	if err := wait(t, done); err != nil {
		t.Errorf("Serve after cancel: %v", err)
	}
}

// A client that does not read the reply does not hold the handler.
func TestServeWriteTimeout(t *testing.T) {
	ln := listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	failed := make(chan error, 1)
	done := start(ctx, ln, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		chunk := []byte(strings.Repeat("x", 64<<10))
		for {
			if _, err := w.Write(chunk); err != nil {
				failed <- err
				return
			}
		}
	}), WithWriteTimeout(100*time.Millisecond))
	c := dial(t, ln)
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	select {
	case <-failed:
	case <-time.After(10 * time.Second):
		t.Fatal("the handler still writes to a client that reads nothing")
	}
	cancel()
	if err := wait(t, done); err != nil {
		t.Errorf("Serve after cancel: %v", err)
	}
}

func dial(t *testing.T, ln net.Listener) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// waitClosed reads c until the server closes it.
func waitClosed(t *testing.T, c net.Conn) {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, c); err != nil {
		t.Errorf("the server kept the connection open: %v", err)
	}
}
