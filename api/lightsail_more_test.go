package api_test

import (
	"strings"
	"testing"
	"time"

	"github.com/fountainai/fountain/lightsail/emulator"
)

// The snapshot routes over HTTP against the emulator: a dry run shows the
// monthly cost and changes nothing; a snapshot is listed with its cost;
// an instance is created from it; delete-instance with final_snapshot names
// its snapshot; bad input is 422 naming the field before any call.
func TestSnapshotRoutes(t *testing.T) {
	e := newEnv(t, emulator.Options{CreateDelay: -1, SnapshotDelay: 20 * time.Millisecond, LoadBalancerDelay: -1, CertificateDelay: time.Hour})
	create := `{"instance_name":"web-1","blueprint_id":"ubuntu_24_04","bundle_id":"nano_3_0","availability_zone":"eu-central-1a","wait":true}`
	if r := e.do("POST", "/aws/lightsail/create-instance", create); r.status != 200 {
		t.Fatalf("create: %d %s", r.status, r.raw)
	}
	r := e.do("POST", "/aws/lightsail/create-instance-snapshot", `{"instance_name":"web-1","snapshot_name":"s1","dry_run":true}`)
	if r.status != 200 || r.str("changed") != "false" || !strings.Contains(string(r.raw), `"after_usd":1`) {
		t.Fatalf("dry run: %d %s", r.status, r.raw)
	}
	if r := e.do("GET", "/aws/lightsail/snapshots", ""); r.status != 200 || strings.Contains(string(r.raw), `"s1"`) {
		t.Fatalf("after a dry run: %d %s", r.status, r.raw)
	}
	r = e.do("POST", "/aws/lightsail/create-instance-snapshot", `{"instance_name":"web-1","snapshot_name":"s1","wait":true}`)
	if r.status != 200 || r.str("changed") != "true" || r.str("message") != "Snapshot s1 of web-1 taken in eu-central-1; it costs about $1.00 a month" {
		t.Fatalf("snapshot: %d %s", r.status, r.raw)
	}
	r = e.do("GET", "/aws/lightsail/snapshots", "")
	if r.status != 200 || r.str("total_monthly_usd") != "1" || !strings.Contains(string(r.raw), `"snapshot_name":"s1","region":"eu-central-1","state":"available"`) {
		t.Fatalf("list: %d %s", r.status, r.raw)
	}
	from := `{"instance_name":"web-2","from_snapshot":"s1","bundle_id":"micro_3_0","availability_zone":"eu-central-1a","wait":true}`
	if r := e.do("POST", "/aws/lightsail/create-instance", from); r.status != 200 || r.str("changed") != "true" ||
		!strings.Contains(string(r.raw), "lightsail:CreateInstancesFromSnapshot web-2 (micro_3_0, from s1, eu-central-1a)") {
		t.Fatalf("from snapshot: %d %s", r.status, r.raw)
	}
	if r := e.do("GET", "/aws/lightsail/instances/web-2", ""); r.str("blueprint_id") != "ubuntu_24_04" {
		t.Fatalf("web-2: %s", r.raw)
	}
	r = e.do("POST", "/aws/lightsail/delete-instance", `{"instance_name":"web-1","final_snapshot":true,"final_snapshot_name":"web-1-last"}`)
	if r.status != 200 || !strings.Contains(string(r.raw), `"snapshot_name":"web-1-last"`) ||
		r.str("message") != "Instance web-1 deleted in eu-central-1; its final snapshot is web-1-last" {
		t.Fatalf("delete with a final snapshot: %d %s", r.status, r.raw)
	}
	if r := e.do("GET", "/aws/lightsail/cost", ""); !strings.Contains(string(r.raw), `{"resource":"web-1-last","type":"snapshot","plan":"20 GB at $0.05/GB-month","monthly_usd":1}`) {
		t.Fatalf("cost: %s", r.raw)
	}
	if r := e.do("POST", "/aws/lightsail/enable-auto-snapshot", `{"instance_name":"web-2","snapshot_time_of_day":"04:00"}`); r.status != 200 ||
		r.str("message") != "Automatic snapshots of web-2 are taken daily at 04:00 UTC" {
		t.Fatalf("enable: %d %s", r.status, r.raw)
	}
	if r := e.do("POST", "/aws/lightsail/delete-instance-snapshot", `{"snapshot_name":"s1"}`); r.status != 200 || r.str("changed") != "true" {
		t.Fatalf("delete snapshot: %d %s", r.status, r.raw)
	}
	for _, c := range []struct{ path, body, field string }{
		{"start-instance", `{"instance_name":"web-2","final_snapshot":true}`, "final_snapshot"},
		{"delete-instance", `{"instance_name":"web-2","final_snapshot_name":"x1"}`, "final_snapshot_name"},
		{"enable-auto-snapshot", `{"instance_name":"web-2","snapshot_time_of_day":"04:30"}`, "snapshot_time_of_day"},
		{"disable-auto-snapshot", `{"instance_name":"web-2","snapshot_time_of_day":"04:00"}`, "snapshot_time_of_day"},
		{"create-instance-snapshot", `{"instance_name":"web-2","snapshot_name":"bad name"}`, "snapshot_name"},
		{"create-instance", `{"instance_name":"web-3","from_snapshot":"s1","blueprint_id":"ubuntu_24_04","bundle_id":"nano_3_0","availability_zone":"eu-central-1a"}`, "blueprint_id"},
	} {
		r := e.do("POST", "/aws/lightsail/"+c.path, c.body)
		if r.status != 422 || !strings.Contains(r.str("errors"), `"location":"body.`+c.field+`"`) {
			t.Errorf("%s %s: %d %s", c.path, c.body, r.status, r.raw)
		}
	}
	if r := e.do("POST", "/aws/lightsail/create-instance", strings.Replace(from, "web-2", "web-3", 1)); r.status != 404 || r.str("detail") != "snapshot s1 not found in eu-central-1" {
		t.Fatalf("from a deleted snapshot: %d %s", r.status, r.raw)
	}
}

// The load balancer routes over HTTP: created with an instance, shown with
// its health, a certificate with its DNS validation records (attaching it
// while pending is 409), its cost.
func TestLoadBalancerRoutes(t *testing.T) {
	e := newEnv(t, emulator.Options{CreateDelay: -1, LoadBalancerDelay: -1, CertificateDelay: time.Hour})
	create := `{"instance_name":"web-1","blueprint_id":"ubuntu_24_04","bundle_id":"nano_3_0","availability_zone":"eu-central-1a","wait":true}`
	if r := e.do("POST", "/aws/lightsail/create-instance", create); r.status != 200 {
		t.Fatalf("create: %d %s", r.status, r.raw)
	}
	lb := `{"load_balancer_name":"lb-1","instance_port":8080,"health_check_path":"/healthz","instance_names":["web-1"]}`
	r := e.do("POST", "/aws/lightsail/create-load-balancer", lb)
	if r.status != 200 || r.str("changed") != "true" || !strings.Contains(string(r.raw), `"monthly":{"after_usd":18,"before_usd":0}`) {
		t.Fatalf("create lb: %d %s", r.status, r.raw)
	}
	if r := e.do("POST", "/aws/lightsail/create-load-balancer", lb); r.status != 200 || r.str("changed") != "false" {
		t.Fatalf("again: %d %s", r.status, r.raw)
	}
	r = e.do("GET", "/aws/lightsail/load-balancers/lb-1", "")
	if r.status != 200 || r.str("state") != "active" || r.str("health_check_path") != "/healthz" ||
		!strings.Contains(string(r.raw), `"instances":[{"instance_name":"web-1","health":`) {
		t.Fatalf("get: %d %s", r.status, r.raw)
	}
	r = e.do("POST", "/aws/lightsail/create-load-balancer-certificate", `{"load_balancer_name":"lb-1","certificate_name":"c1","domain_name":"example.com","alternative_names":["www.example.com"]}`)
	if r.status != 200 || !strings.Contains(string(r.raw), `"validation_records":[{"domain_name":"example.com","name":"_`) ||
		!strings.Contains(string(r.raw), `"type":"CNAME"`) || !strings.Contains(string(r.raw), `"status":"PENDING_VALIDATION"`) {
		t.Fatalf("certificate: %d %s", r.status, r.raw)
	}
	if r := e.do("POST", "/aws/lightsail/attach-load-balancer-certificate", `{"load_balancer_name":"lb-1","certificate_name":"c1"}`); r.status != 409 {
		t.Fatalf("attach a pending certificate: %d %s", r.status, r.raw)
	}
	if r := e.do("GET", "/aws/lightsail/cost", ""); !strings.Contains(string(r.raw), `{"resource":"lb-1","type":"load_balancer","plan":"flat rate","monthly_usd":18}`) {
		t.Fatalf("cost: %s", r.raw)
	}
	if r := e.do("POST", "/aws/lightsail/create-load-balancer-certificate", `{"load_balancer_name":"lb-1","certificate_name":"c2","domain_name":"*.example.com"}`); r.status != 422 {
		t.Fatalf("a wildcard: %d %s", r.status, r.raw)
	}
	if r := e.do("POST", "/aws/lightsail/detach-instances-from-load-balancer", `{"load_balancer_name":"lb-1","instance_names":["web-1"]}`); r.status != 200 || r.str("changed") != "true" {
		t.Fatalf("detach: %d %s", r.status, r.raw)
	}
	if r := e.do("POST", "/aws/lightsail/delete-load-balancer", `{"load_balancer_name":"lb-1"}`); r.status != 200 || r.str("changed") != "true" {
		t.Fatalf("delete: %d %s", r.status, r.raw)
	}
	if r := e.do("GET", "/aws/lightsail/load-balancers", ""); r.status != 200 || !strings.Contains(string(r.raw), `"load_balancers":[]`) {
		t.Fatalf("list: %d %s", r.status, r.raw)
	}
}
