package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/fountainai/fountain/sandbox"
	"github.com/fountainai/fountain/sandbox/sandboxtest"
)

// Deleted means gone: once delete-instance answers, the instance's host is
// removed, and a sandbox down right after succeeds and leaves nothing.
func TestDeleteThenDownLeavesNothing(t *testing.T) {
	t.Parallel() // a sandbox of its own: its hosts boot while the others' do
	sandboxtest.RequireDocker(t)
	ns := sandboxtest.Namespace() + "-down"
	dataDir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	sb, err := sandbox.New(ctx, sandbox.Config{DataDir: t.TempDir(), Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	t.Cleanup(func() { _ = sb.Down(context.Background()) })

	url, stop := startSandboxServer(t, dataDir, ns)
	defer stop()
	if status, body := call(t, "POST", url+"/aws/lightsail/create-instance", strings.Replace(designCreateWait, "NAME", "gone-1", 1)); status != 200 {
		t.Fatalf("create: %d %v", status, body)
	}
	status, body := call(t, "POST", url+"/aws/lightsail/delete-instance", `{"instance_name":"gone-1"}`)
	if status != 200 || body["message"] != "Instance gone-1 deleted in eu-central-1" {
		t.Fatalf("delete: %d %v", status, body)
	}
	left, err := sb.Leftovers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range left {
		if strings.Contains(l, "gone-1") {
			t.Fatalf("delete-instance answered, but %q is still there", l)
		}
	}
	_, st := call(t, "GET", url+"/sandbox", "")
	if hosts, _ := st["hosts"].([]any); len(hosts) != 0 {
		t.Fatalf("GET /sandbox still lists hosts: %v", hosts)
	}

	stop()
	if err := sb.Down(ctx); err != nil {
		t.Fatalf("sandbox down right after: %v", err)
	}
	if left, err := sb.Leftovers(ctx); err != nil || len(left) > 0 {
		t.Fatalf("left behind: %v %v", left, err)
	}
}
