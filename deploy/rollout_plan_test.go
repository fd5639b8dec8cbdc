package deploy

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/kong"
)

// Rollouts and deploys behind Kong, by exact value from hand-written
// facts: no host, no SSH, no Docker, no Kong.

const (
	addr1, addr2, addr3 = "172.26.0.11", "172.26.0.12", "172.26.0.13"
	portA, portB        = 29218, 29219 // my-app's pair (appPorts)
)

var gw1 = &GatewayRef{InstanceName: "gw-1"}

// behind is a validated deploy of my-app behind Kong on gw-1.
func behind(t *testing.T, mod ...func(*DockerAppInput)) DockerAppInput {
	t.Helper()
	drain := 2
	in := DockerAppInput{HostInput: HostInput{SSHKeyPath: "/keys/k.pem"}, InstanceNames: []string{"web-1"}, DockerImage: testImage,
		Env: map[string]string{"MODE": "prod"}, Gateway: &GatewayRef{InstanceName: "gw-1"}, DrainSeconds: &drain,
		HealthCheck: &HealthCheck{Path: "/healthz", Port: 8080, TimeoutS: 20, IntervalS: 1}}
	for _, m := range mod {
		m(&in)
	}
	if err := in.Validate(); err != nil {
		t.Fatal(err)
	}
	return in
}

// onPort is what a host says of my-app deployed behind Kong on port, image v1.
func onPort(in DockerAppInput, port int) DockerAppFacts {
	spec := in
	spec.picked = &pickedPort{Host: port, Container: 8080, Pair: [2]int{portA, portB}}
	return DockerAppFacts{Host: ready, Engine: true,
		Image:          ImageFacts{ID: imageV1, RepoDigests: []string{"ghcr.io/user/repo/my-app@" + digestV1}, Exposed: []string{"8080/tcp"}},
		RegistryDigest: digestV1,
		Current: &ContainerFacts{ID: "c1", Image: imageV1, ImageDigests: []string{"ghcr.io/user/repo/my-app@" + digestV1},
			Spec: spec.SpecHash(spec.PublishedPorts(nil)), Running: true, StartedAt: "2025-05-01T10:00:00Z",
			Port: port, Pair: [2]int{portA, portB}, TCPPorts: []int{port}, Gateway: gw1},
	}
}

// routed is a gateway config routing /app to my-app's upstream with
// targets.
func routed(t *testing.T, targets ...kong.Target) *kong.Config {
	t.Helper()
	cfg := mustConfig(t, "_format_version: \"3.0\"\nservices:\n  - name: my-app\n    url: http://app-my-app\n    routes:\n      - name: my-app\n        paths:\n          - /app\n")
	check := activeCheck(&HealthCheck{Path: "/healthz", Port: 8080, TimeoutS: 20, IntervalS: 1})
	next, err := kong.SetUpstream(cfg, "app-my-app", targets, &check)
	if err != nil {
		t.Fatal(err)
	}
	return next
}

// gatewayRuns is a gateway that runs cfg as Fountain's version 3.
func gatewayRuns(t *testing.T, cfg *kong.Config) *KongChangeFacts {
	t.Helper()
	v, err := kongVersions(cfg.YAML(), 3, []fountain.ConfigVersion{{Version: 3, Hash: cfg.Hash()}})
	if err != nil {
		t.Fatal(err)
	}
	return &KongChangeFacts{Versions: v, Admin: KongAdminFacts{Hash: cfg.Hash()}, File: cfg.YAML()}
}

func host(name, addr string, f DockerAppFacts) RolloutHostFacts {
	return RolloutHostFacts{Name: name, Target: name, Address: addr, App: f}
}

func prefixAll(host string, cs ...fountain.Change) []fountain.Change { return prefixChanges(host, cs) }

// A new digest behind Kong: the new version starts beside the old one on
// the other port, health-gated; Kong moves the traffic in one load (the
// old target kept at weight 0); the old one drains, stops and is kept.
func TestPlanRolloutZeroDowntime(t *testing.T) {
	in := behind(t)
	f := onPort(in, portA)
	f.RegistryDigest = digestV2
	base := routed(t, tg(addr1+":29218", 100))
	rp, err := PlanRollout(in, RolloutFacts{Hosts: []RolloutHostFacts{host("web-1", addr1, f)}, Gateway: gatewayRuns(t, base)}, testSettle)
	if err != nil {
		t.Fatal(err)
	}
	next := routed(t, tg(addr1+":29219", 100), tg(addr1+":29218", 0))
	spec := in.spec()
	spec.picked = &pickedPort{Host: portB, Container: 8080, Pair: [2]int{portA, portB}}
	check := activeCheck(in.HealthCheck)
	how := fountain.Change{Name: "how each host changes", Reason: "the new version starts beside the old one on another host port, and Kong moves the traffic to it once it is healthy; the old one drains, then stops"}
	want := append(append([]fountain.Change{how}, prefixAll("web-1", append(dockerReady,
		fountain.Change{Name: "pull " + testImage, Change: true, Reason: "the registry has " + digestV2 + "; the host has " + digestV1,
			Calls: []string{"docker pull " + testImage}, Effect: pullImage{Ref: testImage}},
		fountain.Change{Name: "container my-app.next runs the new version on port 29219", Change: true,
			Reason: "the registry's " + digestV2 + " would replace the image it runs: the new version starts beside it on host port 29219",
			Calls:  []string{"docker create --name my-app.next -p 29219:8080 " + testImage + " (by the id of the image the host has under it then)", "docker start my-app.next"},
			Effect: startNext{App: spec}},
		fountain.Change{Name: "health check my-app.next", Verify: true,
			Reason: "GET /healthz on its port 8080 answers 2xx or 3xx within 20s, or it is removed and Kong never sees it",
			Effect: nextGate{Name: "my-app.next", Check: in.HealthCheck, Settle: testSettle}})...)...),
		fountain.Change{Name: "Kong's upstream app-my-app sends web-1's traffic to the version asked", Change: true,
			Reason: "one config load on each node (check_hash): web-1 at " + addr1 + ":29219 (" + addr1 + ":29218 at weight 0, kept for rollback)",
			Diff:   kong.Diff(base, next, "current", "new"),
			Calls:  []string{"kong (each node in turn): POST /config?flatten_errors=1&check_hash=1", "fountain: record a version of the gateway's config", "ssh (each node): write /etc/kong/kong.yml"},
			Effect: kongSwitch{Upstream: "app-my-app", Check: check, Source: "deploy my-app: web-1",
				Moves: []targetMove{{Host: 0, Address: addr1, Serve: addr1 + ":29219", Retire: addr1 + ":29218"}}}},
		fountain.Change{Name: "the old version drains on web-1", Verify: true,
			Reason: "Kong sends it no new requests; those under way finish within 2s (drain_seconds, as kamal-proxy's drain_timeout)", Effect: drainWait{Seconds: 2}},
		fountain.Change{Name: "web-1: my-app.next becomes my-app; the old one is kept for rollback", Change: true,
			Reason: "Kong sends it no traffic: it stops and is kept as my-app.previous",
			Calls:  []string{"docker stop my-app", "docker rename my-app my-app.previous", "docker rename my-app.next my-app"},
			Effect: promoteNext{Name: "my-app", Current: true}},
	)
	wantPlan(t, rp.Plan(), want...)
	if !rp.ZeroDowntime || rp.Upstream != "app-my-app" || !strings.HasPrefix(rp.Why, "the new version starts beside the old one") {
		t.Fatalf("mode: %t %q %q", rp.ZeroDowntime, rp.Upstream, rp.Why)
	}
	// The switch's effect gives the config the plan showed.
	sw := rp.Batches[0].Switch.Effect.(kongSwitch)
	if got, err := applyMoves(base, sw.Upstream, sw.Moves, sw.Check); err != nil || got.YAML() != next.YAML() {
		t.Fatalf("the switch's config:\n%s", got.YAML())
	}

	// Deployed again: it runs as asked on 29219, Kong says so: nothing
	// changes, nothing restarts, nothing drains.
	f = onPort(in, portB)
	f.Previous = &ContainerFacts{ID: "c0", Image: imageV2, Port: portA, Pair: [2]int{portA, portB}, TCPPorts: []int{portA}}
	rp, err = PlanRollout(in, RolloutFacts{Hosts: []RolloutHostFacts{host("web-1", addr1, f)}, Gateway: gatewayRuns(t, next)}, testSettle)
	if err != nil {
		t.Fatal(err)
	}
	noop := append([]fountain.Change{how}, prefixAll("web-1", append(dockerReady,
		fountain.Change{Name: "pull " + testImage, Reason: "the host has the registry's " + digestV1},
		fountain.Change{Name: "container my-app runs the image and spec asked", Reason: "it runs 111111111111 with the settings asked"},
		fountain.Change{Name: "health check my-app", Verify: true, Reason: "it runs; nothing is restarted", Effect: runningSince{StartedAt: "2025-05-01T10:00:00Z"}})...)...)
	noop = append(noop, fountain.Change{Name: "Kong's upstream app-my-app sends web-1's traffic to the version asked",
		Reason: "Kong sends web-1 at " + addr1 + ":29219 (" + addr1 + ":29218 at weight 0, kept for rollback)",
		Calls:  []string{"kong (each node in turn): POST /config?flatten_errors=1&check_hash=1", "fountain: record a version of the gateway's config", "ssh (each node): write /etc/kong/kong.yml"}})
	wantPlan(t, rp.Plan(), noop...)
	if rp.Plan().Changed() {
		t.Fatal("a no-op rollout changes something")
	}
	// Kong lost the target (a config applied by hand, then adopted): the
	// switch puts it back, with nothing to drain.
	rp, err = PlanRollout(in, RolloutFacts{Hosts: []RolloutHostFacts{host("web-1", addr1, f)}, Gateway: gatewayRuns(t, routed(t))}, testSettle)
	if err != nil || !rp.Batches[0].Switch.Change || rp.Batches[0].Drain != nil || rp.Batches[0].Hosts[0].Changed {
		t.Fatalf("a lost target: %v %s", err, show(rp.Plan().Changes))
	}
}

// Fixed ports: the plain swap, and the plan says so and why; Kong's
// target is the fixed port.
func TestPlanRolloutFixedPorts(t *testing.T) {
	in := behind(t, func(in *DockerAppInput) { in.Ports = []string{"8080:8080"} })
	f := running(in)
	f.RegistryDigest = digestV2
	base := routed(t, tg(addr1+":8080", 100))
	rp, err := PlanRollout(in, RolloutFacts{Hosts: []RolloutHostFacts{host("web-1", addr1, f)}, Gateway: gatewayRuns(t, base)}, testSettle)
	if err != nil {
		t.Fatal(err)
	}
	if rp.ZeroDowntime || rp.Why != "ports are fixed (8080:8080): a new container cannot publish them beside the old one, so it replaces it in place and requests to the host fail meanwhile; "+
		"leave ports out for a deploy that drops no request (Fountain picks the host ports and Kong follows)" {
		t.Fatalf("why: %q", rp.Why)
	}
	p := rp.Plan()
	names := make([]string, len(p.Changes))
	for i, c := range p.Changes {
		names[i] = c.Name
	}
	want := []string{"how each host changes", "web-1: Docker Engine installed and running", "web-1: login user may use Docker", "web-1: pull " + testImage,
		"web-1: container my-app runs the image and spec asked", "web-1: health check my-app", "web-1: keep the replaced my-app for rollback",
		"Kong's upstream app-my-app sends web-1's traffic to the version asked"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("steps:\n%s", strings.Join(names, "\n"))
	}
	if sw := p.Changes[7]; sw.Change || sw.Reason != "Kong sends web-1 at "+addr1+":8080" {
		t.Fatalf("the target is the fixed port already: %#v", sw)
	}
	if _, ok := p.Changes[4].Effect.(swapContainer); !ok || rp.Batches[0].Drain != nil || p.Changes[0].Reason != rp.Why {
		t.Fatalf("not a swap: %#v", p.Changes[4])
	}
}

// Three hosts, two at a time: two batches, each one Kong load; without a
// gateway, no Kong step at all.
func TestPlanRolloutBatches(t *testing.T) {
	in := behind(t, func(in *DockerAppInput) {
		in.InstanceNames, in.Batch, in.MaxFailures = []string{"web-1", "web-2", "web-3"}, "2", 1
	})
	var hosts []RolloutHostFacts
	var targets []kong.Target
	for i, a := range []string{addr1, addr2, addr3} {
		f := onPort(in, portA)
		f.RegistryDigest = digestV2
		hosts = append(hosts, host("web-"+string(rune('1'+i)), a, f))
		targets = append(targets, tg(a+":29218", 100))
	}
	base := routed(t, targets...)
	rp, err := PlanRollout(in, RolloutFacts{Hosts: hosts, Gateway: gatewayRuns(t, base)}, testSettle)
	if err != nil {
		t.Fatal(err)
	}
	if len(rp.Batches) != 2 || len(rp.Batches[0].Hosts) != 2 || len(rp.Batches[1].Hosts) != 1 || rp.MaxFailures != 1 {
		t.Fatalf("batches: %#v", rp.Batches)
	}
	if got := rp.Batches[0].Switch.Name; got != "Kong's upstream app-my-app sends web-1, web-2's traffic to the version asked" {
		t.Fatalf("switch: %q", got)
	}
	// The second batch's switch is made on what the first leaves.
	// Each host's targets stay where its target was.
	mid := routed(t, tg(addr1+":29219", 100), tg(addr1+":29218", 0), tg(addr2+":29219", 100), tg(addr2+":29218", 0), tg(addr3+":29218", 100))
	end := routed(t, tg(addr1+":29219", 100), tg(addr1+":29218", 0), tg(addr2+":29219", 100), tg(addr2+":29218", 0), tg(addr3+":29219", 100), tg(addr3+":29218", 0))
	if rp.Batches[0].Switch.Diff != kong.Diff(base, mid, "current", "new") || rp.Batches[1].Switch.Diff != kong.Diff(mid, end, "current", "new") {
		t.Fatalf("diffs:\n%s\n%s", rp.Batches[0].Switch.Diff, rp.Batches[1].Switch.Diff)
	}
	// A percentage: 34% of 3 is one host at a time.
	in.Batch = "34%"
	if rp, _ := PlanRollout(in, RolloutFacts{Hosts: hosts, Gateway: gatewayRuns(t, base)}, testSettle); len(rp.Batches) != 3 {
		t.Fatalf("34%%: %d batches", len(rp.Batches))
	}
	// No gateway: each host swapped in place, no Kong step.
	plain := app(t, func(in *DockerAppInput) { in.InstanceIP, in.InstanceNames = "", []string{"web-1", "web-2"} })
	rp, err = PlanRollout(plain, RolloutFacts{Hosts: []RolloutHostFacts{host("web-1", "", running(plain)), host("web-2", "", running(plain))}}, testSettle)
	if err != nil || rp.ZeroDowntime || len(rp.Batches) != 2 || rp.Batches[0].Switch != nil || rp.Plan().Changed() {
		t.Fatalf("no gateway: %v %s", err, show(rp.Plan().Changes))
	}
}

// What a rollout refuses from the facts.
func TestPlanRolloutRefusals(t *testing.T) {
	// An app deployed behind a gateway, deployed without naming it.
	in := app(t)
	f := running(in)
	f.Current.Gateway = gw1
	_, err := PlanRollout(in, RolloutFacts{Hosts: []RolloutHostFacts{host("web-1", "", f)}}, testSettle)
	if fountain.ErrorCode(err) != fountain.ECONFLICT || fountain.ErrorMessage(err) != "my-app on web-1 is deployed behind Kong on gw-1: a deploy that does not name it would leave Kong's upstream behind" {
		t.Fatalf("no gateway named: %v", err)
	}
	// Behind Kong, an image exposing two ports and no health check.
	in = behind(t, func(in *DockerAppInput) { in.HealthCheck = nil })
	f = onPort(in, portA)
	f.Image.Exposed = []string{"8080/tcp", "9090/tcp"}
	_, err = PlanRollout(in, RolloutFacts{Hosts: []RolloutHostFacts{host("web-1", addr1, f)}, Gateway: gatewayRuns(t, routed(t))}, testSettle)
	if fountain.ErrorCode(err) != fountain.ECONFLICT || !strings.Contains(fountain.ErrorMessage(err), "exposes 2 TCP ports") {
		t.Fatalf("two ports: %v", err)
	}
	// Another node of the gateway runs a config Fountain has no version of.
	in = behind(t)
	gf := gatewayRuns(t, routed(t))
	gf.Node, gf.Others = "gw-1", []KongNodeFacts{{Node: "gw-2", Admin: KongAdminFacts{Hash: "0123456789abcdef0123456789abcdef"}}}
	_, err = PlanRollout(in, RolloutFacts{Hosts: []RolloutHostFacts{host("web-1", addr1, onPort(in, portA))}, Gateway: gf}, testSettle)
	if fountain.ErrorCode(err) != fountain.ECONFLICT || !strings.Contains(fountain.ErrorMessage(err), "Kong on gw-2 runs a config Fountain has no version of") {
		t.Fatalf("gw-2: %v", err)
	}
}

// A fresh host behind Kong: Docker set up, then, unknown until then, the
// new version on the first port of the app's pair, no old one to drain;
// and a deploy interrupted after Kong moved to my-app.next is finished
// first.
func TestPlanRolloutFreshAndInterrupted(t *testing.T) {
	in := behind(t)
	rp, err := PlanRollout(in, RolloutFacts{Hosts: []RolloutHostFacts{host("web-1", addr1, DockerAppFacts{Host: HostFacts{OS: "Ubuntu 24.04.1 LTS"}})},
		Gateway: gatewayRuns(t, routed(t))}, testSettle)
	if err != nil {
		t.Fatal(err)
	}
	b := rp.Batches[0]
	if start := b.Hosts[0].Up[3]; start.Name != "container my-app.next runs the new version on port 29218" ||
		start.Calls[0] != "docker rm -f my-app.next (left by an interrupted deploy; Kong never sent it traffic)" {
		t.Fatalf("fresh: %#v", start)
	}
	if b.Drain != nil || !reflect.DeepEqual(b.Hosts[0].After[0], fountain.Change{Name: "my-app.next becomes my-app", Change: true, Reason: "nothing ran before it",
		Calls: []string{"docker rename my-app.next my-app"}, Effect: promoteNext{Name: "my-app"}}) {
		t.Fatalf("fresh: %s", show(rp.Plan().Changes))
	}

	// Interrupted after the switch: my-app.next (29219) serves.
	f := onPort(in, portA)
	f.Next = &ContainerFacts{ID: "c2", Image: imageV1, Port: portB, Pair: [2]int{portA, portB}, TCPPorts: []int{portB}, Running: true}
	f.Next.Spec, f.Next.ImageDigests, f.Next.StartedAt = onPort(in, portB).Current.Spec, f.Current.ImageDigests, "2025-05-02T10:00:00Z"
	cfg := routed(t, tg(addr1+":29219", 100), tg(addr1+":29218", 0))
	rp, err = PlanRollout(in, RolloutFacts{Hosts: []RolloutHostFacts{host("web-1", addr1, f)}, Gateway: gatewayRuns(t, cfg)}, testSettle)
	if err != nil {
		t.Fatal(err)
	}
	up := rp.Batches[0].Hosts[0].Up
	if !reflect.DeepEqual(up[2], fountain.Change{Name: "finish the interrupted deploy of my-app", Change: true,
		Reason: "Kong sends web-1's traffic to my-app.next, which a deploy started and did not finish: it becomes my-app",
		Calls:  []string{"docker stop my-app", "docker rename my-app my-app.previous", "docker rename my-app.next my-app"},
		Effect: promoteNext{Name: "my-app", Current: true}}) || up[4].Name != "container my-app runs the image and spec asked" || up[4].Change {
		t.Fatalf("interrupted: %s", show(up))
	}
	if sw := rp.Batches[0].Switch; sw.Change {
		t.Fatalf("Kong runs what it is to run: %#v", sw)
	}
}

// Rollback behind Kong: the deploy's sequence backwards.
func TestPlanRollbackBehindKong(t *testing.T) {
	in := AppInput{HostInput: HostInput{InstanceName: "web-1", SSHUser: "ubuntu"}, ContainerName: "my-app", Gateway: gw1}
	f := onPort(behind(t), portB)
	hc := &HealthCheck{Path: "/healthz", Port: 8080, TimeoutS: 20, IntervalS: 1}
	f.Previous = &ContainerFacts{ID: "c0", Image: imageV2, Port: portA, Pair: [2]int{portA, portB}, TCPPorts: []int{portA}, Health: hc}
	base := routed(t, tg(addr1+":29219", 100), tg(addr1+":29218", 0))
	rp, err := PlanRollbackBehindKong(in, host("web-1", addr1, f), gatewayRuns(t, base), "", testSettle)
	if err != nil {
		t.Fatal(err)
	}
	next := routed(t, tg(addr1+":29218", 100), tg(addr1+":29219", 0))
	names := []string{}
	for _, c := range rp.Plan().Changes {
		names = append(names, c.Name)
	}
	if !reflect.DeepEqual(names, []string{"web-1: previous version of my-app runs as my-app.next", "web-1: health check my-app.next",
		"Kong's upstream app-my-app sends web-1's traffic to the version asked", "the old version drains on web-1",
		"web-1: my-app.next becomes my-app; the one rolled back from is kept as the previous version"}) {
		t.Fatalf("steps: %q", names)
	}
	b := rp.Batches[0]
	if b.Switch.Diff != kong.Diff(base, next, "current", "new") || b.Drain.Effect != (drainWait{Seconds: DefaultDrain}) ||
		!reflect.DeepEqual(b.Hosts[0].Up[1].Effect, nextGate{Name: "my-app.next", Check: hc, Settle: testSettle, Restore: true}) {
		t.Fatalf("rollback: %s", show(rp.Plan().Changes))
	}
	f.Previous = nil
	if _, err := PlanRollbackBehindKong(in, host("web-1", addr1, f), gatewayRuns(t, base), "", testSettle); fountain.ErrorCode(err) != fountain.ECONFLICT {
		t.Fatalf("no previous version: %v", err)
	}
}

// The batch size, by Kamal's rule; the app's two ports, away from other
// apps'.
func TestBatchAndPorts(t *testing.T) {
	for _, c := range []struct {
		s    string
		n    int
		want int
	}{{"", 5, 1}, {"2", 5, 2}, {"25%", 3, 1}, {"50%", 4, 2}, {"100%", 3, 3}} {
		if got, err := parseBatch(c.s, c.n); err != nil || got != c.want {
			t.Errorf("batch %q of %d: %d %v", c.s, c.n, got, err)
		}
	}
	for _, bad := range []string{"0", "0%", "101%", "x", "65", "-1"} {
		if _, err := parseBatch(bad, 3); fountain.ErrorCode(err) != fountain.EINVALID {
			t.Errorf("batch %q: %v", bad, err)
		}
	}
	if got := appPorts("my-app", nil); got != [2]int{portA, portB} {
		t.Fatalf("my-app's ports: %v", got)
	}
	if got := appPorts("my-app", []int{portB}); got != [2]int{portA + 2, portB + 2} {
		t.Fatalf("taken: %v", got)
	}
	if got := batches(5, 2); !reflect.DeepEqual(got, [][]int{{0, 1}, {2, 3}, {4}}) {
		t.Fatalf("batches: %v", got)
	}
}

// failOn is a host executor that fails the changes whose name has a
// given word, and records the rest as applied.
type failOn struct {
	word    string
	mu      *sync.Mutex
	applied *[]string
}

func (f failOn) Apply(_ context.Context, _ fountain.Recorder, c fountain.Change) (fountain.StepResult, error) {
	if f.word != "" && strings.Contains(c.Name, f.word) {
		return fountain.StepResult{}, errors.New("not healthy")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	*f.applied = append(*f.applied, c.Name)
	return fountain.StepResult{Changed: true}, nil
}

// A failure stops the rollout once failures pass max_failures: the hosts
// not reached keep their version, and the answer says which is which.
func TestRolloutStopsAtFailures(t *testing.T) {
	in := app(t, func(in *DockerAppInput) { in.InstanceIP, in.InstanceNames = "", []string{"web-1", "web-2", "web-3"} })
	var hosts []RolloutHostFacts
	for _, n := range []string{"web-1", "web-2", "web-3"} {
		f := running(in)
		f.RegistryDigest = digestV2
		hosts = append(hosts, host(n, "", f))
	}
	for _, c := range []struct {
		max   int
		batch string
		want  []string
	}{
		{0, "", []string{hostDeployed, hostFailed, hostNotReached}},
		{1, "", []string{hostDeployed, hostFailed, hostDeployed}},
		{0, "2", []string{hostDeployed, hostFailed, hostNotReached}}, // web-1 and web-2 at once
	} {
		in.MaxFailures, in.Batch = c.max, c.batch
		rp, err := PlanRollout(in, RolloutFacts{Hosts: hosts}, testSettle)
		if err != nil {
			t.Fatal(err)
		}
		var applied []string
		var mu sync.Mutex
		x := &rolloutExec{failed: map[int]error{}}
		for i := range hosts {
			word := ""
			if i == 1 {
				word = "health check"
			}
			x.hosts = append(x.hosts, &rolloutHost{ex: failOn{word: word, mu: &mu, applied: &applied}})
		}
		rec := &logRecorder{}
		steps, outcome, err := rp.apply(context.Background(), rec, x, false)
		if err == nil || !strings.HasPrefix(err.Error(), "web-2: ") {
			t.Fatalf("max %d: %v", c.max, err)
		}
		var got []string
		for _, o := range outcome {
			got = append(got, o.status)
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Fatalf("max %d: %v", c.max, got)
		}
		if last := steps[len(steps)-1]; c.max == 0 && c.batch == "" && (last.Name != "web-3: keep the replaced my-app for rollback" || last.Reason != notReached) {
			t.Fatalf("max 0: the last step %#v", last)
		}
		for _, a := range applied {
			if c.max == 0 && strings.HasPrefix(a, "web-3") {
				t.Fatalf("web-3 was reached: %v", applied)
			}
		}
	}
}

// Two hosts already as asked, one at a time: no batch's switch changes
// Kong (each host's targets keep their place, so the first batch does
// not reorder what the second would put back).
func TestPlanRolloutTwoHostsAsAskedIsNoOp(t *testing.T) {
	in := behind(t, func(in *DockerAppInput) { in.InstanceNames = []string{"web-1", "web-2"} })
	var hosts []RolloutHostFacts
	for i, a := range []string{addr1, addr2} {
		f := onPort(in, portB)
		f.Previous = &ContainerFacts{ID: "c0", Image: imageV2, Port: portA, Pair: [2]int{portA, portB}, TCPPorts: []int{portA}}
		hosts = append(hosts, host("web-"+string(rune('1'+i)), a, f))
	}
	cfg := routed(t, tg(addr1+":29219", 100), tg(addr1+":29218", 0), tg(addr2+":29219", 100), tg(addr2+":29218", 0))
	rp, err := PlanRollout(in, RolloutFacts{Hosts: hosts, Gateway: gatewayRuns(t, cfg)}, testSettle)
	if err != nil {
		t.Fatal(err)
	}
	if len(rp.Batches) != 2 {
		t.Fatalf("batches: %d", len(rp.Batches))
	}
	for i, b := range rp.Batches {
		if b.Switch == nil || b.Switch.Change || b.Drain != nil {
			t.Fatalf("batch %d: %#v", i, b.Switch)
		}
	}
	if rp.Plan().Changed() {
		t.Fatal("a second rollout on two hosts changes something")
	}
}
