package status

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestControlRoundTrip serves control handlers on a real socket and
// calls them with Post: replies decode, refusals keep their code and
// message, unknown fields and other methods are refused.
func TestControlRoundTrip(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "havip.sock")
	l, err := Listen(sock, -1)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := &Server{Socket: sock, Document: sample, Handlers: map[string]http.Handler{
		SwitchoverPath: Handle(func(_ context.Context, r SwitchoverRequest) (SwitchoverReply, error) {
			if r.To == "down" {
				return SwitchoverReply{}, &RequestError{Code: http.StatusConflict, Msg: `"down" is dead`}
			}
			return SwitchoverReply{Instance: r.Instance, To: r.To}, nil
		}),
		MaintenancePath: Handle(func(_ context.Context, r MaintenanceRequest) (MaintenanceReply, error) {
			return MaintenanceReply{Maintenance: r.On, StateFile: "/x/state.json"}, nil
		}),
	}}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, l) }()

	rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer rcancel()
	var sw SwitchoverReply
	if err := Post(rctx, sock, SwitchoverPath, SwitchoverRequest{Instance: "web", To: "b"}, &sw); err != nil {
		t.Fatal(err)
	}
	if sw != (SwitchoverReply{Instance: "web", To: "b"}) {
		t.Errorf("reply %+v", sw)
	}
	err = Post(rctx, sock, SwitchoverPath, SwitchoverRequest{To: "down"}, &sw)
	var re *RequestError
	if !errors.As(err, &re) || re.Code != http.StatusConflict || re.Msg != `"down" is dead` {
		t.Errorf("refusal: %v, want 409 with the message", err)
	}
	var m MaintenanceReply
	if err := Post(rctx, sock, MaintenancePath, MaintenanceRequest{On: true}, &m); err != nil || !m.Maintenance {
		t.Errorf("maintenance: %+v, %v", m, err)
	}
	err = Post(rctx, sock, MaintenancePath, map[string]any{"on": true, "bogus": 1}, &m)
	if !errors.As(err, &re) || re.Code != http.StatusBadRequest || !strings.Contains(re.Msg, "bogus") {
		t.Errorf("unknown field: %v, want 400 naming it", err)
	}
	resp, err := Client(sock).Get("http://havip" + MaintenancePath)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET %s: %s, want 405", MaintenancePath, resp.Status)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestTableShowsHealth(t *testing.T) {
	d := sample()
	exit := 1
	d.Instances[0].Switchover = "ecs-b"
	d.Instances[0].LastTransition = &Transition{From: "BACKUP", To: "MASTER", Reason: "highest-ranked eligible member", At: FormatTime(time.Now())}
	d.Instances[0].Checks = []Check{
		{Type: "interface", Name: "eth0", Healthy: true},
		{Type: "track_script", Name: "app", Healthy: false, Weight: 0, Detail: "exit status 1", Runs: 3, Failures: 2, LastExit: &exit},
		{Type: "track_script", Name: "disk", Healthy: true, Weight: 60, Runs: 1, Successes: 1},
	}
	var b bytes.Buffer
	if err := d.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"switchover to ecs-b", "BACKUP -> MASTER", "highest-ranked eligible member",
		"track_script app", "FAILED", "interface eth0", "priority -60", "2 failed in a row"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}
