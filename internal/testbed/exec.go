package testbed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Exec runs argv inside namespace ns (ip netns exec) and returns its
// standard output. A failure is a *CmdError carrying the standard error;
// ExitCode(err) gives the exit code.
func (n *Net) Exec(ctx context.Context, ns string, argv ...string) ([]byte, error) {
	out, _, err := n.ExecFull(ctx, ns, argv...)
	return out, err
}

// ExecFull is Exec that also returns the standard error, whether the
// command succeeded or not.
func (n *Net) ExecFull(ctx context.Context, ns string, argv ...string) (stdout, stderr []byte, err error) {
	if len(argv) == 0 {
		return nil, nil, errors.New("testbed: exec: empty command")
	}
	args := append([]string{"netns", "exec", ns}, argv...)
	cmd := exec.CommandContext(ctx, "ip", args...)
	var outBuf, errBuf strings.Builder
	cmd.Stdout = &outBuf
	cmd.Stderr = &errBuf
	cmd.WaitDelay = 5 * time.Second
	err = cmd.Run()
	stdout, stderr = []byte(outBuf.String()), []byte(errBuf.String())
	if err != nil {
		err = &CmdError{Argv: append([]string{"ip"}, args...), Stderr: errBuf.String(), Err: err}
	}
	return stdout, stderr, err
}

// Proc is a long-running process started in a namespace with Start. Signals
// go to its PID only, and never after it has been reaped.
type Proc struct {
	// NS is the namespace it runs in, Argv what it runs.
	NS   string
	Argv []string
	// PID is the process id: ip netns exec replaces itself with argv[0], so
	// this is the process of argv itself.
	PID int

	cmd   *exec.Cmd
	done  chan struct{}
	state *os.ProcessState
}

// ErrWaitTimeout is returned by Proc.Wait when the process is still running.
var ErrWaitTimeout = errors.New("process still running")

// Start starts argv in namespace ns with the given standard output and
// error (an *os.File is handed to the process as is; nil discards). The
// process is ended by Close if it still runs then.
func (n *Net) Start(ns string, argv []string, stdout, stderr io.Writer) (*Proc, error) {
	if len(argv) == 0 {
		return nil, errors.New("testbed: start: empty command")
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil, errors.New("testbed: start: topology closed")
	}
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns}, argv...)...)
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s in %s: %w", strings.Join(argv, " "), ns, err)
	}
	p := &Proc{NS: ns, Argv: argv, PID: cmd.Process.Pid, cmd: cmd, done: make(chan struct{})}
	go func() {
		// The error only repeats the exit status or reports an output
		// copy failure; the state says how it ended.
		_ = cmd.Wait()
		p.state = cmd.ProcessState
		close(p.done)
	}()
	n.procs = append(n.procs, p)
	return p, nil
}

// Signal sends sig to the process; os.ErrProcessDone once it has exited.
func (p *Proc) Signal(sig os.Signal) error {
	if p.Exited() {
		return os.ErrProcessDone
	}
	return p.cmd.Process.Signal(sig)
}

// Kill sends SIGKILL to the process.
func (p *Proc) Kill() error { return p.Signal(syscall.SIGKILL) }

// Done is closed when the process has exited and been reaped.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Wait waits up to timeout for the process to exit and returns how it
// ended (ExitCode() is -1 after a signal), or ErrWaitTimeout.
func (p *Proc) Wait(timeout time.Duration) (*os.ProcessState, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.done:
		return p.state, nil
	case <-t.C:
		return nil, fmt.Errorf("pid %d (%s): %w after %v", p.PID, p.Argv[0], ErrWaitTimeout, timeout)
	}
}

// Stop sends SIGTERM, waits up to grace, then sends SIGKILL and waits
// again. It returns how the process ended and whether it had to be killed.
func (p *Proc) Stop(grace time.Duration) (state *os.ProcessState, killed bool, err error) {
	if err := p.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return nil, false, err
	}
	if st, err := p.Wait(grace); err == nil {
		return st, false, nil
	}
	if err := p.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return nil, true, err
	}
	st, err := p.Wait(10 * time.Second)
	return st, true, err
}
