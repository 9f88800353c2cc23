package testbed

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// AddVeth creates a veth pair with ends a and b inside node i's
// namespace and sets both up: an extra interface (eth1, say) for a node
// to track, whose state the test controls with SetLink.
func (n *Net) AddVeth(i int, a, b string) error {
	if i < 0 || i >= len(n.Nodes) {
		return fmt.Errorf("testbed: no node %d", i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	ns := n.Nodes[i].NS
	for _, args := range [][]string{
		{"-n", ns, "link", "add", a, "type", "veth", "peer", "name", b},
		{"-n", ns, "link", "set", "dev", a, "up"},
		{"-n", ns, "link", "set", "dev", b, "up"},
	} {
		if err := n.ip(ctx, args...); err != nil {
			return err
		}
	}
	return nil
}

// SetLink sets interface name in node i's namespace up or down.
func (n *Net) SetLink(i int, name string, up bool) error {
	if i < 0 || i >= len(n.Nodes) {
		return fmt.Errorf("testbed: no node %d", i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	state := "down"
	if up {
		state = "up"
	}
	return n.ip(ctx, "-n", n.Nodes[i].NS, "link", "set", "dev", name, state)
}

// HTTPGet fetches url from inside namespace ns and returns the body of a
// 200 answer. The connection is opened in ns (see DialIn), so a service
// bound to 127.0.0.1 there is reachable, and nothing leaves ns.
func (n *Net) HTTPGet(ctx context.Context, ns, url string) ([]byte, error) {
	c := &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				return DialIn(ctx, ns, network, addr)
			},
			DisableKeepAlives: true,
		},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return body, fmt.Errorf("GET %s in %s: %s", url, ns, resp.Status)
	}
	return body, nil
}
