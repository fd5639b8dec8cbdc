package api_test

import (
	"strings"
	"testing"
)

// dry_run on create-instance, delete-instance, start/stop, static IPs and
// ports shows the plan and changes nothing on the emulator.
func TestLightsailDryRunsChangeNothing(t *testing.T) {
	e := newEnv(t)
	create := `{"instance_name": "web-1", "blueprint_id": "ubuntu_24_04", "bundle_id": "nano_3_0", "availability_zone": "eu-central-1a", "static_ip": true, "dry_run": true}`
	r := e.do("POST", "/aws/lightsail/create-instance", create)
	if r.status != 200 || r.str("changed") != "false" || !strings.Contains(r.str("message"), "it would add $5.00 a month") ||
		!strings.Contains(string(r.raw), `"status":"would_change"`) || !strings.Contains(string(r.raw), "lightsail:CreateInstances web-1") {
		t.Fatalf("dry create: %d %s", r.status, r.raw)
	}
	if got := e.do("GET", "/aws/lightsail/instances/web-1", ""); got.status != 404 {
		t.Fatalf("a dry run created the instance: %d %s", got.status, got.raw)
	}
	if r := e.do("POST", "/aws/lightsail/create-instance", strings.Replace(create, `, "dry_run": true`, "", 1)); r.status != 200 {
		t.Fatalf("create: %d %s", r.status, r.raw)
	}
	for _, c := range []struct{ path, body string }{
		{"/aws/lightsail/delete-instance", `{"instance_name": "web-1", "dry_run": true}`},
		{"/aws/lightsail/stop-instance", `{"instance_name": "web-1", "dry_run": true}`},
		{"/aws/lightsail/open-ports", `{"instance_name": "web-1", "from_port": 443, "dry_run": true}`},
		{"/aws/lightsail/attach-static-ip", `{"instance_name": "web-1", "static_ip_name": "other-ip", "dry_run": true}`},
	} {
		r := e.do("POST", c.path, c.body)
		if r.status != 200 || r.str("changed") != "false" || !strings.HasPrefix(r.str("message"), "Dry run: ") || r.str("operation", "dry_run") != "true" {
			t.Fatalf("%s: %d %s", c.path, r.status, r.raw)
		}
	}
	got := e.do("GET", "/aws/lightsail/instances/web-1", "")
	if got.status != 200 || strings.Contains(got.str("state"), "stop") || strings.Contains(string(got.raw), `"from_port":443`) {
		t.Fatalf("after the dry runs: %d %s", got.status, got.raw)
	}
	if ips := e.do("GET", "/aws/lightsail/cost", ""); strings.Contains(string(ips.raw), "other-ip") {
		t.Fatalf("a dry run allocated a static IP: %s", ips.raw)
	}
}
