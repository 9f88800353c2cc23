package cloudbind

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/havip/havip/config"
)

// execProvider runs the operator's commands on acquire and release.
type execProvider struct {
	counter
	cfg  config.Cloud
	opts Options
	log  *slog.Logger
}

func newExec(c config.Cloud, o Options) *execProvider {
	return &execProvider{cfg: c, opts: o, log: o.Logger.With("provider", config.ProviderExec)}
}

func (p *execProvider) Name() string { return config.ProviderExec }
func (p *execProvider) Mode() string { return "" }
func (p *execProvider) Binder(inst config.Instance) Binder {
	return &execBinder{p: p, inst: inst}
}

type execBinder struct {
	p    *execProvider
	inst config.Instance
}

func (b *execBinder) Bind(ctx context.Context) (bool, error) {
	if err := b.run(ctx, "acquire", b.p.cfg.Acquire); err != nil {
		return false, err
	}
	return true, nil
}

func (b *execBinder) Check(context.Context) (bool, error) { return false, ErrNoCheck }

func (b *execBinder) Unbind(ctx context.Context) error {
	if len(b.p.cfg.Release) == 0 {
		return nil
	}
	return b.run(ctx, "release", b.p.cfg.Release)
}

// run runs argv (no shell) with the instance in its environment, up to
// 1 + retries times, each run bounded by the timeout.
func (b *execBinder) run(ctx context.Context, action string, argv []string) error {
	vips := make([]string, len(b.inst.VIPs))
	for i, v := range b.inst.VIPs {
		vips[i] = v.Addr().String()
	}
	env := append(os.Environ(),
		"HAVIP_ACTION="+action,
		"HAVIP_INSTANCE="+b.inst.Name,
		"HAVIP_INTERFACE="+b.inst.Interface,
		"HAVIP_VIPS="+strings.Join(vips, " "),
	)
	var err error
	for n := 1; n <= b.p.cfg.Retries+1; n++ {
		b.p.counter.n.Add(1)
		if err = b.once(ctx, argv, env); err == nil {
			return nil
		}
		if ctx.Err() != nil || n > b.p.cfg.Retries {
			break
		}
		b.p.log.Warn("cloud command failed; retrying", "instance", b.inst.Name, "action", action, "err", err)
		if sleepCtx(ctx, b.p.opts.Retry.backoff(n)) != nil {
			break
		}
	}
	return fmt.Errorf("cloud %s command: %w", action, err)
}

func (b *execBinder) once(ctx context.Context, argv, env []string) error {
	ctx, cancel := context.WithTimeout(ctx, b.p.cfg.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	cmd.WaitDelay = time.Second
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	if err == nil {
		return nil
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%s: no answer within %s", argv[0], b.p.cfg.Timeout)
	}
	msg := strings.TrimSpace(out.String())
	if len(msg) > 300 {
		msg = msg[len(msg)-300:]
	}
	if msg != "" {
		return fmt.Errorf("%s: %w: %s", argv[0], err, msg)
	}
	return fmt.Errorf("%s: %w", argv[0], err)
}
