package sandboxtest_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/fountainai/fountain/sandbox/sandboxtest"
)

func TestMain(m *testing.M) { sandboxtest.Main(m) }

func TestHosts(t *testing.T) {
	env := sandboxtest.Hosts(t, 2)
	if len(env.Hosts) != 2 || env.Hosts[0].Address == env.Hosts[1].Address {
		t.Fatalf("hosts %+v", env.Hosts)
	}
	if !strings.HasPrefix(env.RegistryPush, "127.0.0.1:") || env.RegistryPullPrefix == "" || env.User != "ubuntu" {
		t.Fatalf("env %+v", env)
	}
	for _, h := range env.Hosts {
		if out := h.Run(t, "sudo -n true && whoami"); out != "ubuntu\n" {
			t.Fatalf("whoami on %s: %q", h.Name, out)
		}
	}
	// The OpenSSH client, when installed, accepts the pinned keys too.
	if _, err := exec.LookPath("ssh"); err == nil {
		h := env.Hosts[0]
		out, err := exec.Command("ssh", "-i", env.KeyPath, "-o", "StrictHostKeyChecking=yes",
			"-o", "UserKnownHostsFile="+h.KnownHosts, "-o", "BatchMode=yes", "-o", "ConnectTimeout=10",
			h.User+"@"+h.Address, "sudo", "-n", "true").CombinedOutput()
		if err != nil {
			t.Fatalf("ssh binary: %v\n%s", err, out)
		}
	}
}
