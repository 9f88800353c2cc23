package proc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// StderrLimit is how many bytes of a command's standard error a Result
// keeps.
const StderrLimit = 512

// Result is how one run of a command ended.
type Result struct {
	// ExitCode is the exit status; -1 when the command did not start or
	// was ended by a signal.
	ExitCode int
	// TimedOut is set when the timeout ended the command.
	TimedOut bool
	// Err is why the command did not start, or how it ended when it did
	// not exit with status 0; nil on success.
	Err error
	// Stderr holds the first StderrLimit bytes of the standard error.
	Stderr   string
	Duration time.Duration
}

// OK reports whether the command exited with status 0 in time.
func (r Result) OK() bool { return r.Err == nil }

// Summary says how the command ended, for a log line.
func (r Result) Summary() string {
	switch {
	case r.Err == nil:
		return "exit status 0"
	case r.TimedOut:
		return fmt.Sprintf("timed out after %s (process group killed)", r.Duration.Round(time.Millisecond))
	}
	return r.Err.Error()
}

// Credential is the user and group a command runs as, instead of the
// daemon's own.
type Credential struct {
	UID, GID uint32
	// Groups are the supplementary groups; none when empty.
	Groups []uint32
}

// Run runs argv with env (added to nothing: pass os.Environ() to inherit)
// and waits for it, at most timeout. The command runs in a new process
// group; on timeout, or when ctx is done, the whole group gets SIGKILL,
// so children it started cannot outlive it.
func Run(ctx context.Context, argv, env []string, timeout time.Duration) Result {
	return RunAs(ctx, nil, argv, env, timeout)
}

// RunAs is Run with the command running as cred (nil: as the daemon).
// Only unix systems can start a command as another user; elsewhere a
// non-nil cred is a failure, and nothing runs.
func RunAs(ctx context.Context, cred *Credential, argv, env []string, timeout time.Duration) Result {
	if len(argv) == 0 || argv[0] == "" {
		return Result{ExitCode: -1, Err: errors.New("empty command")}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	stderr := &limitBuffer{max: StderrLimit}
	cmd.Stderr = stderr
	setGroup(cmd)
	if err := setCredential(cmd, cred); err != nil {
		return Result{ExitCode: -1, Err: err}
	}
	// A child that keeps stderr open must not hold Wait past the
	// process's end for long.
	cmd.WaitDelay = time.Second
	start := time.Now()
	err := cmd.Run()
	r := Result{ExitCode: -1, Duration: time.Since(start), Stderr: strings.TrimSpace(stderr.String())}
	if cmd.ProcessState != nil {
		r.ExitCode = cmd.ProcessState.ExitCode()
	}
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			r.TimedOut = true
			err = fmt.Errorf("timed out after %s: %w", timeout, err)
		}
		r.Err = err
	}
	return r
}

// limitBuffer keeps the first max bytes written and discards the rest.
type limitBuffer struct {
	buf bytes.Buffer
	max int
}

func (b *limitBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

func (b *limitBuffer) String() string { return b.buf.String() }

// Environ returns the daemon's environment for a command, without what
// belongs to the daemon alone (systemd's notification socket and
// watchdog, inherited sockets), followed by extra ("KEY=value").
func Environ(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		key, _, _ := strings.Cut(kv, "=")
		switch {
		case key == "NOTIFY_SOCKET", strings.HasPrefix(key, "WATCHDOG_"), strings.HasPrefix(key, "LISTEN_"):
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}
