package kong

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// PIDFile is where the running node's pid is kept under Kong's prefix,
// as Kong keeps nginx's.
func PIDFile(prefix string) string { return filepath.Join(prefix, "pids", "nginx.pid") }

// WritePID writes the running node's pid file.
func WritePID(prefix string, pid int) error {
	p := PIDFile(prefix)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, []byte(strconv.Itoa(pid)+"\n"), 0o644)
}

// Healthy is `kong health`: the node whose pid the prefix keeps runs.
// Like Kong's, it asks nothing of the Admin API, whose access rules need
// not admit the container's own loopback.
func Healthy(prefix string) error {
	notRunning := fmt.Errorf("Kong is not running at %s", prefix)
	b, err := os.ReadFile(PIDFile(prefix))
	if err != nil {
		return notRunning
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return notRunning
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return notRunning
	}
	return nil
}
