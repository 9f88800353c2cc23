package cloudbind

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/havip/havip/config"
	"github.com/havip/havip/internal/proc"
)

// execProvider runs the operator's commands on acquire and release, as
// track scripts and notify hooks are run (internal/proc): no shell, a
// process group of their own killed as a whole on timeout, the daemon's
// environment without what belongs to it alone, a bounded standard
// error.
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
	env := proc.Environ(
		"HAVIP_ACTION="+action,
		"HAVIP_INSTANCE="+b.inst.Name,
		"HAVIP_INTERFACE="+b.inst.Interface,
		"HAVIP_VIPS="+strings.Join(vips, " "),
	)
	var r proc.Result
	for n := 1; n <= b.p.cfg.Retries+1; n++ {
		b.p.counter.n.Add(1)
		if r = proc.Run(ctx, argv, env, b.p.cfg.Timeout); r.OK() {
			return nil
		}
		log := b.p.log.With("instance", b.inst.Name, "action", action, "result", r.Summary(), "stderr", r.Stderr)
		if ctx.Err() != nil || n > b.p.cfg.Retries {
			log.Warn("cloud command failed")
			break
		}
		log.Warn("cloud command failed; retrying")
		if sleepCtx(ctx, b.p.opts.Retry.backoff(n)) != nil {
			break
		}
	}
	msg := r.Summary()
	if line, _, _ := strings.Cut(r.Stderr, "\n"); line != "" {
		msg += ": " + line
	}
	return fmt.Errorf("cloud %s command %s: %s", action, argv[0], msg)
}
