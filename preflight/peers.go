package preflight

import (
	"context"
	"fmt"
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

// permissions checks the files that hold secrets: readable by root
// alone, in a directory only root can change.
func (c *checker) permissions() {
	if !modeBits {
		return
	}
	if f := c.cfg.Cluster.SecretKeyFile; f != "" {
		c.secretFile(f, "secret key")
	}
	if p := c.cfg.Path; p != "" {
		if fi, err := os.Stat(p); err == nil && fi.Mode().Perm()&0o022 != 0 {
			c.add(Warning, "permissions", fmt.Sprintf("chmod go-w %s", p),
				"%s is writable by other users (mode %04o): whoever can edit it controls what havip does as root",
				p, fi.Mode().Perm())
		}
	}
}

func (c *checker) secretFile(p, what string) {
	fi, err := os.Stat(p)
	if err != nil {
		c.add(Error, "permissions", "", "%s file %s: %v", what, p, err)
		return
	}
	perm := fi.Mode().Perm()
	switch {
	case perm&0o007 != 0:
		c.add(Error, "permissions", "chmod 600 "+p, "%s file %s is open to other users (mode %04o)", what, p, perm)
	case perm&0o070 != 0:
		c.add(Warning, "permissions", "chmod 600 "+p, "%s file %s is open to its group (mode %04o)", what, p, perm)
	}
	if uid, ok := fileOwner(fi); ok && uid != 0 && os.Geteuid() == 0 {
		c.add(Warning, "permissions", "chown root: "+p, "%s file %s belongs to uid %d, not root", what, p, uid)
	}
	dir := filepath.Dir(p)
	if di, err := os.Stat(dir); err == nil && di.Mode().Perm()&0o002 != 0 && di.Mode()&os.ModeSticky == 0 {
		c.add(Error, "permissions", "chmod o-w "+dir,
			"directory %s of the %s file is writable by other users (mode %04o): anyone can replace the key", dir, what, di.Mode().Perm())
	}
}

// SystemDial probes peers with the system's resolver and TCP stack.
var SystemDial DialFunc = (&net.Dialer{}).DialContext
