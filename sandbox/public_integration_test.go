package sandbox

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

// A host's public address is what an instance's public IP is on Lightsail:
// not loopback, the same host from this machine, from another host and from
// the host itself, and only the open ports answer there (never 8001, even
// when something on the host listens on it). It survives a stop and start,
// even when its network was removed meanwhile (a `docker network prune`
// does that), and goes with the host.
func TestPublicAddressReachesTheHostFromEverywhere(t *testing.T) {
	s := newTestSandbox(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	// a has Docker, to try from a container on it too.
	names := []string{"pub-a", "pub-b"}
	flavours := []Flavour{FlavourDocker, FlavourPlain}
	for _, f := range flavours {
		if _, err := s.EnsureImage(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	hosts := make([]Host, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hosts[i], errs[i] = s.CreateHostWith(ctx, n, HostOptions{Flavour: flavours[i]})
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	a, b := hosts[0], hosts[1]
	t.Logf("a: public %s private %s; b: public %s private %s", a.PublicIP, a.PrivateIP, b.PublicIP, b.PrivateIP)
	for _, h := range hosts {
		ip, err := netip.ParseAddr(h.PublicIP)
		if err != nil || !ip.Is4() || ip.IsLoopback() || ip.IsLinkLocalUnicast() || h.PublicIP == h.PrivateIP {
			t.Fatalf("public address %q (private %s)", h.PublicIP, h.PrivateIP)
		}
	}
	if a.PublicIP == b.PublicIP {
		t.Fatalf("both hosts at %s", a.PublicIP)
	}
	// The host itself has only its private address, as an instance has.
	if out, err := s.Exec(ctx, "pub-b", "hostname", "-I"); err != nil || strings.TrimSpace(out.Stdout) != b.PrivateIP {
		t.Fatalf("b's own addresses: %q %v (public %s)", out.Stdout, err, b.PublicIP)
	}

	// b serves on port 80 (open) and 8001 (never open), on all its addresses.
	serve := "mkdir -p /srv/www && echo 'host b' > /srv/www/index.html && " +
		"systemd-run --unit=web80 python3 -m http.server 80 --bind 0.0.0.0 --directory /srv/www && " +
		"systemd-run --unit=web8001 python3 -m http.server 8001 --bind 0.0.0.0 --directory /srv/www && " +
		"for i in $(seq 100); do curl -fsS http://127.0.0.1:80/ >/dev/null && curl -fsS http://127.0.0.1:8001/ >/dev/null && exit 0; sleep 0.1; done; exit 1"
	if r, err := s.Exec(ctx, "pub-b", "sh", "-c", serve); err != nil || r.ExitCode != 0 {
		t.Fatalf("serve on b: %v %+v", err, r)
	}

	// From this machine: SSH and port 80; 8001 does not answer.
	if out, err := sshRun(b.PublicIP, SSHUser, s.Key().Signer, b.HostKeys, "hostname"); err != nil || strings.TrimSpace(out) != "pub-b" {
		t.Fatalf("ssh to b at %s: %q %v", b.PublicIP, out, err)
	}
	if got := httpGet(t, "http://"+b.PublicIP+"/"); got != "host b" {
		t.Fatalf("b's port 80 from this machine: %q", got)
	}
	if c, err := net.DialTimeout("tcp", net.JoinHostPort(b.PublicIP, "8001"), 3*time.Second); err == nil {
		c.Close()
		t.Fatal("b's port 8001 answers on its public address")
	}

	// From host a, and from b itself: port 80 answers, 8001 does not.
	for _, from := range hosts {
		out, err := sshRun(from.PublicIP, SSHUser, s.Key().Signer, from.HostKeys,
			"curl -fsS --max-time 10 http://"+b.PublicIP+"/ && ! curl -sS --max-time 3 http://"+b.PublicIP+":8001/ 2>/dev/null")
		if err != nil || strings.TrimSpace(out) != "host b" {
			t.Fatalf("b's public address from %s: %q %v", from.PublicIP, out, err)
		}
	}

	// From a container on a's Docker (as Kong on a would): an image of a
	// static client, imported on a.
	if err := s.copyTo(ctx, "pub-a", "/tmp/getter/get", getterBinary(t)); err != nil {
		t.Fatal(err)
	}
	inner := "tar -C /tmp/getter -c get | docker import - fountain-test/get:1 >/dev/null && " +
		"docker run --rm fountain-test/get:1 /get http://" + b.PublicIP + "/ && " +
		"! docker run --rm fountain-test/get:1 /get http://" + b.PublicIP + ":8001/ 2>/dev/null"
	if r, err := s.Exec(ctx, "pub-a", "sh", "-c", inner); err != nil || r.ExitCode != 0 || strings.TrimSpace(r.Stdout) != "host b" {
		t.Fatalf("b's public address from a container on a: %v %+v", err, r)
	}

	// Stopped, its network removed, started: the same address answers.
	if err := s.StopHost(ctx, "pub-b"); err != nil {
		t.Fatal(err)
	}
	if err := s.removePublic(ctx, "pub-b"); err != nil {
		t.Fatal(err)
	}
	b2, err := s.StartHost(ctx, "pub-b")
	if err != nil {
		t.Fatal(err)
	}
	if b2.PublicIP != b.PublicIP {
		t.Fatalf("public address after a restart: %s, was %s", b2.PublicIP, b.PublicIP)
	}
	if out, err := sshRun(a.PublicIP, SSHUser, s.Key().Signer, a.HostKeys, "ssh-keyscan -T 10 "+b.PublicIP+" 2>/dev/null | grep -c ssh-"); err != nil || strings.TrimSpace(out) == "0" {
		t.Fatalf("b's sshd from a after the restart: %q %v", out, err)
	}

	// Deleting the host removes its public network.
	if err := s.DeleteHost(ctx, "pub-b"); err != nil {
		t.Fatal(err)
	}
	list, err := s.docker.NetworkList(ctx, client.NetworkListOptions{Filters: s.filters(LabelKind+"="+kindPublic, LabelInstance+"=pub-b")})
	if err != nil || len(list.Items) != 0 {
		t.Fatalf("b's public network after delete: %d %v", len(list.Items), err)
	}
}

// httpGet GETs url (a sandbox host's public address) and returns the body,
// trimmed; a failure fails the test.
func httpGet(t *testing.T, url string) string {
	t.Helper()
	c := http.Client{Timeout: 10 * time.Second}
	res, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	return strings.TrimSpace(string(b))
}

// getterSource GETs its argument and prints the body; it fails on an error
// or a status other than 200.
const getterSource = `package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

func main() {
	c := http.Client{Timeout: 5 * time.Second}
	res, err := c.Get(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	b, _ := io.ReadAll(res.Body)
	fmt.Print(string(b))
	if res.StatusCode != 200 {
		os.Exit(2)
	}
}
`

// getterBinary builds getterSource, statically linked.
func getterBinary(t *testing.T) []byte {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "main.go")
	if err := os.WriteFile(src, []byte(getterSource), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "get")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, src)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the getter: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// copyTo writes an executable file into the named host.
func (s *Sandbox) copyTo(ctx context.Context, name, path string, body []byte) error {
	c, err := s.findHost(ctx, name)
	if err != nil {
		return err
	}
	tb, err := makeTar([]tarFile{{Name: strings.TrimPrefix(path, "/"), Mode: 0o755, Body: body}})
	if err != nil {
		return err
	}
	_, err = s.docker.CopyToContainer(ctx, c.ID, client.CopyToContainerOptions{DestinationPath: "/", Content: bytes.NewReader(tb)})
	return err
}
