package deploy

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/fountainai/fountain"
)

func TestDockerAppValidateDefaults(t *testing.T) {
	in := DockerAppInput{HostInput: HostInput{InstanceIP: "9.10.11.12", SSHKeyPath: "/k"}, DockerImage: "ghcr.io/user/repo/my-app"}
	if err := in.Validate(); err != nil {
		t.Fatal(err)
	}
	if in.DockerImage != "ghcr.io/user/repo/my-app:latest" || in.ContainerName != "my-app" || in.RestartPolicy != "unless-stopped" ||
		in.SSHUser != "ubuntu" || in.SSHPort != 22 {
		t.Fatalf("defaults: %+v", in)
	}
	in = DockerAppInput{HostInput: HostInput{InstanceName: "web-1"}, DockerImage: "nginx"}
	if err := in.Validate(); err != nil || in.DockerImage != "docker.io/library/nginx:latest" || in.ContainerName != "nginx" {
		t.Fatalf("%+v %v", in, err)
	}
}

func TestDockerAppValidateRefusesHostileValues(t *testing.T) {
	ok := func() DockerAppInput {
		return DockerAppInput{HostInput: HostInput{InstanceIP: "127.0.0.3"}, DockerImage: "ghcr.io/u/r/a:1"}
	}
	for _, c := range []struct {
		field string
		mod   func(*DockerAppInput)
	}{
		{"instance_ip", func(in *DockerAppInput) { in.InstanceIP = "" }},
		{"instance_ip", func(in *DockerAppInput) { in.InstanceIP = "1.2.3.4; rm -rf /" }},
		{"instance_ip", func(in *DockerAppInput) { in.InstanceIP = "$(reboot)" }},
		{"instance_ip", func(in *DockerAppInput) { in.InstanceIP = "999.1.1.1" }},
		{"instance_ip", func(in *DockerAppInput) { in.InstanceIP = "0.0.0.0" }},
		{"instance_name", func(in *DockerAppInput) { in.InstanceName = "web-1" }},
		{"ssh_user", func(in *DockerAppInput) { in.SSHUser = "root; id" }},
		{"ssh_user", func(in *DockerAppInput) { in.SSHUser = "-oProxyCommand=x" }},
		{"region", func(in *DockerAppInput) { in.Region = "../../etc" }},
		{"docker_image", func(in *DockerAppInput) { in.DockerImage = "ghcr.io/u/r/a:1 && curl evil" }},
		{"docker_image", func(in *DockerAppInput) { in.DockerImage = "My-App" }},
		{"docker_image", func(in *DockerAppInput) { in.DockerImage = "a@sha256:123" }},
		{"container_name", func(in *DockerAppInput) { in.ContainerName = "../x" }},
		{"container_name", func(in *DockerAppInput) { in.ContainerName = "app.previous" }},
		{"ports", func(in *DockerAppInput) { in.Ports = []string{"80"} }},
		{"ports", func(in *DockerAppInput) { in.Ports = []string{"70000:80"} }},
		{"ports", func(in *DockerAppInput) { in.Ports = []string{"8080:80/icmp"} }},
		{"ports", func(in *DockerAppInput) { in.Ports = []string{"evil:8080:80"} }},
		{"env", func(in *DockerAppInput) { in.Env = map[string]string{"A B": "x"} }},
		{"env", func(in *DockerAppInput) { in.Env = map[string]string{"A": "x\x00y"} }},
		{"secret_env", func(in *DockerAppInput) { in.SecretEnv = map[string]string{"$(id)": "x"} }},
		{"secret_env", func(in *DockerAppInput) { in.SecretEnv = map[string]string{"PIN": "123"} }},
		{"secret_env", func(in *DockerAppInput) {
			in.Env, in.SecretEnv = map[string]string{"A": "1"}, map[string]string{"A": "long-enough"}
		}},
		{"volumes", func(in *DockerAppInput) { in.Volumes = []string{"/srv/a:/"} }},
		{"volumes", func(in *DockerAppInput) { in.Volumes = []string{"data:relative"} }},
		{"volumes", func(in *DockerAppInput) { in.Volumes = []string{"data:/x:rx"} }},
		{"volumes", func(in *DockerAppInput) { in.Volumes = []string{"$(id):/x"} }},
		{"health_check.path", func(in *DockerAppInput) { in.HealthCheck = &HealthCheck{Path: "x y", Port: 80} }},
		{"registry_auth", func(in *DockerAppInput) { in.RegistryAuth = &RegistryAuth{Username: "a\nb", Password: "p"} }},
	} {
		in := ok()
		c.mod(&in)
		err := in.Validate()
		var fe *fountain.Error
		if err == nil || fountain.ErrorCode(err) != fountain.EINVALID || !asError(err, &fe) || fe.Field != c.field {
			t.Errorf("%s: err = %v, want invalid %s", c.field, err, c.field)
		}
	}
}

func asError(err error, fe **fountain.Error) bool {
	e, ok := err.(*fountain.Error)
	*fe = e
	return ok
}

func TestParsePortAndVolume(t *testing.T) {
	for in, want := range map[string]string{"8080:80": "8080:80/tcp", "127.0.0.1:8001:8001": "127.0.0.1:8001:8001/tcp",
		"53:53/udp": "53:53/udp", "[::1]:80:80": "::1:80:80/tcp"} {
		p, err := ParsePorts(in)
		if err != nil || len(p) != 1 || p[0].String() != want {
			t.Errorf("ParsePorts(%q) = %v, %v; want %s", in, p, err, want)
		}
	}
	v, err := ParseVolume("/srv/data:/data:ro")
	if err != nil || v.Bind() != "/srv/data:/data:ro" {
		t.Fatalf("%v %v", v, err)
	}
}

func TestSpecHashChangesWithWhatIsAsked(t *testing.T) {
	base := func() DockerAppInput {
		in := DockerAppInput{HostInput: HostInput{InstanceIP: "127.0.0.3"}, DockerImage: "ghcr.io/u/r/a:1", Ports: []string{"8080:80"},
			Env: map[string]string{"A": "1"}}
		in.Validate()
		return in
	}
	a, b := base(), base()
	if a.SpecHash(a.PublishedPorts(nil)) != b.SpecHash(b.PublishedPorts(nil)) {
		t.Fatal("equal specs, different hashes")
	}
	seen := map[string]string{a.SpecHash(a.PublishedPorts(nil)): "base"}
	for name, mod := range map[string]func(*DockerAppInput){
		"env":     func(in *DockerAppInput) { in.Env["A"] = "2" },
		"secret":  func(in *DockerAppInput) { in.SecretEnv = map[string]string{"S": "x"} },
		"port":    func(in *DockerAppInput) { in.Ports = []string{"8081:80"} },
		"volume":  func(in *DockerAppInput) { in.Volumes = []string{"d:/d"} },
		"restart": func(in *DockerAppInput) { in.RestartPolicy = "always" },
		"image":   func(in *DockerAppInput) { in.DockerImage = "ghcr.io/u/r/a:2" },
		"health":  func(in *DockerAppInput) { in.HealthCheck = &HealthCheck{Path: "/", Port: 80, TimeoutS: 30} },
	} {
		in := base()
		mod(&in)
		h := in.SpecHash(in.PublishedPorts(nil))
		if prev, dup := seen[h]; dup {
			t.Errorf("%s: same hash as %s", name, prev)
		}
		seen[h] = name
	}
	if !strings.Contains(strings.Join(func() []string { in := base(); return in.EnvList() }(), ","), "A=1") {
		t.Fatal("env list")
	}
}

// logRecorder is a Recorder that runs steps and keeps log lines.
type logRecorder struct {
	fountain.NopSecrets
	lines []string
}

func (r *logRecorder) Step(ctx context.Context, name string, fn func(context.Context) (fountain.StepResult, error)) error {
	_, err := fn(ctx)
	return err
}
func (r *logRecorder) Log(line string) { r.lines = append(r.lines, line) }

// The server's GHCR login goes only to a host something vouched for
// before the operation (pinned from Lightsail, or a key kept from an
// earlier connection), never to one trusted on first use by this very
// connection; a login the request brings is the caller's to send.
func TestServerGHCRLoginOnlyToVouchedHosts(t *testing.T) {
	const token = "canary-ghcr-token-8e1f"
	e := &Engine{GHCR: &RegistryAuth{Username: "fountain", Password: token}}
	in := DockerAppInput{DockerImage: "ghcr.io/user/repo/my-app:latest"}
	decode := func(enc string) string {
		b, _ := base64.URLEncoding.DecodeString(enc)
		return string(b)
	}
	rec := &logRecorder{}
	enc, err := e.registryAuthFor(in, "203.0.113.9:22", true, rec)
	if err != nil || enc != "" || !strings.Contains(strings.Join(rec.lines, "\n"), "trusted on first use") {
		t.Fatalf("first use: %q %v %q", decode(enc), err, rec.lines)
	}
	if enc, err = e.registryAuthFor(in, "203.0.113.9:22", false, rec); err != nil || !strings.Contains(decode(enc), token) {
		t.Fatalf("a vouched host: %q %v", decode(enc), err)
	}
	own := in
	own.RegistryAuth = &RegistryAuth{Username: "me", Password: "callers-own"}
	if enc, err = e.registryAuthFor(own, "203.0.113.9:22", true, rec); err != nil || !strings.Contains(decode(enc), "callers-own") || strings.Contains(decode(enc), token) {
		t.Fatalf("the caller's login: %q %v", decode(enc), err)
	}
	other := DockerAppInput{DockerImage: "docker.io/library/nginx:latest"}
	if enc, _ = e.registryAuthFor(other, "203.0.113.9:22", false, rec); enc != "" {
		t.Fatalf("the GHCR login went to Docker Hub: %q", decode(enc))
	}
}
