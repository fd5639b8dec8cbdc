package console

import (
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDryRunRoutes(t *testing.T) {
	doc := `{"paths": {
	  "/a": {"post": {"requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/A"}}}}}},
	  "/b": {"post": {"requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/B"}}}}}},
	  "/c/{name}": {"delete": {"parameters": [{"name": "name"}, {"name": "dry_run"}]}, "get": {"parameters": [{"name": "name"}]}}},
	 "components": {"schemas": {"A": {"properties": {"dry_run": {"type": "boolean"}}}, "B": {"properties": {"x": {}}}}}}`
	got := dryRunRoutes([]byte(doc))
	want := map[string]bool{"POST /a": true, "POST /b": false, "DELETE /c/{name}": true, "GET /c/{name}": false}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("dryRunRoutes = %v, want %v", got, want)
	}
	if got := dryRunRoutes([]byte("not json")); len(got) != 0 {
		t.Fatalf("bad JSON: %v", got)
	}
}

func TestFormatting(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{money(5), "$5.00"}, {money(-12.5), "−$12.50"}, {money(0.004), "$0.00"},
		{roughly(42 * time.Second), "42 s"}, {roughly(3 * time.Minute), "3 min"}, {roughly(26*time.Hour + 5*time.Minute), "26 h 5 min"},
		{roughly(72 * time.Hour), "3 days"}, {uptime(0), ""}, {uptime(90), "1 min"},
		{millis(250), "250 ms"}, {millis(1250), "1.3 s"},
		{shortDigest("ghcr.io/u/r@sha256:0123456789abcdef0123"), "sha256:0123456789ab"}, {shortDigest("abc"), "abc"},
		{statusClass("succeeded"), "good"}, {statusClass("would_change"), "warn"}, {statusClass("failed"), "bad"},
		{statusClass(`x" onmouseover="y`), "plain"},
		{pretty([]byte(`{"b":"<img>","a":1.50}`)), "{\n  \"a\": 1.50,\n  \"b\": \"<img>\"\n}"},
		{when(time.Date(2025, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))), "2025-01-02 02:04:05 UTC"},
		{safeName(`op_1"; rm`), "op_1rm"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

func TestGroupApps(t *testing.T) {
	apps := []app{{ContainerName: "web", Role: "current"}, {ContainerName: "web.previous", Role: "previous"},
		{ContainerName: "kong", Role: "current"}, {ContainerName: "api.old", Role: "swapping"}}
	g := groupApps(apps)
	if len(g) != 3 || g[0].Name != "web" || g[0].Current.ContainerName != "web" || g[0].Previous.ContainerName != "web.previous" ||
		g[1].Name != "kong" || g[2].Name != "api" || g[2].Current != nil || len(g[2].Swapping) != 1 {
		t.Fatalf("groupApps: %+v", g)
	}
}

// The deploy form becomes deploy-docker-app's request: lists split,
// env lines read, secret values kept apart and hidden when shown.
func TestDeployAppRequest(t *testing.T) {
	f := url.Values{"instance_name": {"web-1"}, "region": {"eu-central-1"}, "docker_image": {" ghcr.io/u/r/app:1 "},
		"ports": {"8080:80, 9000:9000"}, "env": {"A=1\r\nB=x=y\n\n"}, "secret_name_1": {"DB"}, "secret_value_1": {"hunter22"},
		"volumes": {"data:/data"}, "health_port": {"80"}, "health_path": {"/healthz"}}
	q, err := deployAppRequest(f)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"instance_name": "web-1", "region": "eu-central-1", "docker_image": "ghcr.io/u/r/app:1",
		"ports": []string{"8080:80", "9000:9000"}, "env": map[string]string{"A": "1", "B": "x=y"},
		"secret_env": map[string]string{"DB": "hunter22"}, "volumes": []string{"data:/data"},
		"health_check": map[string]any{"port": 80, "path": "/healthz"}}
	if !reflect.DeepEqual(q.Body, want) {
		t.Fatalf("body = %#v", q.Body)
	}
	if d := q.describe(actionTable()["deploy-app"]); strings.Contains(d, "hunter22") || !strings.Contains(d, `"DB": "(hidden: 8 characters)"`) {
		t.Fatalf("describe: %s", d)
	}
	f.Set("secret_name_1", "")
	if _, err := deployAppRequest(f); err == nil || !strings.Contains(err.Error(), "no name") {
		t.Fatalf("a value without a name: %v", err)
	}
}
