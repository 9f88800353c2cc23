package daemon

import (
	"context"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/havip/havip/config"
	"github.com/havip/havip/election"
	"github.com/havip/havip/internal/proc"
	"github.com/havip/havip/notify"
)

// TestHooks runs an instance's notify commands for a transition and for
// the daemon's stop: the state's own command with havip's arguments,
// then notify.any with keepalived's ("INSTANCE", the instance, the
// state, the priority less the failing weights), in that order.
func TestHooks(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	hook := func(tag string) []string {
		return []string{"/bin/sh", "-c", `echo "$0 $*" >> "` + out + `"`, tag}
	}
	d := &Daemon{name: "n1", log: slog.New(slog.DiscardHandler),
		penalties: map[string]map[string]int{"web": {srcScript + "app": 20, srcTrackIf + "eth2": 10}},
		hooks:     map[string]hookInfo{}, last: map[string]election.Transition{}, queues: map[string]*notify.Queue{}}
	d.metrics = newMetrics(d)
	d.setHooks(config.Instance{Name: "web", Priority: 100, VIPs: []netip.Prefix{netip.MustParsePrefix("10.0.0.5/24")},
		Notify: config.Notify{Master: hook("master"), Stop: hook("stop"), Any: hook("any"), Timeout: 5 * time.Second}})
	d.setHooks(config.Instance{Name: "quiet", Priority: 100, Notify: config.Notify{Timeout: 5 * time.Second}})
	qctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d.qctx = qctx

	d.tmu.Lock()
	q := d.queue("web")
	d.last["web"] = election.Transition{Instance: "web", To: election.StateMaster}
	h := d.hooks["web"]
	d.tmu.Unlock()
	d.pushHooks(q, h, notify.Event{Instance: "web", State: "MASTER", Previous: "BACKUP"})
	d.pushHooks(q, h, notify.Event{Instance: "web", State: "BACKUP", Previous: "MASTER"})
	d.drainQueues(10 * time.Second)

	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want := "master web MASTER 10.0.0.5/24\n" +
		"any INSTANCE web MASTER 70\n" +
		"any INSTANCE web BACKUP 70\n" +
		"stop web STOP 10.0.0.5/24\n" +
		"any INSTANCE web STOP 70\n"
	if diff := cmp.Diff(want, string(data)); diff != "" {
		t.Errorf("hooks ran (-want +got):\n%s", diff)
	}
	d.tmu.Lock()
	defer d.tmu.Unlock()
	if _, ok := d.queues["quiet"]; ok {
		t.Error("the stop started a queue for an instance without stop commands")
	}
}

// TestHookPriority never tells a command a priority below 1.
func TestHookPriority(t *testing.T) {
	d := &Daemon{penalties: map[string]map[string]int{"web": {srcScript + "app": 200}}}
	if got := d.priority("web", 100); got != 1 {
		t.Errorf("priority = %d, want 1", got)
	}
	if got := d.priority("db", 100); got != 100 {
		t.Errorf("priority without penalties = %d, want 100", got)
	}
}

// TestHookRunAs runs each notify command as its own user when it has
// one, else as the notify table's: the events the queue gets say so.
func TestHookRunAs(t *testing.T) {
	d := &Daemon{name: "n1", penalties: map[string]map[string]int{}}
	n := config.Notify{Master: []string{"/bin/m"}, Backup: []string{"/bin/b"}, Stop: []string{"/bin/s"}, Any: []string{"/bin/any"},
		RunAs:     config.RunAs{User: "keepalived_script"},
		HookRunAs: map[string]config.RunAs{"MASTER": {User: "haproxy", Group: "haproxy"}, config.AnyHook: {User: "root"}},
		Timeout:   5 * time.Second}
	h := hookInfo{notify: n, vips: []string{"10.0.0.5/32"}, priority: 100}

	var got []notify.Event
	q := notify.NewQueue(func(context.Context, *proc.Credential, []string, []string, time.Duration) proc.Result {
		return proc.Result{} // nothing runs
	}, nil)
	q.OnDone = func(e notify.Event, _ proc.Result) { got = append(got, e) }
	d.pushHooks(q, h, notify.Event{Instance: "web", State: "MASTER", Previous: "BACKUP"})
	d.pushHooks(q, h, notify.Event{Instance: "web", State: "BACKUP", Previous: "MASTER"})
	d.pushHooks(q, h, notify.Event{Instance: "web", State: stopState, Previous: "BACKUP"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { q.Run(ctx); close(done) }()
	select {
	case <-q.Idle():
	case <-time.After(10 * time.Second):
		t.Fatal("the queue did not run the commands")
	}
	cancel()
	<-done

	type run struct {
		Command string
		RunAs   config.RunAs
	}
	var runs []run
	for _, e := range got {
		runs = append(runs, run{e.Command[0], e.RunAs})
	}
	want := []run{
		{"/bin/m", config.RunAs{User: "haproxy", Group: "haproxy"}},
		{"/bin/any", config.RunAs{User: "root"}},
		{"/bin/b", config.RunAs{User: "keepalived_script"}},
		{"/bin/any", config.RunAs{User: "root"}},
		{"/bin/s", config.RunAs{User: "keepalived_script"}},
		{"/bin/any", config.RunAs{User: "root"}},
	}
	if diff := cmp.Diff(want, runs); diff != "" {
		t.Errorf("commands queued (-want +got):\n%s", diff)
	}
}
