package deploy

import (
	"reflect"
	"strings"
	"testing"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/kong"
)

// Kong's plans, deploy-kong and config changes, by exact value from
// hand-written facts: no host, no SSH, no Docker, no Kong.

const (
	kongImage = "docker.io/library/kong:3.9"
	yamlEmpty = "_format_version: \"3.0\"\n"
	yamlV1    = "_format_version: \"3.0\"\nservices:\n  - name: my-app\n    url: http://172.26.0.5:8080\n    routes:\n      - name: my-app\n        paths:\n          - /app\n"
	hashV1    = "7ede701f1156e9c792ae260ee18206b5"
	yamlV2    = yamlV1 + "  - name: other\n    url: http://172.26.0.5:9\n    routes:\n      - name: other\n        paths:\n          - /other\n"
	hashV2    = "468b098a55979fb66f55b2239d991cc1"
	diffV1V2  = "--- current\n+++ new\n@@ -6,3 +6,9 @@\n       - name: my-app\n         paths:\n           - /app\n+  - name: other\n+    url: http://172.26.0.5:9\n+    routes:\n+      - name: other\n+        paths:\n+          - /other\n"
	diffV2V1  = "--- current\n+++ new\n@@ -6,9 +6,3 @@\n       - name: my-app\n         paths:\n           - /app\n-  - name: other\n-    url: http://172.26.0.5:9\n-    routes:\n-      - name: other\n-        paths:\n-          - /other\n"
	// A config put in Kong by hand (Kong's export: ids, its own YAML).
	handText   = "_format_version: '3.0'\nservices:\n- name: hand\n  id: 1f7a\n  url: http://172.26.0.5:8080\n  routes:\n  - {name: hand, paths: [/hand]}\n"
	handYAML   = "_format_version: \"3.0\"\nservices:\n  - name: hand\n    id: 1f7a\n    url: http://172.26.0.5:8080\n    routes:\n      - name: hand\n        paths:\n          - /hand\n"
	handHash   = "14b3aac9d2deb85d22419a38afccf34e" // Kong's hash of handText as loaded
	diffV1Hand = "--- Fountain's version 1\n+++ found on the host\n@@ -1,8 +1,9 @@\n _format_version: \"3.0\"\n services:\n-  - name: my-app\n+  - name: hand\n+    id: 1f7a\n" +
		"     url: http://172.26.0.5:8080\n     routes:\n-      - name: my-app\n+      - name: hand\n         paths:\n-          - /app\n+          - /hand\n"
	writeKongYML = "ssh: write /etc/kong/kong.yml (0644 root:root, atomically)"
	gateway      = "172.19.0.1"
)

func mustConfig(t *testing.T, text string) *kong.Config {
	t.Helper()
	c, err := kong.Parse([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func kongIn(t *testing.T, mod ...func(*KongInput)) KongInput {
	t.Helper()
	in := KongInput{HostInput: HostInput{InstanceIP: "203.0.113.7", SSHKeyPath: "/keys/k.pem"}}
	for _, m := range mod {
		m(&in)
	}
	if err := in.Validate(); err != nil {
		t.Fatal(err)
	}
	return in
}

// versionsV1 are Fountain's versions of a gateway with one route.
func versionsV1(t *testing.T) KongVersions {
	t.Helper()
	v, err := kongVersions(yamlV1, 1, []fountain.ConfigVersion{{Version: 1, Hash: hashV1, Source: "route add my-app"}})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// kongSpec is Kong's container spec, its Admin API admitting gw only.
func kongSpec(gw string) DockerAppInput {
	return DockerAppInput{DockerImage: kongImage, ContainerName: "kong",
		Ports: []string{"80:8000", "443:8443", "127.0.0.1:8001:8001"},
		Env: map[string]string{
			"KONG_DATABASE": "off", "KONG_DECLARATIVE_CONFIG": "/kong/kong.yml",
			"KONG_PROXY_LISTEN": "0.0.0.0:8000, 0.0.0.0:8443 ssl", "KONG_ADMIN_LISTEN": "0.0.0.0:8001",
			"KONG_NGINX_ADMIN_ALLOW": gw, "KONG_NGINX_ADMIN_DENY": "all",
			"KONG_PROXY_ACCESS_LOG": "/dev/stdout", "KONG_ADMIN_ACCESS_LOG": "/dev/stdout",
			"KONG_PROXY_ERROR_LOG": "/dev/stderr", "KONG_ADMIN_ERROR_LOG": "/dev/stderr",
		},
		Volumes: []string{"/etc/kong:/kong:ro"}, RestartPolicy: "unless-stopped",
		HealthCheck: &HealthCheck{Path: "/status", Port: 8001, TimeoutS: 90},
		network:     "fountain-kong", gatewayEnv: "KONG_NGINX_ADMIN_ALLOW"}
}

var kongExposed = []string{"8000/tcp", "8001/tcp", "8443/tcp", "8444/tcp"}

// kongRunning is a gateway running Fountain's version 1 as asked.
func kongRunning(t *testing.T) KongFacts {
	spec := kongSpec(gateway)
	return KongFacts{
		App: DockerAppFacts{Host: ready, Engine: true, Network: &NetworkFacts{Exists: true, Gateway: gateway},
			Image:          ImageFacts{ID: imageV1, RepoDigests: []string{"kong@" + digestV1}, Exposed: kongExposed},
			RegistryDigest: digestV1,
			Current: &ContainerFacts{ID: "k1", Image: imageV1, ImageDigests: []string{"kong@" + digestV1},
				Spec: spec.SpecHash(spec.PublishedPorts(kongExposed)), Running: true, StartedAt: "2025-05-01T10:00:00Z"}},
		Versions: versionsV1(t),
		File:     yamlV1,
		Admin:    &KongAdminFacts{Hash: hashV1},
	}
}

var (
	kongAppUnchanged = []fountain.Change{
		{Name: "Docker network fountain-kong exists", Reason: "it exists"},
		{Name: "pull " + kongImage, Reason: "the host has the registry's " + digestV1},
		{Name: "container kong runs the image and spec asked", Reason: "it runs 111111111111 with the settings asked"},
		{Name: "health check kong", Verify: true, Reason: "it runs; nothing is restarted", Effect: runningSince{StartedAt: "2025-05-01T10:00:00Z"}},
	}
	kongConfigLatest = fountain.Change{Name: "the config Kong is to run", Reason: "Fountain's version 1"}
)

// A fresh host: Docker set up, the empty config written, the network,
// the image, Kong started from the file, its Admin API admitting the
// network's gateway only (read when the container is created: the
// network is made by the same plan).
func TestPlanKongDeployFresh(t *testing.T) {
	in := kongIn(t)
	v0, _ := kongVersions("", 0, nil)
	p, err := PlanKongDeploy(in, KongFacts{App: DockerAppFacts{Host: HostFacts{OS: "Ubuntu 24.04.1 LTS"}}, Versions: v0}, "203.0.113.7", testSettle)
	if err != nil {
		t.Fatal(err)
	}
	setup := planDockerSetup("ubuntu", HostFacts{OS: "Ubuntu 24.04.1 LTS"})
	wantPlan(t, p, append(setup,
		fountain.Change{Name: "the config Kong is to run", Reason: "Fountain's version 0"},
		fountain.Change{Name: "declarative config /etc/kong/kong.yml", Change: true, Reason: "no /etc/kong/kong.yml yet",
			Calls: []string{writeKongYML}, Effect: writeFile{Path: "/etc/kong/kong.yml", Body: yamlEmpty, Mode: "0644", Owner: "root:root"}},
		fountain.Change{Name: "Docker network fountain-kong exists", Change: true, Reason: "the network is created once Docker is set up",
			Calls: []string{"docker network create --driver bridge fountain-kong"}, Effect: createNetwork{Name: "fountain-kong", App: "kong"}},
		fountain.Change{Name: "pull " + kongImage, Change: true, Reason: "the image is pulled once Docker is set up",
			Calls: []string{"docker pull " + kongImage}, Effect: pullImage{Ref: kongImage}},
		fountain.Change{Name: "container kong runs the image and spec asked", Change: true, Reason: "container kong is started once Docker is set up",
			Calls: []string{"docker stop kong; docker rename kong kong.old (if there is one)",
				"docker create --name kong " + kongImage + " (by the id of the image the host has under it then)", "docker start kong"},
			Effect: swapContainer{App: kongSpec("")}},
		fountain.Change{Name: "health check kong", Verify: true,
			Reason: "GET /status on its port 8001 answers 2xx or 3xx within 90s, or the version it replaces is restored",
			Effect: healthGate{Name: "kong", Check: &HealthCheck{Path: "/status", Port: 8001, TimeoutS: 90}, Settle: testSettle}},
		fountain.Change{Name: "keep the replaced kong for rollback", Change: true, Reason: "the version it replaces, if any, is kept stopped as kong.previous",
			Calls: []string{"docker rm -f kong.previous", "docker rename kong.old kong.previous"}, Effect: keepPrevious{Name: "kong"}},
		fountain.Change{Name: "Kong runs the declarative config", Reason: "loaded from the file at start"},
	)...)
}

// Kong runs Fountain's last version as asked: nothing changes.
func TestPlanKongDeployNoOp(t *testing.T) {
	p, err := PlanKongDeploy(kongIn(t), kongRunning(t), "203.0.113.7", testSettle)
	if err != nil {
		t.Fatal(err)
	}
	want := append(append([]fountain.Change{}, dockerReady...), kongConfigLatest,
		fountain.Change{Name: "declarative config /etc/kong/kong.yml", Reason: "it holds the config Kong is to run"})
	want = append(append(want, kongAppUnchanged...), fountain.Change{Name: "Kong runs the declarative config", Reason: "Kong runs it (hash " + hashV1 + ")"})
	wantPlan(t, p, want...)

	// The Kong of a Fountain that did not restrict the Admin API (its
	// container's spec without the gateway): swapped for one that does.
	f := kongRunning(t)
	old := kongSpec(gateway)
	delete(old.Env, "KONG_NGINX_ADMIN_ALLOW")
	delete(old.Env, "KONG_NGINX_ADMIN_DENY")
	f.App.Current.Spec = old.SpecHash(old.PublishedPorts(kongExposed))
	p, _ = PlanKongDeploy(kongIn(t), f, "203.0.113.7", testSettle)
	if c := p.Changes[6]; !c.Change || c.Reason != "its settings differ (ports, env, volumes, restart policy or health check)" ||
		!reflect.DeepEqual(c.Effect, swapContainer{App: kongSpec(gateway)}) {
		t.Fatalf("an unrestricted Admin API: %#v", c)
	}
}

// Kong runs a config Fountain has no version of: adopted (recorded, left
// as it is: nothing written, nothing reloaded).
func TestPlanKongDeployAdopts(t *testing.T) {
	f := kongRunning(t)
	f.Admin = &KongAdminFacts{Hash: handHash, Export: handText}
	p, err := PlanKongDeploy(kongIn(t), f, "203.0.113.7", testSettle)
	if err != nil {
		t.Fatal(err)
	}
	want := append(append([]fountain.Change{}, dockerReady...),
		fountain.Change{Name: "the config Kong is to run", Change: true,
			Reason: "Kong runs a config Fountain has no version of (hash " + handHash + "): it is adopted as version 2 (found on the host), nothing reloaded; give config or force to replace it",
			Diff:   diffV1Hand, Calls: []string{"fountain: record version 2 of the gateway's config (found on the host)"},
			Effect: recordKongVersion{Hash: handHash, Text: handYAML, Source: KongSourceFound, Adopt: true}},
		fountain.Change{Name: "declarative config /etc/kong/kong.yml", Reason: "left as found (the config Kong runs is adopted)"})
	want = append(append(want, kongAppUnchanged...), fountain.Change{Name: "Kong runs the declarative config", Reason: "loaded from the file at start"})
	wantPlan(t, p, want...)

	// Kong stopped, its file one Fountain has no version of (a new data
	// directory, say): the file's config is adopted, by the hash Kong
	// gives it once loaded.
	v0, _ := kongVersions("", 0, nil)
	f = KongFacts{App: kongRunning(t).App, Versions: v0, File: handText}
	f.App.Current.Running = false
	p, err = PlanKongDeploy(kongIn(t), f, "203.0.113.7", testSettle)
	if err != nil || p.Changes[2].Effect != (recordKongVersion{Hash: handHash, Text: handYAML, Source: KongSourceFound, Adopt: true}) {
		t.Fatalf("adopt the file: %v %#v", err, p.Changes[2])
	}

	// Adopted before: Kong runs it, the file holds another version; both
	// are left as they are.
	f = kongRunning(t)
	f.Versions, _ = kongVersions(handYAML, 2, []fountain.ConfigVersion{{Version: 2, Hash: handHash, Source: KongSourceFound}, {Version: 1, Hash: hashV1}})
	f.Admin = &KongAdminFacts{Hash: handHash}
	p, _ = PlanKongDeploy(kongIn(t), f, "203.0.113.7", testSettle)
	if p.Changed() || p.Changes[3].Reason != "Kong runs version 2 as it was found (adopted); the file is left as it was, and a restart of Kong would load the file" ||
		p.Changes[8].Reason != "Kong runs it (hash "+handHash+")" {
		t.Fatalf("adopted before: %s", show(p.Changes))
	}

	// One that cannot be read to adopt it: a conflict, before anything.
	f.Versions = versionsV1(t)
	f.Admin = &KongAdminFacts{Hash: handHash}
	_, err = PlanKongDeploy(kongIn(t), f, "203.0.113.7 (gw-1)", testSettle)
	if fountain.ErrorCode(err) != fountain.ECONFLICT ||
		fountain.ErrorMessage(err) != "Kong on 203.0.113.7 (gw-1) runs a config Fountain has no version of (hash "+handHash+"), and it cannot be read to adopt it" {
		t.Fatalf("unreadable: %v", err)
	}
}

// force replaces a config Fountain has no version of with its last one.
func TestPlanKongDeployForce(t *testing.T) {
	f := kongRunning(t)
	f.Admin = &KongAdminFacts{Hash: handHash, Export: handText}
	p, err := PlanKongDeploy(kongIn(t, func(in *KongInput) { in.Force = true }), f, "203.0.113.7", testSettle)
	if err != nil {
		t.Fatal(err)
	}
	// The one found is kept first (nothing lost), and Fountain's version
	// recorded again after it, so that the latest is what Kong runs.
	found, _ := kong.Parse([]byte(handText))
	v1, _ := kong.Parse([]byte(yamlV1))
	// Kong runs and stays: it loads the config first, then it is recorded
	// and written.
	want := append(append(append([]fountain.Change{}, dockerReady...), kongAppUnchanged...),
		fountain.Change{Name: "keep the config found on the host", Change: true,
			Reason: "Kong runs a config Fountain has no version of (hash " + handHash + "): it is kept as version 2 (found on the host) before it is replaced, so that a rollback can return to it",
			Calls:  []string{"fountain: record version 2 of the gateway's config (found on the host)"},
			Effect: recordKongVersion{Hash: handHash, Text: found.YAML(), Source: KongSourceFound}},
		fountain.Change{Name: "the config Kong is to run", Change: true,
			Reason: "force: a config Fountain has no version of (hash " + handHash + ") is to be replaced by Fountain's version 1, recorded again as version 3 after the one found",
			Diff:   kong.Diff(found, v1, "found on the host", "Fountain's version 1"),
			Calls:  []string{"fountain: record version 3 of the gateway's config (deploy-kong)"},
			Effect: recordKongVersion{Hash: v1.Hash(), Text: v1.YAML(), Source: "deploy-kong"}},
		fountain.Change{Name: "declarative config /etc/kong/kong.yml", Reason: "it holds the config Kong is to run"})
	load := fountain.Change{Name: "Kong runs the declarative config", Change: true,
		Reason: "Kong runs another config (hash " + handHash + ")", Calls: []string{kongLoadCall}, Effect: loadKongConfig{Text: yamlV1}}
	n := len(dockerReady) + len(kongAppUnchanged) + 1
	want = append(want[:n], append([]fountain.Change{load}, want[n:]...)...)
	wantPlan(t, p, want...)
}

// A config in the request: a new version, written and loaded.
func TestPlanKongDeployWithConfig(t *testing.T) {
	in := kongIn(t, func(in *KongInput) { in.Config = yamlV2 })
	p, err := PlanKongDeploy(in, kongRunning(t), "203.0.113.7", testSettle)
	if err != nil {
		t.Fatal(err)
	}
	// Kong runs and stays: the config is loaded first, and recorded and
	// written once Kong has taken it.
	want := append(append(append([]fountain.Change{}, dockerReady...), kongAppUnchanged...),
		fountain.Change{Name: "Kong runs the declarative config", Change: true,
			Reason: "Kong runs another config (hash " + hashV1 + ")", Calls: []string{kongLoadCall}, Effect: loadKongConfig{Text: yamlV2}},
		fountain.Change{Name: "the config Kong is to run", Change: true, Reason: "Kong is to run the config the request brings: a new version",
			Diff: diffV1V2, Calls: []string{"fountain: record version 2 of the gateway's config (deploy-kong)"},
			Effect: recordKongVersion{Hash: hashV2, Text: yamlV2, Source: "deploy-kong"}},
		fountain.Change{Name: "declarative config /etc/kong/kong.yml", Change: true, Reason: "it differs from the config Kong is to run",
			Calls: []string{writeKongYML}, Effect: writeFile{Path: "/etc/kong/kong.yml", Body: yamlV2, Mode: "0644", Owner: "root:root"}})
	wantPlan(t, p, want...)

	// The same config as Fountain's last version: nothing to record.
	in = kongIn(t, func(in *KongInput) { in.Config = yamlV1 })
	if p, _ := PlanKongDeploy(in, kongRunning(t), "203.0.113.7", testSettle); p.Changed() ||
		p.Changes[2].Reason != "Kong is to run the config the request brings (Fountain's version 1)" {
		t.Fatalf("the same config: %s", show(p.Changes))
	}
}

// A config in the request while Kong runs one Fountain has no version
// of: the one found is kept as a version first (a rollback can return to
// it), then the request's is recorded, even when it is Fountain's last.
func TestPlanKongDeployConfigKeepsTheUnknown(t *testing.T) {
	f := kongRunning(t)
	f.Admin = &KongAdminFacts{Hash: handHash, Export: handText}
	for _, text := range []string{yamlV2, yamlV1} {
		in := kongIn(t, func(in *KongInput) { in.Config = text })
		p, err := PlanKongDeploy(in, f, "203.0.113.7", testSettle)
		if err != nil {
			t.Fatal(err)
		}
		at := len(dockerReady) + len(kongAppUnchanged)
		keep, record := p.Changes[at], p.Changes[at+2]
		found, _ := kong.Parse([]byte(handText))
		if keep.Name != "keep the config found on the host" || !keep.Change ||
			!reflect.DeepEqual(keep.Effect, recordKongVersion{Hash: handHash, Text: found.YAML(), Source: KongSourceFound}) ||
			!reflect.DeepEqual(keep.Calls, []string{"fountain: record version 2 of the gateway's config (found on the host)"}) {
			t.Fatalf("keep: %#v", keep)
		}
		if !record.Change || !reflect.DeepEqual(record.Calls, []string{"fountain: record version 3 of the gateway's config (deploy-kong)"}) {
			t.Fatalf("record: %#v", record)
		}
	}
}

// wantChange compares a config change's plan with what it decided.
func wantChange(t *testing.T, got KongChangePlan, current, next string, want KongChangePlan) {
	t.Helper()
	if got.Current.YAML() != current || got.Next.YAML() != next {
		t.Errorf("current\n%s\nnext\n%s", got.Current.YAML(), got.Next.YAML())
	}
	got.Current, got.Next = nil, nil
	wantPlan(t, got.Plan, want.Changes...)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("plan\n%#v\nwant\n%#v", got, want)
	}
}

func changeFacts(t *testing.T) KongChangeFacts {
	return KongChangeFacts{Versions: versionsV1(t), Admin: KongAdminFacts{Hash: hashV1}, File: yamlV1}
}

var (
	loadV2   = fountain.Change{Name: "Kong loads the config (its own validation decides)", Change: true, Reason: "the config differs", Diff: diffV1V2, Calls: []string{kongLoadCall}, Effect: loadKongConfig{Text: yamlV2}}
	writeV2  = fountain.Change{Name: "the config file /etc/kong/kong.yml follows", Change: true, Reason: "a restart must keep the config", Calls: []string{writeKongYML}, Effect: writeFile{Path: "/etc/kong/kong.yml", Body: yamlV2, Mode: "0644", Owner: "root:root"}}
	recordV2 = func(source string) fountain.Change {
		return fountain.Change{Name: "version recorded", Change: true, Reason: "a new version", Calls: []string{"fountain: record version 2 of the gateway's config (" + source + ")"},
			Effect: recordKongVersion{Hash: hashV2, Text: yamlV2, Source: source}}
	}
)

func TestPlanKongApply(t *testing.T) {
	kp, err := PlanKongChange(KongChange{Source: "apply", Config: mustConfig(t, yamlV2)}, changeFacts(t))
	if err != nil {
		t.Fatal(err)
	}
	wantChange(t, kp, yamlV1, yamlV2, KongChangePlan{Version: 1, Diff: diffV1V2, Plan: fountain.Plan{Changes: []fountain.Change{loadV2, writeV2, recordV2("apply")}}})

	// The file holds it already (an apply that stopped after writing it):
	// Kong loads it, the record is new.
	f := changeFacts(t)
	f.File = yamlV2
	kp, err = PlanKongChange(KongChange{Source: "apply", Config: mustConfig(t, yamlV2)}, f)
	if err != nil {
		t.Fatal(err)
	}
	wantChange(t, kp, yamlV1, yamlV2, KongChangePlan{Version: 1, Diff: diffV1V2, Plan: fountain.Plan{Changes: []fountain.Change{
		loadV2, {Name: "the config file /etc/kong/kong.yml follows", Reason: "it holds this config"}, recordV2("apply")}}})
}

func TestPlanKongRouteAdd(t *testing.T) {
	route := &KongRouteInput{Name: "other", UpstreamURL: "http://172.26.0.5:9", Paths: []string{"/other"}}
	kp, err := PlanKongChange(KongChange{Source: "route add other", Route: route}, changeFacts(t))
	if err != nil {
		t.Fatal(err)
	}
	wantChange(t, kp, yamlV1, yamlV2, KongChangePlan{Version: 1, Diff: diffV1V2, Plan: fountain.Plan{Changes: []fountain.Change{loadV2, writeV2, recordV2("route add other")}}})

	// To an app by its container: a service to the app's upstream, whose
	// target is its host's private address and the lowest TCP port it
	// publishes, checked by Kong as the app is (TCP without a health
	// check).
	v0, _ := kongVersions("", 0, nil)
	f := KongChangeFacts{Versions: v0, Admin: KongAdminFacts{Hash: kong.EmptyHash}, File: yamlEmpty,
		Apps: []AppUpstreamFacts{{Target: "203.0.113.7 (web-1)", Exists: true, TCPPorts: []int{8080, 9090}, Address: "172.26.0.5"}}}
	toApp := &KongRouteInput{Name: "my-app", App: &AppRef{ContainerName: "my-app"}, Paths: []string{"/app"}}
	kp, err = PlanKongChange(KongChange{Source: "route add my-app", Route: toApp}, f)
	if err != nil {
		t.Fatal(err)
	}
	yamlApp := "_format_version: \"3.0\"\nservices:\n  - name: my-app\n    url: http://app-my-app\n    routes:\n      - name: my-app\n        paths:\n          - /app\n" +
		"upstreams:\n  - name: app-my-app\n    healthchecks:\n      active:\n        healthy:\n          interval: 5\n          successes: 2\n        timeout: 2\n        type: tcp\n" +
		"        unhealthy:\n          interval: 5\n          tcp_failures: 2\n          timeouts: 2\n    targets:\n      - target: 172.26.0.5:8080\n        weight: 100\n"
	next := mustConfig(t, yamlApp)
	diff := kong.Diff(mustConfig(t, yamlEmpty), next, "current", "new")
	wantChange(t, kp, yamlEmpty, yamlApp, KongChangePlan{Diff: diff, Upstream: "http://app-my-app, whose targets are 172.26.0.5:8080", Plan: fountain.Plan{Changes: []fountain.Change{
		{Name: "Kong loads the config (its own validation decides)", Change: true, Reason: "the config differs", Diff: diff, Calls: []string{kongLoadCall}, Effect: loadKongConfig{Text: yamlApp}},
		{Name: "the config file /etc/kong/kong.yml follows", Change: true, Reason: "a restart must keep the config", Calls: []string{writeKongYML},
			Effect: writeFile{Path: "/etc/kong/kong.yml", Body: yamlApp, Mode: "0644", Owner: "root:root"}},
		{Name: "version recorded", Change: true, Reason: "a new version", Calls: []string{"fountain: record version 1 of the gateway's config (route add my-app)"},
			Effect: recordKongVersion{Hash: next.Hash(), Text: yamlApp, Source: "route add my-app"}},
	}}})

	// On three hosts, one deployed behind Kong (its picked port), with a
	// health check: a target each, an HTTP check. An upstream that lists
	// the same serving targets (a deploy's weight-0 ones besides) is kept.
	hc := &HealthCheck{Path: "/healthz", Port: 8080, TimeoutS: 30, IntervalS: 1}
	f.Apps = []AppUpstreamFacts{
		{Target: "web-1", Exists: true, Port: 20001, TCPPorts: []int{20001}, Address: "172.26.0.5", Health: hc},
		{Target: "web-2", Exists: true, TCPPorts: []int{8080}, Address: "172.26.0.6"},
		{Target: "web-3", Exists: true, TCPPorts: []int{8080}, Address: "172.26.0.7"},
	}
	kp, err = PlanKongChange(KongChange{Source: "route add my-app", Route: toApp}, f)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := kong.TargetsOf(kp.Next, "app-my-app"); !reflect.DeepEqual(got, []kong.Target{tg("172.26.0.5:20001", 100), tg("172.26.0.6:8080", 100), tg("172.26.0.7:8080", 100)}) ||
		!strings.Contains(kp.Next.YAML(), "http_path: /healthz") || !strings.Contains(kp.Next.YAML(), "interval: 1\n") {
		t.Fatalf("three hosts:\n%s", kp.Next.YAML())
	}
	withOld, err := kong.SetUpstream(kp.Next, "app-my-app", []kong.Target{tg("172.26.0.7:8080", 100), tg("172.26.0.5:20001", 100), tg("172.26.0.5:20000", 0), tg("172.26.0.6:8080", 100)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.Versions, _ = kongVersions(withOld.YAML(), 1, []fountain.ConfigVersion{{Version: 1, Hash: withOld.Hash()}})
	f.Admin.Hash, f.File = withOld.Hash(), withOld.YAML()
	kp, err = PlanKongChange(KongChange{Source: "route add my-app", Route: toApp}, f)
	if err != nil || kp.Changed() {
		t.Fatalf("the same targets again: %v %s", err, show(kp.Changes))
	}

	// An app that is not there, or publishes no TCP port.
	f.Apps = []AppUpstreamFacts{{Target: "203.0.113.7 (web-1)"}}
	if _, err := PlanKongChange(KongChange{Source: "route add my-app", Route: toApp}, f); fountain.ErrorCode(err) != fountain.ENOTFOUND ||
		fountain.ErrorMessage(err) != "no app my-app on 203.0.113.7 (web-1)" {
		t.Fatalf("no app: %v", err)
	}
	f.Apps = []AppUpstreamFacts{{Target: "203.0.113.7 (web-1)", Exists: true, Address: "172.26.0.5"}}
	if _, err := PlanKongChange(KongChange{Source: "route add my-app", Route: toApp}, f); fountain.ErrorCode(err) != fountain.ECONFLICT ||
		fountain.ErrorMessage(err) != "app my-app on 203.0.113.7 (web-1) publishes no TCP port for Kong to reach" {
		t.Fatalf("no port: %v", err)
	}
}

func TestPlanKongRouteRemove(t *testing.T) {
	// Present: Kong runs version 2; the route goes.
	v2, _ := kongVersions(yamlV2, 2, []fountain.ConfigVersion{{Version: 2, Hash: hashV2}, {Version: 1, Hash: hashV1}})
	f := KongChangeFacts{Versions: v2, Admin: KongAdminFacts{Hash: hashV2}, File: yamlV2}
	kp, err := PlanKongChange(KongChange{Source: "route rm other", Remove: "other"}, f)
	if err != nil {
		t.Fatal(err)
	}
	wantChange(t, kp, yamlV2, yamlV1, KongChangePlan{Version: 2, Diff: diffV2V1, Plan: fountain.Plan{Changes: []fountain.Change{
		{Name: "Kong loads the config (its own validation decides)", Change: true, Reason: "the config differs", Diff: diffV2V1, Calls: []string{kongLoadCall}, Effect: loadKongConfig{Text: yamlV1}},
		{Name: "the config file /etc/kong/kong.yml follows", Change: true, Reason: "a restart must keep the config", Calls: []string{writeKongYML},
			Effect: writeFile{Path: "/etc/kong/kong.yml", Body: yamlV1, Mode: "0644", Owner: "root:root"}},
		{Name: "version recorded", Change: true, Reason: "a new version", Calls: []string{"fountain: record version 3 of the gateway's config (route rm other)"},
			Effect: recordKongVersion{Hash: hashV1, Text: yamlV1, Source: "route rm other"}},
	}}})

	// Absent: nothing changes.
	kp, err = PlanKongChange(KongChange{Source: "route rm other", Remove: "other"}, changeFacts(t))
	if err != nil {
		t.Fatal(err)
	}
	wantChange(t, kp, yamlV1, yamlV1, KongChangePlan{Version: 1, Plan: fountain.Plan{Changes: []fountain.Change{
		{Name: "Kong loads the config (its own validation decides)", Reason: "Kong runs this config already"},
		{Name: "the config file /etc/kong/kong.yml follows", Reason: "it holds this config"},
		{Name: "version recorded", Reason: "version 1 is this config"},
	}}})
}

func TestPlanKongRollback(t *testing.T) {
	v2, _ := kongVersions(yamlV2, 2, []fountain.ConfigVersion{{Version: 2, Hash: hashV2}, {Version: 1, Hash: hashV1}})
	f := KongChangeFacts{Versions: v2, Admin: KongAdminFacts{Hash: hashV2}, File: yamlV2}
	kp, err := PlanKongChange(KongChange{Source: "rollback to 1", Config: mustConfig(t, yamlV1)}, f)
	if err != nil {
		t.Fatal(err)
	}
	if c := kp.Changes[2]; c.Effect != (recordKongVersion{Hash: hashV1, Text: yamlV1, Source: "rollback to 1"}) ||
		c.Calls[0] != "fountain: record version 3 of the gateway's config (rollback to 1)" || kp.Diff != diffV2V1 {
		t.Fatalf("rollback: %#v", kp)
	}
}

// Kong runs a config Fountain has no version of: it is kept as a version
// first, and the change is made on it, never replacing it unseen.
func TestPlanKongChangeAdoptsUnknown(t *testing.T) {
	f := changeFacts(t)
	f.Admin = KongAdminFacts{Hash: handHash, Export: handText}
	route := &KongRouteInput{Name: "other", UpstreamURL: "http://172.26.0.5:9", Paths: []string{"/other"}}
	kp, err := PlanKongChange(KongChange{Source: "route add other", Route: route}, f)
	if err != nil {
		t.Fatal(err)
	}
	next := handYAML + "  - name: other\n    url: http://172.26.0.5:9\n    routes:\n      - name: other\n        paths:\n          - /other\n"
	diff := "--- current\n+++ new\n@@ -7,3 +7,9 @@\n       - name: hand\n         paths:\n           - /hand\n+  - name: other\n+    url: http://172.26.0.5:9\n+    routes:\n+      - name: other\n+        paths:\n+          - /other\n"
	wantChange(t, kp, handYAML, next, KongChangePlan{Version: 2, Adopt: handHash, Diff: diff, Plan: fountain.Plan{Changes: []fountain.Change{
		{Name: "keep the config found on the gateway", Change: true,
			Reason: "Kong runs a config Fountain has no version of (hash " + handHash + "): it is kept as version 2 (found on the host) and the change is made on it",
			Calls:  []string{"fountain: record version 2 of the gateway's config (found on the host)"},
			Effect: recordKongVersion{Hash: handHash, Text: handYAML, Source: KongSourceFound, Adopt: true}},
		{Name: "Kong loads the config (its own validation decides)", Change: true, Reason: "the config differs", Diff: diff, Calls: []string{kongLoadCall}, Effect: loadKongConfig{Text: next}},
		{Name: "the config file /etc/kong/kong.yml follows", Change: true, Reason: "a restart must keep the config", Calls: []string{writeKongYML},
			Effect: writeFile{Path: "/etc/kong/kong.yml", Body: next, Mode: "0644", Owner: "root:root"}},
		{Name: "version recorded", Change: true, Reason: "a new version", Calls: []string{"fountain: record version 3 of the gateway's config (route add other)"},
			Effect: recordKongVersion{Hash: "390d1f15ee6f0da36fd06d7a172267ac", Text: next, Source: "route add other"}},
	}}})

	// One whose export does not parse: an error, nothing planned.
	f.Admin.Export = "not: [a config"
	if _, err := PlanKongChange(KongChange{Source: "route add other", Route: route}, f); fountain.ErrorCode(err) != fountain.EUPSTREAM {
		t.Fatalf("an unreadable config: %v", err)
	}
	// One that sends traffic to Kong itself: refused, saying where it is.
	f.Admin.Export = "_format_version: '3.0'\nservices:\n- name: admin\n  url: http://127.0.0.1:8001\n  routes:\n  - {name: admin, paths: [/admin]}\n"
	_, err = PlanKongChange(KongChange{Source: "route add other", Route: route}, f)
	var fe *fountain.Error
	if !asError(err, &fe) || fe.Code != fountain.EINVALID || fe.Hint[:len("the gateway's config has it")] != "the gateway's config has it" {
		t.Fatalf("Kong itself: %v", err)
	}
}

// A route to an app goes to the port asked for (one the app publishes),
// else the lowest it publishes.
func TestAppTargetPort(t *testing.T) {
	a := AppUpstreamFacts{Target: "app-1", Exists: true, TCPPorts: []int{9090, 8080}, Address: "172.26.0.5"}
	for want, addr := range map[int]string{0: "172.26.0.5:8080", 9090: "172.26.0.5:9090"} {
		if got, err := appTarget("my-app", want, a); err != nil || got != addr {
			t.Errorf("port %d: %q %v", want, got, err)
		}
	}
	if _, err := appTarget("my-app", 7000, a); fountain.ErrorCode(err) != fountain.ECONFLICT {
		t.Errorf("a port it does not publish: %v", err)
	}
	// Behind a gateway the port is Fountain's pick; one asked for is refused.
	a.Port, a.TCPPorts = 30001, []int{30001}
	if got, err := appTarget("my-app", 0, a); err != nil || got != "172.26.0.5:30001" {
		t.Errorf("picked: %q %v", got, err)
	}
	if _, err := appTarget("my-app", 30001, a); fountain.ErrorCode(err) != fountain.ECONFLICT {
		t.Errorf("a port asked behind a gateway: %v", err)
	}
}

// A config adopted from Kong's export (the file holds another) while the
// plan swaps the container: the new Kong loads the file, so the file is
// written with the adopted config first (nothing reloaded in the running
// one); without a swap it is left as found.
func TestPlanKongAdoptThenSwapWritesTheFile(t *testing.T) {
	f := kongRunning(t)
	f.Admin = &KongAdminFacts{Hash: handHash, Export: handText}
	same := f.App.RegistryDigest
	f.App.RegistryDigest = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
	p, err := PlanKongDeploy(kongIn(t), f, "203.0.113.7", testSettle)
	if err != nil {
		t.Fatal(err)
	}
	var file *fountain.Change
	for i, c := range p.Changes {
		if c.Name == "declarative config "+KongConfigPath {
			file = &p.Changes[i]
		}
		if _, ok := c.Effect.(loadKongConfig); ok {
			t.Errorf("a config is loaded into the running Kong: %+v", c)
		}
	}
	if file == nil || !file.Change || !strings.Contains(file.Reason, "must hold the adopted config") {
		t.Fatalf("the file with a swap: %+v", file)
	}
	f.App.RegistryDigest = same
	p, _ = PlanKongDeploy(kongIn(t), f, "203.0.113.7", testSettle)
	for _, c := range p.Changes {
		if c.Name == "declarative config "+KongConfigPath && c.Change {
			t.Fatalf("the file without a swap: %+v", c)
		}
	}
}

// A running Kong whose Admin API does not answer this once is not loaded
// over blind.
func TestPlanKongAdminSilentRefuses(t *testing.T) {
	f := kongRunning(t)
	f.Admin = nil
	if _, err := PlanKongDeploy(kongIn(t), f, "203.0.113.7", testSettle); fountain.ErrorCode(err) != fountain.EUPSTREAM {
		t.Fatalf("err %v", err)
	}
}

// tg is a Kong target.
func tg(addr string, weight int) kong.Target { return kong.Target{Target: addr, Weight: weight} }

// A gateway of two nodes: the change is made once, loaded into each node
// in turn (one that runs it already is left alone) with its file, and
// recorded once; a node running a config Fountain has no version of
// stops a route change, but not a whole config.
func TestPlanKongChangeNodes(t *testing.T) {
	f := changeFacts(t)
	f.Node, f.Others = "gw-1", []KongNodeFacts{{Node: "gw-2", Admin: KongAdminFacts{Hash: hashV1}, File: yamlV1}}
	route := &KongRouteInput{Name: "other", UpstreamURL: "http://172.26.0.5:9", Paths: []string{"/other"}}
	kp, err := PlanKongChange(KongChange{Source: "route add other", Route: route}, f)
	if err != nil {
		t.Fatal(err)
	}
	on := func(c fountain.Change, node string, i int) fountain.Change {
		c.Name += " on " + node
		switch e := c.Effect.(type) {
		case loadKongConfig:
			e.Node = i
			c.Effect, c.Calls = e, []string{"kong " + node + ": POST /config?flatten_errors=1&check_hash=1 (the Admin API on the host's loopback, through SSH)"}
		case writeFile:
			e.Node = i
			c.Effect, c.Calls = e, []string{"ssh " + node + ": write /etc/kong/kong.yml (0644 root:root, atomically)"}
		}
		return c
	}
	wantChange(t, kp, yamlV1, yamlV2, KongChangePlan{Version: 1, Diff: diffV1V2, Plan: fountain.Plan{Changes: []fountain.Change{
		on(loadV2, "gw-1", 0), on(writeV2, "gw-1", 0), on(loadV2, "gw-2", 1), on(writeV2, "gw-2", 1), recordV2("route add other")}}})

	// gw-2 runs it already (a change that stopped after gw-2... or a
	// node added with it): only gw-1 loads it.
	f.Others[0].Admin.Hash, f.Others[0].File = hashV2, yamlV2
	kp, _ = PlanKongChange(KongChange{Source: "route add other", Route: route}, f)
	if c := kp.Changes[2]; c.Change || c.Name != "Kong loads the config (its own validation decides) on gw-2" || c.Reason != "Kong runs this config already" {
		t.Fatalf("gw-2 runs it: %#v", c)
	}
	// gw-2 runs a config Fountain has no version of.
	f.Others[0].Admin.Hash = handHash
	if _, err := PlanKongChange(KongChange{Source: "route add other", Route: route}, f); fountain.ErrorCode(err) != fountain.ECONFLICT ||
		fountain.ErrorMessage(err) != "Kong on gw-2 runs a config Fountain has no version of (hash "+handHash+"), unlike gw-1" {
		t.Fatalf("gw-2 runs an unknown config: %v", err)
	}
	if kp, err := PlanKongChange(KongChange{Source: "apply", Config: mustConfig(t, yamlV2)}, f); err != nil || !kp.Changes[2].Change {
		t.Fatalf("a whole config replaces it: %v", err)
	}
}

// The instance names of a gateway or an app's rollout, without I/O.
func TestInstanceNames(t *testing.T) {
	in := KongInput{HostInput: HostInput{SSHKeyPath: "/k"}, NodesInput: NodesInput{InstanceNames: []string{"gw-1", "gw-2"}}}
	if err := in.Validate(); err != nil || in.Gateway != DefaultGateway || in.SSHUser != "ubuntu" || in.InstanceName != "" {
		t.Fatalf("two nodes: %v %#v", err, in)
	}
	hosts, name := in.NodeHosts()
	if name != "kong" || !reflect.DeepEqual(hosts, []HostInput{{InstanceName: "gw-1", SSHKeyPath: "/k", SSHUser: "ubuntu", SSHPort: 22},
		{InstanceName: "gw-2", SSHKeyPath: "/k", SSHUser: "ubuntu", SSHPort: 22}}) {
		t.Fatalf("nodes: %#v %q", hosts, name)
	}
	for _, bad := range []KongInput{
		{HostInput: HostInput{InstanceName: "gw-1"}, NodesInput: NodesInput{InstanceNames: []string{"gw-2"}}},
		{NodesInput: NodesInput{InstanceNames: []string{"gw-1", "gw-1"}}},
		{NodesInput: NodesInput{InstanceNames: []string{"gw 1"}}},
		{NodesInput: NodesInput{InstanceNames: []string{"gw-1"}, Gateway: "a b"}},
	} {
		if err := bad.Validate(); fountain.ErrorCode(err) != fountain.EINVALID {
			t.Errorf("%#v: %v", bad.NodesInput, err)
		}
	}
	app := DockerAppInput{InstanceNames: []string{"web-1", "web-2"}, DockerImage: testImage, Gateway: &GatewayRef{InstanceIP: "203.0.113.9"}, Batch: "50%"}
	if err := app.Validate(); err != nil || len(app.HostInputs()) != 2 || app.GatewayHosts()[0].InstanceIP != "203.0.113.9" {
		t.Fatalf("an app on two hosts: %v", err)
	}
	for _, mod := range []func(*DockerAppInput){
		func(in *DockerAppInput) { in.Gateway = &GatewayRef{} },
		func(in *DockerAppInput) { in.Gateway = &GatewayRef{InstanceName: "gw-1", InstanceIP: "203.0.113.9"} },
		func(in *DockerAppInput) { in.Batch = "0" },
		func(in *DockerAppInput) { in.MaxFailures = -1 },
		func(in *DockerAppInput) { d := -1; in.DrainSeconds = &d },
		func(in *DockerAppInput) { in.ContainerName = "my-app.next" },
		func(in *DockerAppInput) { in.ContainerName = "x-" }, // app-x- is no upstream name
	} {
		bad := DockerAppInput{InstanceNames: []string{"web-1"}, DockerImage: testImage, Gateway: &GatewayRef{InstanceName: "gw-1"}}
		mod(&bad)
		if err := bad.Validate(); fountain.ErrorCode(err) != fountain.EINVALID {
			t.Errorf("%+v: %v", bad, err)
		}
	}
}
