package httpserve_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"

	"github.com/havip/havip/internal/httpserve"
)

// Serve runs as one task among others: it answers until its context
// ends, and a cancelled context is a clean stop.
func ExampleServe() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "hello") })
		done <- httpserve.Serve(ctx, ln, h, httpserve.WithLogger(slog.Default()))
	}()

	resp, err := http.Get("http://" + ln.Addr().String() + "/")
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(string(body))

	cancel()
	fmt.Println("stopped:", <-done)
	// Output:
	// hello
	// stopped: <nil>
}
