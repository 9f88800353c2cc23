package notify

import (
	"context"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/havip/havip/config"
	"github.com/havip/havip/internal/proc"
)

// TestOrder pushes events while the first command is still running: Push
// must not wait, and the commands must run one at a time in push order.
func TestOrder(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	var got []string
	running := 0
	q := NewQueue(func(ctx context.Context, _ *proc.Credential, argv, env []string, timeout time.Duration) proc.Result {
		mu.Lock()
		running++
		if running > 1 {
			t.Error("two commands run at once")
		}
		got = append(got, argv[len(argv)-2])
		first := len(got) == 1
		mu.Unlock()
		if first {
			<-release
		}
		mu.Lock()
		running--
		mu.Unlock()
		return proc.Result{}
	}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go q.Run(ctx)

	states := []string{"BACKUP", "MASTER", "FAULT", "BACKUP", "MASTER"}
	start := time.Now()
	for _, s := range states {
		q.Push(Event{Instance: "web", State: s, Command: []string{"/x"}, Timeout: time.Second})
	}
	if el := time.Since(start); el > 100*time.Millisecond {
		t.Errorf("Push blocked for %v", el)
	}
	close(release)
	select {
	case <-waitIdle(q):
	case <-time.After(5 * time.Second):
		t.Fatal("queue not idle after 5s")
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(got, " ") != strings.Join(states, " ") {
		t.Errorf("ran %v, want %v", got, states)
	}
}

func waitIdle(q *Queue) <-chan struct{} {
	c := make(chan struct{})
	go func() {
		// Idle may be read before the first event is taken.
		for {
			<-q.Idle()
			q.mu.Lock()
			empty := len(q.pending) == 0 && !q.busy
			q.mu.Unlock()
			if empty {
				close(c)
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	return c
}

// TestRealCommand runs real commands: arguments and environment reach
// them, a failure reports its exit status and stderr, a hanging one is
// killed at its timeout and the next still runs.
func TestRealCommand(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	script := `printf '%s %s %s|%s %s %s %s\n' "$1" "$2" "$3" "$HAVIP_NODE" "$HAVIP_INSTANCE" "$HAVIP_STATE" "$HAVIP_VIPS" >> "` + out + `"`
	var mu sync.Mutex
	var results []proc.Result
	q := NewQueue(nil, nil)
	q.OnDone = func(e Event, r proc.Result) {
		mu.Lock()
		results = append(results, r)
		mu.Unlock()
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go q.Run(ctx)

	ev := Event{Node: "n1", Instance: "web", VIPs: []string{"10.0.0.5/32", "10.0.0.6/32"}, Timeout: 5 * time.Second}
	e1 := ev
	e1.State, e1.Command = "MASTER", []string{"/bin/sh", "-c", script, "sh"}
	e2 := ev
	e2.State, e2.Command = "FAULT", []string{"/bin/sh", "-c", "echo broken >&2; exit 7"}
	e3 := ev
	e3.State, e3.Command, e3.Timeout = "BACKUP", []string{"/bin/sh", "-c", "sleep 30"}, 200*time.Millisecond
	e4 := ev
	e4.State, e4.Command = "BACKUP", []string{"/bin/sh", "-c", script, "sh"}
	for _, e := range []Event{e1, e2, e3, e4} {
		q.Push(e)
	}
	select {
	case <-waitIdle(q):
	case <-time.After(10 * time.Second):
		t.Fatal("queue not idle after 10s")
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want := "web MASTER 10.0.0.5/32,10.0.0.6/32|n1 web MASTER 10.0.0.5/32,10.0.0.6/32\n" +
		"web BACKUP 10.0.0.5/32,10.0.0.6/32|n1 web BACKUP 10.0.0.5/32,10.0.0.6/32\n"
	if string(data) != want {
		t.Errorf("hooks wrote\n%s\nwant\n%s", data, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(results) != 4 {
		t.Fatalf("%d results, want 4", len(results))
	}
	if r := results[1]; r.ExitCode != 7 || r.Stderr != "broken" {
		t.Errorf("failing hook: %+v, want exit 7 and stderr", r)
	}
	if r := results[2]; !r.TimedOut {
		t.Errorf("hanging hook: %+v, want a timeout", r)
	}
}

// TestArgs checks the arguments each kind of command gets: the state
// commands havip's, the command of every transition keepalived's.
func TestArgs(t *testing.T) {
	e := Event{Node: "n1", Instance: "web", State: "STOP", VIPs: []string{"10.0.0.5/24", "10.0.0.6/32"}, Priority: 90, Command: []string{"/x", "-v"}}
	if got, want := strings.Join(e.Argv(), " "), "/x -v web STOP 10.0.0.5/24,10.0.0.6/32"; got != want {
		t.Errorf("state command argv %q, want %q", got, want)
	}
	e.Args = KeepalivedArgs
	if got, want := strings.Join(e.Argv(), " "), "/x -v INSTANCE web STOP 90"; got != want {
		t.Errorf("keepalived argv %q, want %q", got, want)
	}
	if env := strings.Join(e.Env(), "\n"); !strings.Contains(env, "\nHAVIP_PRIORITY=90") || !strings.Contains(env, "\nHAVIP_STATE=STOP") {
		t.Errorf("environment lacks the priority or the state:\n%s", env)
	}
}

// TestRunAs hands the runner the credential of the event's user, and
// fails an event whose user does not exist without running it.
func TestRunAs(t *testing.T) {
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("needs the user nobody on this host: %v", err)
	}
	var mu sync.Mutex
	var creds []*proc.Credential
	q := NewQueue(func(_ context.Context, cred *proc.Credential, _, _ []string, _ time.Duration) proc.Result {
		mu.Lock()
		creds = append(creds, cred)
		mu.Unlock()
		return proc.Result{}
	}, nil)
	var results []proc.Result
	q.OnDone = func(_ Event, r proc.Result) {
		mu.Lock()
		results = append(results, r)
		mu.Unlock()
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go q.Run(ctx)
	q.Push(Event{Instance: "web", State: "MASTER", Command: []string{"/x"}, Timeout: time.Second, RunAs: config.RunAs{User: "nobody"}})
	q.Push(Event{Instance: "web", State: "BACKUP", Command: []string{"/x"}, Timeout: time.Second, RunAs: config.RunAs{User: "no-such-user-here"}})
	q.Push(Event{Instance: "web", State: "FAULT", Command: []string{"/x"}, Timeout: time.Second})
	select {
	case <-waitIdle(q):
	case <-time.After(5 * time.Second):
		t.Fatal("queue not idle after 5s")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(creds) != 2 || creds[0] == nil || strconv.FormatUint(uint64(creds[0].UID), 10) != u.Uid || creds[1] != nil {
		t.Fatalf("credentials %+v, want nobody's, then none (the missing user's command never runs)", creds)
	}
	if len(results) != 3 || results[1].OK() || !strings.Contains(results[1].Summary(), "no-such-user-here") {
		t.Errorf("results %+v, want the second failed naming its user", results)
	}
}
