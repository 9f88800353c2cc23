package preflight

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// peers connects to each peer's memberlist port over TCP. memberlist
// also needs UDP on the same port, which a connect cannot test.
func (c *checker) peers(ctx context.Context) {
	if c.o.Dial == nil || len(c.cfg.Cluster.Peers) == 0 {
		return
	}
	timeout := c.o.DialTimeout
	if timeout <= 0 {
		timeout = time.Second
	}
	errs := make([]error, len(c.cfg.Cluster.Peers))
	var wg sync.WaitGroup
	for i, p := range c.cfg.Cluster.Peers {
		wg.Go(func() {
			dctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			conn, err := c.o.Dial(dctx, "tcp", p)
			if err == nil {
				conn.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, p := range c.cfg.Cluster.Peers {
		if errs[i] == nil {
			c.add(Info, "peer", "", "%s answers on TCP", p)
			continue
		}
		c.add(Warning, "peer",
			"start havip there, and allow TCP and UDP on this port between the members (security group, firewalld or ufw)",
			"%s does not answer on TCP: %v", p, errs[i])
	}
}

// permissions checks the directory of the key file: config.Load has
// refused a key (and a configuration) that other users may read or
// change, but whoever may change the directory can replace the key.
func (c *checker) permissions() {
	if !modeBits {
		return
	}
	if f := c.cfg.Cluster.SecretKeyFile; f != "" {
		c.secretDir(f, "secret key")
	}
}

func (c *checker) secretDir(p, what string) {
	dir := filepath.Dir(p)
	if di, err := os.Stat(dir); err == nil && di.Mode().Perm()&0o002 != 0 && di.Mode()&os.ModeSticky == 0 {
		c.add(Error, "permissions", "chmod o-w "+dir,
			"directory %s of the %s file is writable by other users (mode %04o): anyone can replace the key", dir, what, di.Mode().Perm())
	}
}

// SystemDial probes peers with the system's resolver and TCP stack.
var SystemDial DialFunc = (&net.Dialer{}).DialContext
