// Command fakecloud serves the fake cloud of package fake on a TCP
// address, for tests that run havip in network namespaces, with its
// control API on a unix socket.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/havip/havip/cloudbind/fake"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "address of the cloud APIs and the metadata service")
	conf := flag.String("config", "", "JSON file of fake.Config")
	control := flag.String("control", "", "unix socket of the control API")
	flag.Parse()
	if err := run(*listen, *conf, *control); err != nil {
		fmt.Fprintln(os.Stderr, "fakecloud:", err)
		os.Exit(1)
	}
}

func run(listen, conf, control string) error {
	data, err := os.ReadFile(conf)
	if err != nil {
		return err
	}
	var cfg fake.Config
	if err := json.Unmarshal(data, &cfg); err != nil {
		return fmt.Errorf("%s: %w", conf, err)
	}
	s := fake.New(cfg)
	api, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	_ = os.Remove(control)
	ctl, err := net.Listen("unix", control)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	srvs := []*http.Server{
		{Handler: logged(s.Handler()), ReadHeaderTimeout: 5 * time.Second},
		{Handler: s.ControlHandler(), ReadHeaderTimeout: 5 * time.Second},
	}
	go srvs[0].Serve(api)
	go srvs[1].Serve(ctl)
	fmt.Println("fakecloud: serving on", api.Addr())
	<-ctx.Done()
	for _, srv := range srvs {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = srv.Shutdown(sctx)
		cancel()
	}
	os.Remove(control)
	return nil
}

func logged(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Printf("%s %s %s %s\n", time.Now().Format("15:04:05.000"), r.RemoteAddr, r.Method, r.URL.RequestURI())
		h.ServeHTTP(w, r)
	})
}
