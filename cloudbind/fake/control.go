package fake

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// ControlHandler lets a test drive a fake running in another process:
// GET /state, PUT /pairs/{port} with a JSON list of addresses, POST
// /fault with a Fault.
func (s *Server) ControlHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /state", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, s.State())
	})
	mux.HandleFunc("PUT /pairs/{id}", func(w http.ResponseWriter, r *http.Request) {
		var ips []string
		if err := json.NewDecoder(r.Body).Decode(&ips); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		if err := s.SetPairs(r.PathValue("id"), ips...); err != nil {
			http.Error(w, err.Error(), 404)
			return
		}
		w.WriteHeader(204)
	})
	mux.HandleFunc("POST /fault", func(w http.ResponseWriter, r *http.Request) {
		var f Fault
		if err := json.NewDecoder(r.Body).Decode(&f); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		s.Inject(f)
		w.WriteHeader(204)
	})
	return mux
}

// Control is a client of ControlHandler on a unix socket.
type Control struct {
	Socket string
}

func (c Control) client() *http.Client {
	return &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", c.Socket)
		}},
	}
}

func (c Control) do(method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "http://fake"+path, body)
	if err != nil {
		return err
	}
	resp, err := c.client().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("fake %s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(b)))
	}
	if out != nil {
		return json.NewDecoder(resp.Body).Decode(out)
	}
	return nil
}

// State fetches the fake's state.
func (c Control) State() (State, error) {
	var st State
	err := c.do("GET", "/state", nil, &st)
	return st, err
}

// SetPairs changes a port's allowed_address_pairs.
func (c Control) SetPairs(port string, ips ...string) error {
	if ips == nil {
		ips = []string{}
	}
	return c.do("PUT", "/pairs/"+port, ips, nil)
}

// Inject queues a fault.
func (c Control) Inject(f Fault) error { return c.do("POST", "/fault", f, nil) }
