package failpoint

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestInject arms and disarms a failpoint. In a normal build Inject must
// never fail, armed or not.
func TestInject(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(EnvDir, dir)
	if err := Inject("vip.remove"); err != nil {
		t.Fatalf("not armed: %v", err)
	}
	path := filepath.Join(dir, "vip.remove")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	err := Inject("vip.remove")
	switch {
	case Enabled && !errors.Is(err, syscall.EPERM):
		t.Fatalf("armed: %v, want EPERM", err)
	case !Enabled && err != nil:
		t.Fatalf("armed in a build without failpoints: %v", err)
	}
	if err := Inject("other"); err != nil {
		t.Fatalf("another failpoint: %v", err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := Inject("vip.remove"); err != nil {
		t.Fatalf("disarmed: %v", err)
	}
}
