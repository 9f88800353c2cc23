package status

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func sample() Document {
	return Document{
		Node: "ecs-a", Cluster: "web-ha",
		Quorum: Quorum{Mode: "majority", Seen: 3, Needed: 2, OK: true},
		Instances: []Instance{{
			Name: "web", State: "MASTER", Master: "ecs-a", VIPs: []string{"192.168.0.22/32"},
			Since: FormatTime(time.Unix(1700000000, 0)), Interface: "eth0", Priority: 150, EffectivePriority: 150,
			Preempt: true, Reason: "holding",
		}},
		Members: []Member{
			{Name: "ecs-a", Addr: "192.168.0.11:7946", State: "alive", Priority: 150, Self: true,
				Instances: []MemberInstance{{Name: "web", Priority: 150, Holding: true}}},
			{Name: "ecs-b", Addr: "192.168.0.12:7946", State: "alive", Priority: 100,
				Instances: []MemberInstance{{Name: "web", Priority: 100}}},
		},
	}
}

func TestServeAndFetch(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "run", "havip.sock")
	l, err := Listen(sock, -1)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o660 {
		t.Errorf("socket mode %v, want 0660", fi.Mode().Perm())
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	srv := &Server{Socket: sock, Document: sample}
	go func() { done <- srv.Serve(ctx, l) }()

	got, err := Fetch(context.Background(), sock)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(sample(), *got); diff != "" {
		t.Errorf("fetched document (-want +got):\n%s", diff)
	}
	if _, err := Listen(sock, -1); !errors.Is(err, ErrInUse) {
		t.Errorf("second Listen on a live socket: %v, want ErrInUse", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("socket file left after shutdown: %v", err)
	}
	if _, err := Fetch(context.Background(), sock); err == nil {
		t.Error("Fetch from a stopped daemon succeeded")
	}
}

func TestListenReplacesStaleSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "havip.sock")
	// A socket file nobody listens on, as a kill -9 leaves it.
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	l2, err := Listen(sock, -1)
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	l2.Close()

	notSock := filepath.Join(t.TempDir(), "file")
	os.WriteFile(notSock, nil, 0o600)
	if _, err := Listen(notSock, -1); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("Listen on a regular file: %v", err)
	}
}

func TestWriteTable(t *testing.T) {
	d := sample()
	var b bytes.Buffer
	if err := d.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"node ecs-a", "quorum 3/2 seen", "web", "MASTER", "192.168.0.22/32", "eth0", "ecs-b", "192.168.0.12:7946", "alive", "ecs-a (this node)"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestCloudInTableAndJSON(t *testing.T) {
	d := sample()
	yes := true
	d.Instances[0].Cloud = &Cloud{Provider: "huaweicloud", Mode: "exclusive", Result: "bound",
		At: FormatTime(time.Now()), Bound: true, Agrees: &yes, Moves: 1, Calls: 3}
	var b bytes.Buffer
	if err := d.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "cloud web: huaweicloud exclusive, bound, cloud agrees at ") ||
		!strings.Contains(b.String(), "1 moves, 3 calls") {
		t.Errorf("table has no cloud line:\n%s", b.String())
	}
	j, err := json.Marshal(d.Instances[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"cloud":{"provider":"huaweicloud"`, `"mode":"exclusive"`, `"result":"bound"`, `"agrees":true`, `"bound":true`} {
		if !strings.Contains(string(j), k) {
			t.Errorf("JSON %s lacks %s", j, k)
		}
	}
	d.Instances[0].Cloud = nil
	if j, _ := json.Marshal(d.Instances[0]); strings.Contains(string(j), "cloud") {
		t.Errorf("JSON without a provider has a cloud object: %s", j)
	}
}
