package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/havip/havip/config"
	"github.com/havip/havip/status"
)

// A reload of a file this host must not run is refused like a file that
// does not load: logged, answered 400, and the running configuration
// stays.
func TestReloadFileGuarded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "havip.toml")
	text := "[node]\nname = \"a\"\n[cluster]\nname = \"c\"\ninsecure = true\n[[instance]]\nname = \"web\"\ninterface = \"eth0\"\nvips = [\"192.168.0.1\"]\n"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	running := &config.Config{Path: path}
	var logs bytes.Buffer
	d := bareDaemon()
	d.log = slog.New(slog.NewTextHandler(&logs, nil))
	d.cfg = running
	d.guard = func(cfg *config.Config) error {
		return config.Errors{{File: cfg.Path, Key: cfg.VIPKey(0, 0), Msg: `"192.168.0.1" is the default gateway on eth0`}}
	}
	_, err := d.ReloadFile()
	var re *status.RequestError
	if !errors.As(err, &re) || re.Code != http.StatusBadRequest {
		t.Fatalf("ReloadFile: %v, want a 400 refusal", err)
	}
	want := path + `: instance[0] "web": vips[0]: "192.168.0.1" is the default gateway on eth0`
	if !strings.Contains(re.Msg, "reload refused, the running configuration stays") || !strings.Contains(re.Msg, want) {
		t.Errorf("refusal %q lacks %q", re.Msg, want)
	}
	if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "default gateway") {
		t.Errorf("refusal not logged:\n%s", logs.String())
	}
	if d.cfg != running {
		t.Error("the refused file replaced the running configuration")
	}

	// A file the guard lets through goes on to Reload (which, with the
	// daemon not running, says so).
	d.guard = func(*config.Config) error { return nil }
	if _, err := d.ReloadFile(); !errors.As(err, &re) || re.Code != http.StatusServiceUnavailable {
		t.Errorf("ReloadFile of a file the guard accepts: %v, want it handed to Reload", err)
	}
}

// The status socket's reload goes through the guard.
func TestReloadEndpointGuarded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "havip.toml")
	if err := os.WriteFile(path, []byte("[cluster]\nname = \"c\"\ninsecure = true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := bareDaemon()
	d.cfg = &config.Config{Path: path}
	d.guard = func(*config.Config) error { return errors.New("refused by the guard") }
	lns := testListeners(t, false)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := &status.Server{Socket: lns.socket, Document: d.Document, Handlers: d.handlers()}
	go srv.Serve(ctx, lns.status)
	rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
	defer rcancel()
	err := status.Post(rctx, lns.socket, status.ReloadPath, struct{}{}, nil)
	if err == nil || !strings.Contains(err.Error(), "refused by the guard") {
		t.Errorf("reload on the socket: %v, want the guard's refusal", err)
	}
}

// A reload of a configuration other users may change — the file, or
// its directory — is refused like a file that does not load, with the
// chmod that fixes it, and the running configuration stays.
func TestReloadFileRefusesWritableConfig(t *testing.T) {
	tests := []struct {
		name              string
		fileMode, dirMode os.FileMode
		want              string
	}{
		{"file", 0o664, 0o700, "can be changed by its group (mode 0664)"},
		{"directory", 0o644, 0o775, "the directory %q of the configuration can be changed by its group (mode 0775)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "havip.toml")
			if err := os.WriteFile(path, []byte("[cluster]\nname = \"c\"\ninsecure = true\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tt.fileMode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(dir, tt.dirMode); err != nil {
				t.Fatal(err)
			}
			running := &config.Config{Path: path}
			d := bareDaemon()
			d.cfg = running
			_, err := d.ReloadFile()
			var re *status.RequestError
			if !errors.As(err, &re) || re.Code != http.StatusBadRequest {
				t.Fatalf("ReloadFile: %v, want a 400 refusal", err)
			}
			fix := "; run: chmod go-w " + path
			want := tt.want
			if strings.Contains(want, "%q") {
				want, fix = fmt.Sprintf(want, dir), "; run: chmod go-w "+dir
			}
			if !strings.HasPrefix(re.Msg, "reload refused, the running configuration stays:\n"+path+": ") ||
				!strings.Contains(re.Msg, want) || !strings.HasSuffix(re.Msg, fix) {
				t.Errorf("refusal %q, want %q and %q", re.Msg, want, fix)
			}
			if d.cfg != running {
				t.Error("the refused file replaced the running configuration")
			}
		})
	}
}
