package deploy_test

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"strings"
	"testing"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/go-connections/nat"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/deploy"
	"github.com/fountainai/fountain/sandbox"
	"github.com/fountainai/fountain/sandbox/sandboxtest"
)

// dockerd is the machine's Docker Engine, asked whether it creates (never
// starts) a container from an empty image of the test's own: its answer
// is the rule Fountain's validators must agree with.
type dockerd struct {
	t     *testing.T
	api   *client.Client
	image string
	runID string
}

const labelRules = "dev.fountain.test"

func newDockerd(t *testing.T) *dockerd {
	sandboxtest.RequireDocker(t) // fails in CI without Docker, skips elsewhere
	ctx := context.Background()
	api, err := sandbox.NewDockerClient(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { api.Close() })
	d := &dockerd{t: t, api: api, runID: fmt.Sprintf("%d-%d", os.Getpid(), rand.Uint32())}
	// An empty image, imported from an empty tar: no registry is asked.
	var tarball bytes.Buffer
	if err := tar.NewWriter(&tarball).Close(); err != nil {
		t.Fatal(err)
	}
	d.image = "fountain-test/empty:" + d.runID
	rc, err := api.ImageImport(ctx, client.ImageImportSource{Source: &tarball, SourceName: "-"}, d.image, client.ImageImportOptions{})
	if err != nil {
		t.Fatalf("import an empty image: %v", err)
	}
	_, _ = io.Copy(io.Discard, rc)
	rc.Close()
	t.Cleanup(func() {
		_, _ = api.ImageRemove(context.Background(), d.image, client.ImageRemoveOptions{Force: true})
	})
	return d
}

// create asks dockerd to create a container, removes what it created (by
// its ID, with the named volumes it made), and returns dockerd's refusal,
// or nil. A name taken by another container counts as accepted.
func (d *dockerd) create(name string, cfg *container.Config, host *container.HostConfig) error {
	d.t.Helper()
	ctx := context.Background()
	if cfg == nil {
		cfg = &container.Config{}
	}
	if cfg.Image == "" {
		cfg.Image = d.image
	}
	cfg.Cmd = []string{"/nothing"}
	cfg.Labels = map[string]string{labelRules: d.runID}
	res, err := d.api.ContainerCreate(ctx, client.ContainerCreateOptions{Name: name, Config: cfg, HostConfig: host})
	if err == nil {
		if _, rerr := d.api.ContainerRemove(ctx, res.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); rerr != nil {
			d.t.Fatalf("remove the container %s: %v", res.ID, rerr)
		}
	}
	// Named volumes the create made: only the test's own names (they
	// start with the run's prefix), never another's volume.
	for v := range d.volumes() {
		if strings.HasPrefix(v, d.volumePrefix()) {
			_, _ = d.api.VolumeRemove(ctx, v, client.VolumeRemoveOptions{})
		}
	}
	if cerrdefs.IsConflict(err) {
		return nil
	}
	return err
}

// volumePrefix starts the name of every volume the tests make.
func (d *dockerd) volumePrefix() string { return "fz" + strings.ReplaceAll(d.runID, "-", "") }

// volumes are the names of the volumes dockerd has.
func (d *dockerd) volumes() map[string]bool {
	res, err := d.api.VolumeList(context.Background(), client.VolumeListOptions{})
	if err != nil {
		d.t.Fatal(err)
	}
	out := map[string]bool{}
	for _, v := range res.Items {
		out[v.Name] = true
	}
	return out
}

// invalid reports whether err is dockerd refusing the request as invalid;
// anything else (a missing image, a failure) fails the test.
func (d *dockerd) invalid(what string, err error) bool {
	d.t.Helper()
	switch {
	case err == nil:
		return false
	case cerrdefs.IsInvalidArgument(err):
		return true
	case strings.Contains(strings.ToLower(err.Error()), "invalid"):
		return true // dockerd 20.10 answers some refusals as 500
	}
	d.t.Fatalf("%s: dockerd answered %v", what, err)
	return false
}

func fieldError(err error) string {
	if fe, ok := err.(*fountain.Error); ok && fe.Code == fountain.EINVALID {
		return fe.Field
	}
	return ""
}

// randomStrings are n strings of 1 to max characters from alphabet.
func randomStrings(seed uint64, n, max int, alphabet string) []string {
	r := rand.New(rand.NewPCG(seed, seed))
	runes := []rune(alphabet)
	out := make([]string, n)
	for i := range out {
		b := make([]rune, 1+r.IntN(max))
		for j := range b {
			b[j] = runes[r.IntN(len(runes))]
		}
		out[i] = string(b)
	}
	return out
}

// Container names: Fountain accepts exactly what dockerd accepts, but for
// its own stricter rules (no leading '/', at most 128 characters, none of
// the suffixes Fountain gives the versions it keeps).
func TestContainerNamesAgreeWithDockerd(t *testing.T) {
	d := newDockerd(t)
	corpus := []string{"f", "ab", "a1", "0a", "_a", ".a", "-a", "a_", "a.", "a-", "/ab", "/a", "a/b", "a b", "é1", "aé",
		strings.Repeat("a", 128), strings.Repeat("b", 129), "app.previous", "app.old", "app.rollback", "My_App.2"}
	corpus = append(corpus, randomStrings(1, 60, 6, "aZ09_.-/ :é")...)
	for _, name := range corpus {
		in := deploy.DockerAppInput{HostInput: deploy.HostInput{InstanceIP: "203.0.113.7"}, DockerImage: "ghcr.io/u/r/app:1", ContainerName: name}
		fountainOK := fieldError(in.Validate()) != "container_name"
		dockerOK := !d.invalid("name "+name, d.create(name, nil, nil))
		stricter := strings.HasPrefix(name, "/") || len(name) > 128 ||
			strings.HasSuffix(name, ".previous") || strings.HasSuffix(name, ".old") || strings.HasSuffix(name, ".rollback")
		switch {
		case fountainOK && !dockerOK:
			t.Errorf("name %q: Fountain accepts, dockerd refuses", name)
		case !fountainOK && dockerOK && !stricter:
			t.Errorf("name %q: dockerd accepts, Fountain refuses", name)
		}
	}
}

// Image references: what Fountain accepts, dockerd takes as a reference
// (it answers "no such image", not "invalid reference").
func TestImageReferencesAgreeWithDockerd(t *testing.T) {
	d := newDockerd(t)
	corpus := []string{"nginx", "nginx:1.27", "ghcr.io/user/repo/app:latest", "localhost:5000/a/b", "a@sha256:" + strings.Repeat("a", 64),
		"Nginx", "nginx:", ":tag", "a//b", "a/b/", "-a", "a:tag with space", "ghcr.io/u/r/app:" + strings.Repeat("t", 129),
		"a@sha256:123", "registry:99999/a", "[::1]:5000/a", "a_b", "a__b", "a___b", "a.b", "a..b", "a-b", "a--b"}
	corpus = append(corpus, randomStrings(2, 40, 12, "ab0:/@._-A ")...)
	for _, ref := range corpus {
		in := deploy.DockerAppInput{HostInput: deploy.HostInput{InstanceIP: "203.0.113.7"}, DockerImage: ref, ContainerName: "app"}
		if fieldError(in.Validate()) == "docker_image" {
			continue // refused by distribution/reference (Docker's own parser), or an IPv6 registry
		}
		// Fountain sends the normalized reference; dockerd must take it as
		// one (a missing image is 404, an invalid reference 400).
		err := d.create("", &container.Config{Image: in.DockerImage}, nil)
		if err != nil && !cerrdefs.IsNotFound(err) {
			t.Errorf("image %q (%s): Fountain accepts, dockerd answers %v", ref, in.DockerImage, err)
		}
	}
}

// Port specs: Fountain parses them with Docker's own rule (the CLI's
// nat.ParsePortSpec), and what it accepts dockerd creates, converted as
// the deploy converts it; what it refuses beyond the rule is a port it
// cannot publish as a fixed port (no host port, 0, a dynamic host range).
func TestPortSpecsAgreeWithDockerd(t *testing.T) {
	d := newDockerd(t)
	corpus := []string{"80", "8080:80", "8080:80/udp", "8080:80/sctp", "8080:80/icmp", "127.0.0.1:8080:80", "[::1]:8080:80",
		"0.0.0.0::80", ":80", "0:80", "80:0", "65535:65535", "65536:80", "8000-8002:9000-9002", "8000-8002:80", "80:8000-8002",
		"8000-8001:9000-9002", "x:80", "1.2.3:80:80", "8080:80/", "+80:80", "-80:80", "8080:80/TCP"}
	corpus = append(corpus, randomStrings(3, 60, 10, "0189:-/.[]tcpud")...)
	for _, spec := range corpus {
		ports, ferr := deploy.ParsePorts(spec)
		maps, nerr := nat.ParsePortSpec(spec)
		if ferr == nil {
			if nerr != nil {
				t.Errorf("port %q: Fountain accepts, Docker's rule refuses: %v", spec, nerr)
				continue
			}
			cfg, host := &container.Config{ExposedPorts: network.PortSet{}}, &container.HostConfig{PortBindings: network.PortMap{}}
			for _, p := range ports {
				port := network.MustParsePort(fmt.Sprintf("%d/%s", p.ContainerPort, p.Protocol))
				b := network.PortBinding{HostPort: fmt.Sprint(p.HostPort)}
				if p.HostIP != "" {
					b.HostIP = netip.MustParseAddr(p.HostIP)
				}
				cfg.ExposedPorts[port] = struct{}{}
				host.PortBindings[port] = append(host.PortBindings[port], b)
			}
			if err := d.create("", cfg, host); d.invalid("port "+spec, err) {
				t.Errorf("port %q: Fountain accepts, dockerd refuses: %v", spec, err)
			}
			continue
		}
		if nerr != nil {
			continue // both refuse
		}
		fixed := true
		for _, m := range maps {
			if m.Binding.HostPort == "" || m.Binding.HostPort == "0" || strings.Contains(m.Binding.HostPort, "-") || m.Port.Int() == 0 {
				fixed = false
			}
		}
		if fixed {
			t.Errorf("port %q: Docker's rule accepts fixed ports, Fountain refuses: %v", spec, ferr)
		}
	}
}

// Volume specs: what Fountain accepts (in the form it sends) dockerd
// creates; what dockerd refuses Fountain refuses. Fountain refuses beyond
// dockerd only a target alone (an anonymous volume, new at every deploy)
// and backslashes or control characters in paths.
func TestVolumeSpecsAgreeWithDockerd(t *testing.T) {
	d := newDockerd(t)
	tmp := t.TempDir() // bind sources exist (Docker would create missing ones on the host)
	vol := d.volumePrefix()
	corpus := []string{vol + ":/data", vol + ":/data:ro", vol + ":/data:rw", vol + ":/data:nocopy", vol + ":/data:ro,nocopy", vol + ":/data:z",
		vol + ":/data:rshared", vol + ":/data:ro,rw", vol + ":/data:rx", vol + ":/", vol + ":/x/..", vol + ":relative", vol + ":/data:",
		"a:/data", "_" + vol + ":/data", vol + "é:/data", "/data", "/data:ro", vol,
		tmp + ":/x", tmp + "/:/x/", tmp + "//sub/..:/x", tmp + ":/x:ro,rshared", tmp + ":/x:nocopy", tmp + ":/x:z", tmp + ":/", tmp + ":/x:ro:extra",
		tmp + ":/a\\b", tmp + ":/\\", ":/x"}
	for _, s := range randomStrings(4, 40, 8, "a/:xro,") {
		if !strings.HasPrefix(s, "/") { // named volumes unique to this run; no host paths made up
			corpus = append(corpus, vol+s)
		}
	}
	for _, spec := range corpus {
		v, ferr := deploy.ParseVolume(spec)
		if ferr == nil {
			if err := d.create("", nil, &container.HostConfig{Binds: []string{v.Bind()}}); d.invalid("volume "+spec, err) {
				t.Errorf("volume %q (sent as %q): Fountain accepts, dockerd refuses: %v", spec, v.Bind(), err)
			}
			continue
		}
		err := d.create("", nil, &container.HostConfig{Binds: []string{spec}})
		if !d.invalid("volume "+spec, err) {
			anonymous := !strings.Contains(spec, ":")
			if !anonymous && !strings.ContainsAny(spec, "\\\x00\r\n\t") {
				t.Errorf("volume %q: dockerd accepts, Fountain refuses: %v", spec, ferr)
			}
		}
	}
	// A target mounted twice: dockerd refuses, and so does Fountain.
	twice := []string{vol + "1:/data", tmp + ":/data/"}
	in := deploy.DockerAppInput{HostInput: deploy.HostInput{InstanceIP: "203.0.113.7"}, DockerImage: "ghcr.io/u/r/app:1", Volumes: twice}
	if err := d.create("", nil, &container.HostConfig{Binds: twice}); !d.invalid("duplicate", err) || fieldError(in.Validate()) != "volumes" {
		t.Errorf("a target mounted twice: dockerd %v, Fountain %v", err, in.Validate())
	}
}

// Restart policies: Fountain accepts what dockerd accepts as docker run
// --restart gives it (name[:count]); an empty one is Fountain's default.
func TestRestartPoliciesAgreeWithDockerd(t *testing.T) {
	d := newDockerd(t)
	for _, s := range []string{"no", "always", "unless-stopped", "on-failure", "on-failure:0", "on-failure:3", "on-failure:-1",
		"always:3", "no:0", "unless-stopped:1", "sometimes", "On-Failure", "on-failure:x", "on-failure:2147483647"} {
		_, ferr := deploy.ParseRestartPolicy(s)
		// The CLI's split (docker/cli opts.ParseRestartPolicy), then dockerd.
		name, count, _ := strings.Cut(s, ":")
		n := 0
		if count != "" {
			if _, err := fmt.Sscan(count, &n); err != nil || fmt.Sprint(n) != count {
				if ferr == nil {
					t.Errorf("restart %q: Fountain accepts a count the CLI cannot read", s)
				}
				continue
			}
		}
		err := d.create("", nil, &container.HostConfig{RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyMode(name), MaximumRetryCount: n}})
		dockerOK := !d.invalid("restart "+s, err)
		// Fountain refuses a count with another policy than on-failure,
		// even the 0 that dockerd ignores.
		stricter := count != "" && name != "on-failure"
		if dockerOK != (ferr == nil) && !(stricter && ferr != nil) {
			t.Errorf("restart %q: dockerd accepts %v (%v), Fountain %v", s, dockerOK, err, ferr)
		}
	}
}
