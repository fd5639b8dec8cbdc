package deploy

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/ssh"
)

// The Docker app plans, by exact value from hand-written facts: no host,
// no SSH, no Docker.

const (
	testImage  = "ghcr.io/user/repo/my-app:latest"
	imageV1    = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	imageV2    = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
	digestV1   = "sha256:d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1"
	digestV2   = "sha256:d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2"
	testSettle = 3 * time.Second
)

// app is a validated deploy-docker-app request.
func app(t *testing.T, mod ...func(*DockerAppInput)) DockerAppInput {
	t.Helper()
	in := DockerAppInput{HostInput: HostInput{InstanceIP: "203.0.113.7", SSHKeyPath: "/keys/k.pem"}, DockerImage: testImage,
		Ports: []string{"8080:8080"}, Env: map[string]string{"MODE": "prod"}}
	for _, m := range mod {
		m(&in)
	}
	if err := in.Validate(); err != nil {
		t.Fatal(err)
	}
	return in
}

// ready is a host whose Docker the login user can use.
var ready = HostFacts{DockerInstalled: true, DockerActive: true, InGroup: true, SessionGroup: true, MemTotalKiB: 1 << 20, OS: "Ubuntu 24.04.1 LTS"}

// running is facts of a host that runs in as asked, image v1.
func running(in DockerAppInput) DockerAppFacts {
	return DockerAppFacts{Host: ready, Engine: true,
		Image:          ImageFacts{ID: imageV1, RepoDigests: []string{"ghcr.io/user/repo/my-app@" + digestV1}, Exposed: []string{"8080/tcp"}},
		RegistryDigest: digestV1,
		Current: &ContainerFacts{ID: "c1", Image: imageV1, ImageDigests: []string{"ghcr.io/user/repo/my-app@" + digestV1},
			Spec: in.SpecHash(in.PublishedPorts([]string{"8080/tcp"})), Running: true, StartedAt: "2025-05-01T10:00:00Z"},
	}
}

var (
	dockerReady = []fountain.Change{
		{Name: "Docker Engine installed and running", Reason: "docker.io is installed and running"},
		{Name: "login user may use Docker", Reason: "ubuntu is in the docker group"},
	}
	swapCalls1 = []string{"docker stop my-app", "docker rename my-app my-app.old",
		"docker create --name my-app " + testImage + " (by the id of the image the host has under it then)", "docker start my-app"}
	healthGate1 = fountain.Change{Name: "health check my-app", Verify: true,
		Reason: "the image's HEALTHCHECK says healthy, or (without one) it stays up for 3s, or the version it replaces is restored",
		Effect: healthGate{Name: "my-app", Settle: testSettle}}
	keep1 = fountain.Change{Name: "keep the replaced my-app for rollback", Change: true, Reason: "the version it replaces is kept stopped as my-app.previous",
		Calls: []string{"docker rename my-app.old my-app.previous"}, Effect: keepPrevious{Name: "my-app"}}
)

func wantPlan(t *testing.T, got fountain.Plan, want ...fountain.Change) {
	t.Helper()
	if len(got.Changes) != len(want) {
		t.Fatalf("%d changes, want %d:\n%s", len(got.Changes), len(want), show(got.Changes))
	}
	for i := range want {
		if !reflect.DeepEqual(got.Changes[i], want[i]) {
			t.Errorf("change %d\n%#v\nwant\n%#v", i, got.Changes[i], want[i])
		}
	}
	if !reflect.DeepEqual(got, fountain.Plan{Changes: want}) {
		t.Errorf("the plans differ")
	}
}

func show(cs []fountain.Change) string {
	var b strings.Builder
	for _, c := range cs {
		b.WriteString(c.Name + ": " + c.Reason + "\n")
	}
	return b.String()
}

// A fresh host: Docker installed, the user put in its group, then,
// Docker's state unknown until then, the conservative rest: pull, swap,
// health gate, keep what was replaced (if anything).
func TestPlanDockerAppFreshHost(t *testing.T) {
	in := app(t)
	p := PlanDockerApp(in, DockerAppFacts{Host: HostFacts{OS: "Ubuntu 24.04.1 LTS", MemTotalKiB: 1 << 20}}, testSettle)
	wantPlan(t, p,
		fountain.Change{Name: "Docker Engine installed and running", Change: true, Reason: "Docker is not installed (Ubuntu 24.04.1 LTS)",
			Calls:  []string{"ssh: sudo apt-get install docker.io; systemctl enable --now docker"},
			Effect: ssh.Cmd{Name: "install docker.io", Script: installDockerScript, Sudo: true, Timeout: 15 * time.Minute}},
		fountain.Change{Name: "login user may use Docker", Change: true, Reason: "ubuntu is not in the docker group",
			Calls: []string{"ssh: sudo usermod -aG docker ubuntu", "ssh: reconnect"}, Effect: joinDockerGroup{User: "ubuntu", Add: true}},
		fountain.Change{Name: "pull " + testImage, Change: true, Reason: "the image is pulled once Docker is set up",
			Calls: []string{"docker pull " + testImage}, Effect: pullImage{Ref: testImage}},
		fountain.Change{Name: "container my-app runs the image and spec asked", Change: true, Reason: "container my-app is started once Docker is set up",
			Calls: []string{"docker stop my-app; docker rename my-app my-app.old (if there is one)",
				"docker create --name my-app " + testImage + " (by the id of the image the host has under it then)", "docker start my-app"},
			Effect: swapContainer{App: DockerAppInput{DockerImage: testImage, ContainerName: "my-app", Ports: []string{"8080:8080"},
				Env: map[string]string{"MODE": "prod"}, RestartPolicy: "unless-stopped"}}},
		healthGate1,
		fountain.Change{Name: "keep the replaced my-app for rollback", Change: true, Reason: "the version it replaces, if any, is kept stopped as my-app.previous",
			Calls: []string{"docker rm -f my-app.previous", "docker rename my-app.old my-app.previous"}, Effect: keepPrevious{Name: "my-app"}},
	)
	// Installed but not running, the user in the group but not this
	// session: start it, reconnect.
	p = PlanDockerApp(in, DockerAppFacts{Host: HostFacts{DockerInstalled: true, InGroup: true}}, testSettle)
	want := []fountain.Change{
		{Name: "Docker Engine installed and running", Change: true, Reason: "Docker is installed but not running",
			Calls:  []string{"ssh: sudo apt-get install docker.io; systemctl enable --now docker"},
			Effect: ssh.Cmd{Name: "install docker.io", Script: installDockerScript, Sudo: true, Timeout: 15 * time.Minute}},
		{Name: "login user may use Docker", Change: true, Reason: "ubuntu was added to the docker group; a new SSH connection applies it",
			Calls: []string{"ssh: reconnect"}, Effect: joinDockerGroup{User: "ubuntu"}},
	}
	if !reflect.DeepEqual(p.Changes[:2], want) {
		t.Fatalf("setup %#v", p.Changes[:2])
	}
}

// The app runs as asked: nothing changes and nothing restarts; the health
// step only reports.
func TestPlanDockerAppNoOp(t *testing.T) {
	in := app(t)
	p := PlanDockerApp(in, running(in), testSettle)
	wantPlan(t, p, append(dockerReady,
		fountain.Change{Name: "pull " + testImage, Reason: "the host has the registry's " + digestV1},
		fountain.Change{Name: "container my-app runs the image and spec asked", Reason: "it runs 111111111111 with the settings asked"},
		fountain.Change{Name: "health check my-app", Verify: true, Reason: "it runs; nothing is restarted", Effect: runningSince{StartedAt: "2025-05-01T10:00:00Z"}},
	)...)
	if p.Changed() {
		t.Fatal("a no-op deploy changes something")
	}
	// Pinned by a digest the host has: the registry is not asked.
	pinned := app(t, func(in *DockerAppInput) { in.DockerImage = "ghcr.io/user/repo/my-app@" + digestV1 })
	f := running(pinned)
	f.RegistryDigest = ""
	if c := PlanDockerApp(pinned, f, testSettle).Changes[2]; c.Change || c.Reason != "the host has ghcr.io/user/repo/my-app@"+digestV1 {
		t.Fatalf("pinned: %#v", c)
	}
}

// A tag pushed again: the registry's digest is not the host's, so the
// image is pulled and swapped in, health-gated, the old one kept.
func TestPlanDockerAppRepushedTag(t *testing.T) {
	in := app(t)
	f := running(in)
	f.RegistryDigest = digestV2
	f.Previous = &ContainerFacts{ID: "c0", Image: imageV2}
	p := PlanDockerApp(in, f, testSettle)
	keep := keep1
	keep.Reason += ", instead of the one kept before"
	keep.Calls = []string{"docker rm -f my-app.previous", "docker rename my-app.old my-app.previous"}
	wantPlan(t, p, append(dockerReady,
		fountain.Change{Name: "pull " + testImage, Change: true, Reason: "the registry has " + digestV2 + "; the host has " + digestV1,
			Calls: []string{"docker pull " + testImage}, Effect: pullImage{Ref: testImage}},
		fountain.Change{Name: "container my-app runs the image and spec asked", Change: true,
			Reason: "the registry's " + digestV2 + " would replace the image it runs", Calls: swapCalls1, Effect: swapContainer{App: in.spec()}},
		healthGate1, keep,
	)...)
	// The container already runs the registry's image (deployed by
	// digest): the tag is pulled, nothing restarts.
	f.Current.ImageDigests = append(f.Current.ImageDigests, "ghcr.io/user/repo/my-app@"+digestV2)
	if p := PlanDockerApp(in, f, testSettle); p.Changes[3].Change || !p.Changes[2].Change {
		t.Fatalf("runs the registry's image already: %s", show(p.Changes))
	}
}

// Another spec (an env value, a health check), or a stopped container:
// swapped, the image kept.
func TestPlanDockerAppChangedSpec(t *testing.T) {
	in := app(t)
	f := running(in)
	in2 := app(t, func(in *DockerAppInput) {
		in.Env["MODE"] = "debug"
		in.HealthCheck = &HealthCheck{Path: "/healthz", Port: 8080, TimeoutS: 20}
	})
	f.Current.Running = false
	p := PlanDockerApp(in2, f, testSettle)
	wantPlan(t, p, append(dockerReady,
		fountain.Change{Name: "pull " + testImage, Reason: "the host has the registry's " + digestV1},
		fountain.Change{Name: "container my-app runs the image and spec asked", Change: true,
			Reason: "its settings differ (ports, env, volumes, restart policy or health check); it is not running",
			Calls:  swapCalls1, Effect: swapContainer{App: in2.spec()}},
		fountain.Change{Name: "health check my-app", Verify: true,
			Reason: "GET /healthz on its port 8080 answers 2xx or 3xx within 20s, or the version it replaces is restored",
			Effect: healthGate{Name: "my-app", Check: &HealthCheck{Path: "/healthz", Port: 8080, TimeoutS: 20}, Settle: testSettle}},
		keep1,
	)...)
	if got := p.Changes[3].Effect.(swapContainer).App; got.SecretEnv != nil || got.RegistryAuth != nil || got.InstanceIP != "" {
		t.Fatalf("the spec holds the host or the login: %#v", got)
	}
}

// A deploy interrupted mid-swap left the last good version as NAME.old
// and an unverified NAME: the swap brings the good one back first.
func TestPlanDockerAppInterruptedSwap(t *testing.T) {
	in := app(t)
	f := running(in)
	f.Old = &ContainerFacts{ID: "c0", Image: imageV1, Spec: f.Current.Spec}
	p := PlanDockerApp(in, f, testSettle)
	wantPlan(t, p, append(dockerReady,
		fountain.Change{Name: "pull " + testImage, Reason: "the host has the registry's " + digestV1},
		fountain.Change{Name: "container my-app runs the image and spec asked", Change: true,
			Reason: "a deploy was interrupted before my-app proved healthy (the last good version waits as my-app.old)",
			Calls: []string{"docker rm -f my-app (unverified)", "docker rename my-app.old my-app (the last good version back)",
				"docker stop my-app", "docker rename my-app my-app.old",
				"docker create --name my-app " + testImage + " (by the id of the image the host has under it then)", "docker start my-app"},
			Effect: swapContainer{App: in.spec()}},
		healthGate1, keep1,
	)...)
}

// The app's own network: created unless it exists.
func TestPlanDockerAppNetwork(t *testing.T) {
	in := app(t, func(in *DockerAppInput) { in.network = "fountain-kong" })
	f := running(in)
	f.Network = &NetworkFacts{}
	want := fountain.Change{Name: "Docker network fountain-kong exists", Change: true,
		Reason: "no network fountain-kong: the container gets a bridge of its own, which no other container joins",
		Calls:  []string{"docker network create --driver bridge fountain-kong"}, Effect: createNetwork{Name: "fountain-kong", App: "my-app"}}
	if got := PlanDockerApp(in, f, testSettle).Changes[2]; !reflect.DeepEqual(got, want) {
		t.Fatalf("network %#v", got)
	}
	f.Network = &NetworkFacts{Exists: true, Gateway: "172.19.0.1"}
	if got := PlanDockerApp(in, f, testSettle).Changes[2]; !reflect.DeepEqual(got, fountain.Change{Name: "Docker network fountain-kong exists", Reason: "it exists"}) {
		t.Fatalf("network %#v", got)
	}
}

func TestPlanRollback(t *testing.T) {
	in := AppInput{HostInput: HostInput{InstanceIP: "203.0.113.7", SSHUser: "ubuntu"}, ContainerName: "my-app"}
	f := running(app(t))
	hc := &HealthCheck{Path: "/", Port: 8080, TimeoutS: 30}
	f.Previous = &ContainerFacts{ID: "c0", Image: imageV2, Health: hc}
	p, err := PlanRollback(in, f, "203.0.113.7 (web-1)", testSettle)
	if err != nil {
		t.Fatal(err)
	}
	wantPlan(t, p,
		fountain.Change{Name: "previous version of my-app", Change: true, Reason: "my-app runs 111111111111; the previous version runs 222222222222",
			Calls: []string{"docker rm -f my-app.rollback", "docker stop my-app", "docker rename my-app my-app.rollback",
				"docker rename my-app.previous my-app", "docker start my-app"},
			Effect: rollbackSwap{Name: "my-app", Image: imageV2, Current: true}},
		fountain.Change{Name: "health check my-app", Verify: true,
			Reason: "GET / on its port 8080 answers 2xx or 3xx within 30s, or the version rolled back from serves again",
			Effect: rollbackGate{Name: "my-app", Check: hc, Settle: testSettle, Current: true}},
	)
	// Only the previous version left (the app was removed by hand).
	f.Current = nil
	p, _ = PlanRollback(in, f, "203.0.113.7 (web-1)", testSettle)
	if c := p.Changes[0]; c.Reason != "my-app runs no answer; the previous version runs 222222222222" ||
		!reflect.DeepEqual(c.Calls, []string{"docker rm -f my-app.rollback", "docker rename my-app.previous my-app", "docker start my-app"}) ||
		c.Effect != (rollbackSwap{Name: "my-app", Image: imageV2}) {
		t.Fatalf("without a current one: %#v", c)
	}
	// No previous version; no Docker: conflicts, before anything runs.
	f.Previous = nil
	if _, err := PlanRollback(in, f, "203.0.113.7 (web-1)", testSettle); fountain.ErrorCode(err) != fountain.ECONFLICT ||
		fountain.ErrorMessage(err) != "there is no previous version of my-app on 203.0.113.7 (web-1) to roll back to" {
		t.Fatalf("without a previous version: %v", err)
	}
	if _, err := PlanRollback(in, DockerAppFacts{Host: ready}, "203.0.113.7", testSettle); fountain.ErrorCode(err) != fountain.ECONFLICT ||
		fountain.ErrorMessage(err) != "Docker is not set up on 203.0.113.7 for ubuntu" {
		t.Fatalf("without Docker: %v", err)
	}
}

func TestPlanRemove(t *testing.T) {
	in := AppInput{HostInput: HostInput{InstanceIP: "203.0.113.7", SSHUser: "ubuntu"}, ContainerName: "my-app"}
	f := running(app(t))
	f.Previous = &ContainerFacts{ID: "c0", Image: imageV2}
	p, err := PlanRemove(in, f, "203.0.113.7")
	if err != nil {
		t.Fatal(err)
	}
	wantPlan(t, p,
		fountain.Change{Name: "remove container my-app", Change: true, Reason: "my-app exists", Calls: []string{"docker rm -f my-app"}, Effect: removeContainer{Name: "my-app"}},
		fountain.Change{Name: "remove container my-app.previous", Change: true, Reason: "my-app.previous exists",
			Calls: []string{"docker rm -f my-app.previous"}, Effect: removeContainer{Name: "my-app.previous"}},
		fountain.Change{Name: "remove container my-app.old", Reason: "no container my-app.old"},
		fountain.Change{Name: "remove container my-app.rollback", Reason: "no container my-app.rollback"},
		fountain.Change{Name: "remove container my-app.next", Reason: "no container my-app.next"},
	)
	// Nothing there: nothing changes.
	p, err = PlanRemove(in, DockerAppFacts{Host: ready, Engine: true}, "203.0.113.7")
	if err != nil || p.Changed() || len(p.Changes) != 5 || !reflect.DeepEqual(p.Changes[0], fountain.Change{Name: "remove container my-app", Reason: "no container my-app"}) {
		t.Fatalf("absent: %#v %v", p, err)
	}
}

// The host probe's output, read into facts.
func TestParseProbe(t *testing.T) {
	got := parseProbe("docker=installed\ndocker=active\nuid=1000\nsession=docker\ngroup=docker\nmem=2014208\nos=Ubuntu 24.04.1 LTS\n")
	want := HostFacts{DockerInstalled: true, DockerActive: true, InGroup: true, SessionGroup: true, MemTotalKiB: 2014208, OS: "Ubuntu 24.04.1 LTS"}
	if got != want || !got.DockerReady() {
		t.Fatalf("%#v", got)
	}
	if got := parseProbe("uid=0\n"); got != (HostFacts{Root: true}) || got.DockerReady() {
		t.Fatalf("%#v", got)
	}
}
