package sandboxtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// FountainBinary returns a fountain binary for tests that run it or pack it
// (the sandbox's stand-ins are fountain's hidden `standin` commands): the
// one FOUNTAIN_TEST_BINARY names (scripts/test builds it once for every
// package), else one built from this module once per test process.
func FountainBinary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("FOUNTAIN_TEST_BINARY"); p != "" {
		return p
	}
	binOnce.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			binErr = err
			return
		}
		dir, err := os.MkdirTemp("", "fountain-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "fountain")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", "build", "-o", binPath, "./cmd/fountain")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build ./cmd/fountain: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatalf("sandboxtest: %v", binErr)
	}
	return binPath
}

// moduleRoot is the directory of this module's go.mod.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("not inside the fountain module")
	}
	return filepath.Dir(mod), nil
}
