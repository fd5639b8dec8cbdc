package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/fountainai/fountain/sandbox"
	"github.com/fountainai/fountain/sandbox/sandboxtest"
)

// `fountain sandbox down` leaves no container, volume or network of the
// sandbox behind, and touches nothing outside its namespace.
func TestSandboxDownLeavesNothing(t *testing.T) {
	sandboxtest.RequireDocker(t)
	ctx := context.Background()
	dataDir := t.TempDir()
	ns := sandboxtest.Namespace() + "-down"
	other := sandboxtest.Hosts(t, 1) // another namespace: must survive
	sb, err := sandbox.New(ctx, sandbox.Config{DataDir: dataDir, Namespace: ns, RegistryPush: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	t.Cleanup(func() { _ = sb.Down(ctx) })
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, name := range []string{"down-a", "down-b"} {
		wg.Add(1)
		go func() { defer wg.Done(); _, errs[i] = sb.CreateHost(ctx, name) }()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(sandbox.RegistryDir(dataDir), 0o700); err != nil {
		t.Fatal(err)
	}
	before, _ := sb.Leftovers(ctx)
	if len(before) < 5 { // 2 containers, 2 volumes, 1 network
		t.Fatalf("before down: %v", before)
	}
	var out, errOut bytes.Buffer
	code := Main(ctx, []string{"sandbox", "down", "--namespace", ns, "--data-dir", dataDir},
		func(string) string { return "" }, strings.NewReader(""), &out, &errOut)
	if code != 0 {
		t.Fatalf("sandbox down: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	left, err := sb.Leftovers(ctx)
	if err != nil || len(left) != 0 {
		t.Fatalf("left behind: %v %v", left, err)
	}
	if !strings.Contains(out.String(), "container "+ns+"-down-a") {
		t.Fatalf("output does not name what it removed:\n%s", out.String())
	}
	if _, err := os.Stat(filepath.Join(dataDir, "sandbox", "registry")); !os.IsNotExist(err) {
		t.Fatalf("registry data kept: %v", err)
	}
	other.Hosts[0].Run(t, "true") // the other namespace's host still answers
}
