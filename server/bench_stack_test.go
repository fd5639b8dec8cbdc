package server_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fountainai/fountain/sandbox/sandboxtest"
)

// BenchmarkStackPlan measures what issue 13 targets: `fountain plan` with
// nothing to change, for the design's stack and for a stack of ten
// instances each running an app, beside the sum of the single dry runs
// that plan the same resources one call after the other, in the same run.
// Target: under 1 s for ten instances. Run it with scripts/bench; every
// loop is bounded by -benchtime.
func BenchmarkStackPlan(b *testing.B) {
	url, _, _, stop := startStandInServer(b, "benchstack")
	defer stop()
	_, sb := callTB(b, "GET", url+"/sandbox", "")
	sandboxtest.PushApp(b, sb["registry_push"].(string)+"/user/repo/my-app:latest", "1", sandboxtest.AppOptions{})
	callTB(b, "PUT", url+"/vault/deploy-key", `{"value": "bench-deploy-key"}`)
	design := stackFile("latest", "")
	var ten strings.Builder
	ten.WriteString("version: 1\nregion: eu-central-1\ninstances:\n")
	for i := range 10 {
		fmt.Fprintf(&ten, "  node-%d: {bundle: nano_3_0, blueprint: ubuntu_24_04, zone: eu-central-1a}\n", i)
	}
	ten.WriteString("apps:\n  my-app:\n    image: ghcr.io/user/repo/my-app:latest\n    ports: [\"8080:8080\"]\n    instances: [")
	for i := range 10 {
		if i > 0 {
			ten.WriteString(", ")
		}
		fmt.Fprintf(&ten, "node-%d", i)
	}
	ten.WriteString("]\n")
	for name, text := range map[string]string{"design": design, "ten": ten.String()} {
		body, _ := json.Marshal(map[string]any{"stack": text})
		start := time.Now()
		if s, m := callTB(b, "POST", url+"/stack/apply", string(body)); s != 200 {
			b.Fatalf("apply the %s stack: %d %v", name, s, m)
		}
		b.Logf("applied the %s stack in %s", name, time.Since(start).Round(time.Second))
	}
	plan := func(text string) {
		body, _ := json.Marshal(map[string]any{"stack": text})
		if s, m := callTB(b, "POST", url+"/stack/plan", string(body)); s != 200 || m["exit_code"] != float64(0) {
			b.Fatalf("plan: %d %v", s, m["summary"])
		}
	}
	dry := func(calls [][2]string) {
		for _, c := range calls {
			if s, m := callTB(b, "POST", url+c[0], c[1]); s != 200 || m["changed"] != false {
				b.Fatalf("dry run %s: %d %v", c[0], s, m)
			}
		}
	}
	instance := func(name, bundle string) [2]string {
		return [2]string{"/aws/lightsail/create-instance", fmt.Sprintf(`{"instance_name": %q, "blueprint_id": "ubuntu_24_04", "bundle_id": %q, "availability_zone": "eu-central-1a", "dry_run": true}`, name, bundle)}
	}
	app := func(inst string) [2]string {
		return [2]string{"/services/deploy-docker-app", fmt.Sprintf(`{"instance_name": %q, "docker_image": "ghcr.io/user/repo/my-app:latest", "container_name": "my-app", "ports": ["8080:8080"], "dry_run": true}`, inst)}
	}
	designCalls := [][2]string{instance("search-1", "small_3_0"), instance("gw-1", "nano_3_0"), instance("app-1", "nano_3_0"),
		{"/services/deploy-opensearch", `{"instance_name": "search-1", "dry_run": true}`},
		{"/services/deploy-kong", `{"instance_name": "gw-1", "dry_run": true}`}, app("app-1"),
		{"/services/kong/routes", `{"instance_name": "gw-1", "name": "my-app", "app": {"container_name": "my-app", "instance_name": "app-1"}, "paths": ["/app"], "dry_run": true}`},
		{"/github/add-secret", `{"repo_name": "user/repo", "secret_name": "DEPLOY_KEY", "secret_value": "bench-deploy-key", "dry_run": true}`}}
	var tenCalls [][2]string
	for i := range 10 {
		tenCalls = append(tenCalls, instance(fmt.Sprintf("node-%d", i), "nano_3_0"), app(fmt.Sprintf("node-%d", i)))
	}
	for _, c := range []struct {
		name  string
		stack string
		calls [][2]string
	}{{"design", design, designCalls}, {"ten-instances", ten.String(), tenCalls}} {
		b.Run(c.name, func(b *testing.B) {
			var planned, dried time.Duration
			for range b.N {
				start := time.Now()
				plan(c.stack)
				planned += time.Since(start)
				start = time.Now()
				dry(c.calls)
				dried += time.Since(start)
			}
			n := float64(b.N)
			b.ReportMetric(planned.Seconds()*1000/n, "plan-ms/op")
			b.ReportMetric(dried.Seconds()*1000/n, "single-dry-runs-ms/op")
			b.Logf("%s: fountain plan %.0f ms, the %d single dry runs one after the other %.0f ms", c.name,
				planned.Seconds()*1000/n, len(c.calls), dried.Seconds()*1000/n)
		})
	}
}
