package sandbox

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestRegistryPullFromHost pushes an image from this machine to the
// sandbox registry and pulls it with Docker inside a sandbox host.
func TestRegistryPullFromHost(t *testing.T) {
	s := newTestSandbox(t, func(c *Config) { c.Flavour = FlavourDocker })
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	start := time.Now()
	img, err := s.EnsureImage(ctx, FlavourDocker)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("docker flavour %s (built=%v) in %s", img.Tag, img.Built, time.Since(start).Round(time.Millisecond))

	reg, err := s.StartRegistry(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.RegistryPush != reg.PushAddr() || !st.RegistryRunning || st.RegistryPullPrefix != "registry.fountain.internal:5000" || st.SSHUser != "ubuntu" || st.SSHKeyPath != s.Key().Path {
		t.Fatalf("status %+v", st)
	}
	if !strings.HasPrefix(reg.PushAddr(), "127.0.0.1:") {
		t.Fatalf("push address %s", reg.PushAddr())
	}

	ti, err := newTestImage(map[string]string{"hello.txt": "hello from the sandbox registry\n"})
	if err != nil {
		t.Fatal(err)
	}
	if err := ti.push(st.RegistryPush, "fountain/hello", "v1"); err != nil {
		t.Fatal(err)
	}

	h, err := s.CreateHost(ctx, "puller")
	if err != nil {
		t.Fatal(err)
	}
	ref := st.RegistryPullPrefix + "/fountain/hello:v1"
	script := `set -e
for i in $(seq 60); do sudo docker info >/dev/null 2>&1 && break; sleep 1; done
sudo docker pull ` + ref + ` >/dev/null
sudo docker image inspect --format '{{.Id}}' ` + ref + `
sudo docker create --name hello ` + ref + ` >/dev/null
sudo docker cp hello:/hello.txt - | tar -xO`
	start = time.Now()
	out, err := sshRun(h.PublicIP, SSHUser, s.Key().Signer, h.HostKeys, script)
	if err != nil {
		t.Fatalf("pull inside host: %v\n%s", err, out)
	}
	t.Logf("pulled inside the host in %s:\n%s", time.Since(start).Round(time.Millisecond), out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || lines[0] != sha(ti.config).String() || lines[1] != "hello from the sandbox registry" {
		t.Fatalf("unexpected output %q", out)
	}
}
