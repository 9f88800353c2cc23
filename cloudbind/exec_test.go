//go:build !windows

package cloudbind_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/havip/havip/cloudbind"
	"github.com/havip/havip/config"
)

func execCfg(acquire, release []string) config.Cloud {
	return config.Cloud{Provider: config.ProviderExec, Acquire: acquire, Release: release, Timeout: 2 * time.Second, Retries: 2}
}

func TestExecRunsWithEnvironment(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	script := `echo "$HAVIP_ACTION $HAVIP_INSTANCE $HAVIP_INTERFACE $HAVIP_VIPS $1" >> ` + out
	p := mustProvider(t, execCfg([]string{"sh", "-c", script, "sh", "up"}, []string{"sh", "-c", script, "sh", "down"}), opts(nil))
	b := p.Binder(inst)
	if moved, err := b.Bind(ctx(t)); err != nil || !moved {
		t.Fatalf("Bind: %v %v", moved, err)
	}
	if err := b.Unbind(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Check(ctx(t)); !errors.Is(err, cloudbind.ErrNoCheck) {
		t.Errorf("Check: %v, want ErrNoCheck", err)
	}
	data, _ := os.ReadFile(out)
	want := "acquire web eth0 " + vip + " up\nrelease web eth0 " + vip + " down\n"
	if string(data) != want {
		t.Errorf("ran:\n%s\nwant:\n%s", data, want)
	}
	if cloudbind.Reconciles(p) {
		t.Error("exec claims it can re-check its binding")
	}
}

func TestExecRetriesThenFails(t *testing.T) {
	count := filepath.Join(t.TempDir(), "count")
	script := `echo x >> ` + count + `; echo "no route to the API" >&2; exit 3`
	b := mustProvider(t, execCfg([]string{"sh", "-c", script}, nil), opts(nil)).Binder(inst)
	_, err := b.Bind(ctx(t))
	if err == nil || !strings.Contains(err.Error(), "no route to the API") {
		t.Fatalf("Bind: %v, want the command's message", err)
	}
	data, _ := os.ReadFile(count)
	if n := strings.Count(string(data), "x"); n != 3 {
		t.Errorf("ran %d times, want 1 + 2 retries", n)
	}
}

func TestExecTimeout(t *testing.T) {
	c := execCfg([]string{"sleep", "10"}, nil)
	c.Timeout, c.Retries = 100*time.Millisecond, 0
	start := time.Now()
	_, err := mustProvider(t, c, opts(nil)).Binder(inst).Bind(ctx(t))
	if err == nil || !strings.Contains(err.Error(), "no answer within") {
		t.Fatalf("Bind: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v with a 100ms timeout", d)
	}
}
