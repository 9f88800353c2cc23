package testbed

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ModuleRoot returns the directory of the go.mod of the module the caller
// runs in (go env GOMOD), or, failing that, the first directory holding a
// go.mod walking up from the working directory.
func ModuleRoot(ctx context.Context) (string, error) {
	if out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output(); err == nil {
		if gomod := strings.TrimSpace(string(out)); gomod != "" && gomod != os.DevNull {
			return filepath.Dir(gomod), nil
		}
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod found above the working directory")
		}
		dir = parent
	}
}

// BuildHavip builds ./cmd/havip of the module into dir and returns the
// binary's path. It is built static (CGO_ENABLED=0), as the packages
// build it: no libc mapped into the daemon. tags are Go build tags
// (havip_failpoints for the integration tests: see internal/failpoint).
func BuildHavip(ctx context.Context, dir string, tags ...string) (string, error) {
	root, err := ModuleRoot(ctx)
	if err != nil {
		return "", fmt.Errorf("building havip: %w", err)
	}
	bin, err := filepath.Abs(filepath.Join(dir, "havip"))
	if err != nil {
		return "", fmt.Errorf("building havip: %w", err)
	}
	args := []string{"build", "-o", bin}
	if len(tags) > 0 {
		args = append(args, "-tags", strings.Join(tags, ","))
	}
	cmd := exec.CommandContext(ctx, "go", append(args, "./cmd/havip")...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building havip: go %s ./cmd/havip: %w\n%s", strings.Join(args, " "), err, out)
	}
	return bin, nil
}
