package integration

// These tests need no topology and no root: they come first in the run.

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/havip/havip/internal/testbed"
)

// cli runs havip subcommands that should not start a daemon.
type cli struct {
	dir string
	// exec runs the binary with args.
	exec func(ctx context.Context, args ...string) (stdout, stderr []byte, err error)
	// loopback is set when commands run in this machine's own namespace:
	// configurations then bind memberlist to loopback and name loopback
	// peers, so that a daemon that wrongly accepted one could not send
	// anything off the machine.
	loopback bool
}

// memberlistAddr matches the node addresses NodeConfig writes for bind and
// peers.
var memberlistAddr = regexp.MustCompile(`198\.18\.0\.(\d+):`)

// newCLI runs commands inside a one-node topology when it can build one,
// so that a `havip run` that wrongly starts cannot touch this machine's
// network; otherwise (not root) in the current namespace, where an
// unprivileged daemon can neither add addresses nor send ARP.
func newCLI(t *testing.T) *cli {
	t.Helper()
	requireHavip(t)
	c := &cli{dir: t.TempDir()}
	if ok, why := privileged(); !ok {
		t.Logf("running havip in this namespace, loopback addresses only (%s)", why)
		c.loopback = true
		c.exec = func(ctx context.Context, args ...string) ([]byte, []byte, error) {
			cmd := exec.CommandContext(ctx, havipBin, args...)
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			return []byte(stdout.String()), []byte(stderr.String()), err
		}
		return c
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tb, err := testbed.New(ctx, testbed.Options{Nodes: 1})
	if err != nil {
		t.Fatalf("building the topology: %v", err)
	}
	t.Cleanup(func() {
		if err := tb.Close(); err != nil {
			t.Errorf("removing the topology: %v", err)
		}
	})
	c.exec = func(ctx context.Context, args ...string) ([]byte, []byte, error) {
		return tb.ExecFull(ctx, tb.Nodes[0].NS, append([]string{havipBin}, args...)...)
	}
	return c
}

// run runs havip with args and returns its standard error and exit code.
// A command still running after cmdWait is killed and fails the test.
func (c *cli) run(t *testing.T, args ...string) (stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdWait)
	defer cancel()
	_, errOut, err := c.exec(ctx, args...)
	if ctx.Err() != nil {
		t.Fatalf("havip %s still ran after %v (killed): %s", strings.Join(args, " "), cmdWait, errOut)
	}
	code = testbed.ExitCode(err)
	if err != nil && code == -1 {
		t.Fatalf("havip %s: %v", strings.Join(args, " "), err)
	}
	return string(errOut), code
}

// write writes node 0's configuration for opts, passed through edit when
// not nil, to name in the test's directory and returns its path.
func (c *cli) write(t *testing.T, name string, opts testbed.ClusterOpts, edit func(string) string) string {
	t.Helper()
	opts.SocketDir = c.dir
	text := testbed.NodeConfig(0, opts)
	if edit != nil {
		text = edit(text)
	}
	if c.loopback {
		text = memberlistAddr.ReplaceAllString(text, "127.0.0.$1:")
	}
	path := filepath.Join(c.dir, name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func cliOpts() testbed.ClusterOpts {
	return testbed.ClusterOpts{
		Nodes:  2,
		Timing: "fast",
		Instances: []testbed.InstanceOpts{{
			Name:     "web",
			VIPs:     []netip.Addr{testbed.VIP4(0)},
			Priority: []int{150, 100},
			Preempt:  true,
		}},
	}
}

func TestBadConfigExits2(t *testing.T) {
	c := newCLI(t)

	good := c.write(t, "good.toml", cliOpts(), nil)
	check := []string{"check", "--config", good}
	if c.loopback {
		// This machine is not the topology's node: its interfaces and
		// files say nothing about the configuration.
		check = append(check, "--no-host")
	}
	if stderr, code := c.run(t, check...); code != 0 {
		t.Fatalf("havip check of a good configuration: exit %d, want 0: %s", code, stderr)
	}

	tests := []struct {
		name   string
		modify func(o *testbed.ClusterOpts)
		edit   func(text string) string
		key    string // the key the message must name
	}{
		{
			name:   "priority out of range",
			modify: func(o *testbed.ClusterOpts) { o.Instances[0].Priority = []int{300, 100} },
			key:    "priority",
		},
		{
			name:   "unknown key",
			modify: func(o *testbed.ClusterOpts) { o.Instances[0].Extra = "prioirty = 150" },
			key:    "prioirty",
		},
		{
			name: "vip not an address",
			edit: func(text string) string {
				return strings.Replace(text, `vips = ["198.18.0.100"]`, `vips = ["198.18.0.300"]`, 1)
			},
			key: "vips",
		},
	}
	for k, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := cliOpts()
			if tt.modify != nil {
				tt.modify(&opts)
			}
			path := c.write(t, fmt.Sprintf("bad%d.toml", k), opts, tt.edit)
			for _, sub := range []string{"check", "run"} {
				stderr, code := c.run(t, sub, "--config", path)
				if code != 2 {
					t.Errorf("havip %s: exit %d, want 2; stderr: %s", sub, code, stderr)
				}
				for _, want := range []string{path, tt.key} {
					if !strings.Contains(stderr, want) {
						t.Errorf("havip %s: stderr does not mention %q: %s", sub, want, stderr)
					}
				}
			}
		})
	}
}

func TestStatusUnreachable(t *testing.T) {
	c := newCLI(t)
	missing := filepath.Join(c.dir, "nobody-listens.sock")
	for _, args := range [][]string{
		{"status", "--socket", missing},
		{"status", "--json", "--socket", missing},
	} {
		if stderr, code := c.run(t, args...); code != 1 {
			t.Errorf("havip %s: exit %d, want 1; stderr: %s", strings.Join(args, " "), code, stderr)
		}
	}
}
