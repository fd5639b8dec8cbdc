package cli

import (
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fountainai/fountain/deploy"
)

func TestAppsListAndLogs(t *testing.T) {
	rec := &recorder{answer: func(w http.ResponseWriter, r *http.Request, _ string) {
		switch r.URL.Path {
		case "/services/docker-apps":
			fmt.Fprint(w, `{"host":"10.0.0.5:22","apps":[`+
				`{"container_name":"web","role":"current","image":"ghcr.io/u/r/web:1","image_id":"sha256:aa","digest":"ghcr.io/u/r/web@sha256:0123456789abcdef0123","state":"running","health":"healthy","uptime_seconds":11040,"restart_count":0,"ports":["80:8000/tcp"]},`+
				`{"container_name":"web.previous","role":"previous","image":"ghcr.io/u/r/web:0","image_id":"sha256:bb","state":"exited","restart_count":0}]}`)
		case "/services/docker-app-logs":
			fmt.Fprint(w, `{"container_name":"web","lines":["listening on :8000","GET / 200"]}`)
		}
	}}
	env := fakeAPI(t, rec.handler)
	stdout, stderr, code := runCLI(t, env, "", "apps", "list", "--host", "10.0.0.5", "--key", "/k/id", "--user", "deploy", "--ssh-port", "2222")
	want := "NAME          ROLE      STATE    HEALTH   IMAGE              DIGEST               UPTIME  PORTS\n" +
		"web           current   running  healthy  ghcr.io/u/r/web:1  sha256:0123456789ab  3h4m    80:8000/tcp\n" +
		"web.previous  previous  exited   -        ghcr.io/u/r/web:0  -                    -       -\n"
	if code != 0 || stdout != want {
		t.Errorf("exit %d, stderr %q\nstdout:\n%s\nwant:\n%s", code, stderr, stdout, want)
	}
	stdout, stderr, code = runCLI(t, env, "", "apps", "logs", "web", "--instance", "web-1", "--region", "us-east-1", "--tail", "20")
	if code != 0 || stdout != "listening on :8000\nGET / 200\n" {
		t.Errorf("logs: exit %d, stderr %q, stdout %q", code, stderr, stdout)
	}
	reqs := rec.requests()
	if len(reqs) != 2 ||
		reqs[0].Method+" "+reqs[0].Path+"?"+reqs[0].Query != "GET /services/docker-apps?instance_ip=10.0.0.5&ssh_key_path=%2Fk%2Fid&ssh_port=2222&ssh_user=deploy" ||
		reqs[1].Method+" "+reqs[1].Path+"?"+reqs[1].Query != "GET /services/docker-app-logs?container_name=web&instance_name=web-1&region=us-east-1&tail=20" {
		t.Errorf("requests: %+v", reqs)
	}
}

func TestAppsRollbackAndRemoveRequests(t *testing.T) {
	rec := &recorder{}
	env := fakeAPI(t, rec.handler)
	for _, args := range [][]string{
		{"apps", "rollback", "web", "--instance", "web-1"},
		{"apps", "remove", "web", "--host", "10.0.0.5", "--key", "/k/id", "--yes"},
		{"apps", "remove", "web", "--instance", "web-1", "--dry-run"}, // a dry run needs no confirmation
	} {
		if _, stderr, code := runCLI(t, env, "", args...); code != 0 {
			t.Errorf("%q: exit %d: %s", args, code, stderr)
		}
	}
	want := []seen{
		{Method: "POST", Path: "/services/rollback-docker-app", Body: `{"instance_name":"web-1","container_name":"web"}`},
		{Method: "POST", Path: "/services/remove-docker-app", Body: `{"instance_ip":"10.0.0.5","ssh_key_path":"/k/id","container_name":"web"}`},
		{Method: "POST", Path: "/services/remove-docker-app", Body: `{"instance_name":"web-1","dry_run":true,"container_name":"web"}`},
	}
	if got := rec.requests(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("requests:\n%+v\nwant:\n%+v", got, want)
	}
}

// remove asks for the app's name on a terminal and refuses without one,
// like instances delete.
func TestAppsRemoveConfirmation(t *testing.T) {
	rec := &recorder{}
	env := fakeAPI(t, rec.handler)
	args := []string{"apps", "remove", "web", "--instance", "web-1"}
	if _, stderr, code := runTTY(t, env, "web\n", false, false, args...); code != ExitUsage || !strings.Contains(stderr, "refusing to remove app web without confirmation: stdin is not a terminal, so pass --yes") {
		t.Errorf("without a terminal: exit %d, stderr %q", code, stderr)
	}
	if _, stderr, code := runTTY(t, env, "wbe\n", true, true, args...); code != ExitUsage || !strings.Contains(stderr, `not removed: "wbe" does not match "web"`) {
		t.Errorf("wrong answer: exit %d, stderr %q", code, stderr)
	}
	if n := len(rec.requests()); n != 0 {
		t.Fatalf("%d requests before confirmation", n)
	}
	if _, stderr, code := runTTY(t, env, "web\n", true, false, args...); code != 0 ||
		!strings.Contains(stderr, "Remove app web and its previous version from instance web-1? This cannot be undone.\nType web to confirm: ") {
		t.Errorf("right answer: exit %d, stderr %q", code, stderr)
	}
	if n := len(rec.requests()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestOpenSearchHealth(t *testing.T) {
	status := "yellow"
	rec := &recorder{answer: func(w http.ResponseWriter, r *http.Request, _ string) {
		fmt.Fprintf(w, `{"host":"10.0.0.5:22","cluster_name":"fountain","status":%q,"version":"2.19.1","number_of_nodes":1,"active_shards":3,"unassigned_shards":3,"through_ssh_tunnel":true}`, status)
	}}
	env := fakeAPI(t, rec.handler)
	stdout, stderr, code := runCLI(t, env, "", "opensearch", "health", "--instance", "search-1")
	want := "Host:               10.0.0.5:22\n" +
		"Cluster:            fountain\n" +
		"Status:             yellow\n" +
		"Version:            2.19.1\n" +
		"Nodes:              1\n" +
		"Active shards:      3\n" +
		"Unassigned shards:  3\n" +
		"Asked through:      an SSH tunnel (OpenSearch is not reached over the internet)\n"
	if code != 0 || stdout != want {
		t.Errorf("exit %d, stderr %q\nstdout:\n%s\nwant:\n%s", code, stderr, stdout, want)
	}
	if r := rec.requests()[0]; r.Path != "/services/opensearch/health" || r.Query != "instance_name=search-1" {
		t.Errorf("request: %+v", r)
	}
	status = "red"
	if _, stderr, code := runCLI(t, env, "", "opensearch", "health", "--instance", "search-1"); code != ExitError || stderr != "error: the cluster fountain on 10.0.0.5:22 is red\n" {
		t.Errorf("red: exit %d, stderr %q", code, stderr)
	}
}

func TestSSHHostKeysAndForget(t *testing.T) {
	since := time.Date(2026, 3, 1, 12, 0, 0, 0, time.Local)
	rec := &recorder{answer: func(w http.ResponseWriter, r *http.Request, _ string) {
		if r.URL.Path == "/ssh/host-keys" {
			fmt.Fprintf(w, `{"keys":[{"host":"10.0.0.5:22","algorithm":"ssh-ed25519","public_key":"AAAA","fingerprint_sha256":"SHA256:abc","source":"tofu","created_at":%q}]}`, since.Format(time.RFC3339))
			return
		}
		fmt.Fprint(w, `{"status":"success","message":"Forgot 1 host key(s) of 10.0.0.5:2222","changed":true,"operation":{"id":"op_f","status":"succeeded","steps":[]}}`)
	}}
	env := fakeAPI(t, rec.handler)
	stdout, stderr, code := runCLI(t, env, "", "ssh", "host-keys", "--host", "10.0.0.5")
	want := "HOST         ALGORITHM    FINGERPRINT  SOURCE  SINCE\n" +
		"10.0.0.5:22  ssh-ed25519  SHA256:abc   tofu    2026-03-01 12:00:00\n"
	if code != 0 || stdout != want {
		t.Errorf("exit %d, stderr %q\nstdout:\n%s\nwant:\n%s", code, stderr, stdout, want)
	}
	stdout, stderr, code = runCLI(t, env, "", "ssh", "forget", "10.0.0.5:2222")
	if code != 0 || stdout != "Forgot 1 host key(s) of 10.0.0.5:2222 (changed)\nOperation: op_f\n" {
		t.Errorf("forget: exit %d, stderr %q, stdout %q", code, stderr, stdout)
	}
	want2 := []seen{
		{Method: "GET", Path: "/ssh/host-keys", Query: "host=10.0.0.5"},
		{Method: "POST", Path: "/ssh/forget-host-key", Body: `{"host":"10.0.0.5:2222"}`},
	}
	if got := rec.requests(); fmt.Sprint(got) != fmt.Sprint(want2) {
		t.Errorf("requests:\n%+v\nwant:\n%+v", got, want2)
	}
}

// Apps across hosts: the digest each host runs, and what drifts.
func TestAppDrift(t *testing.T) {
	const d1, d2 = "ghcr.io/u/r/app@sha256:1111111111111111111111111111111111111111111111111111111111111111", "ghcr.io/u/r/app@sha256:2222222222222222222222222222222222222222222222222222222222222222"
	app := func(name, digest, state string) deploy.App {
		return deploy.App{ContainerName: name, Role: deploy.RoleCurrent, Digest: digest, State: state}
	}
	all := []hostApps{
		{Instance: "web-1", Apps: []deploy.App{app("my-app", d2, "running"), app("api", d1, "running"), {ContainerName: "my-app.previous", Role: deploy.RolePrevious, Digest: d1}}},
		{Instance: "web-2", Apps: []deploy.App{app("my-app", d1, "running"), app("api", d1, "running")}},
		{Instance: "web-3", Apps: []deploy.App{app("my-app", d1, "exited")}},
	}
	want := []string{
		"api: DRIFT: not on web-3",
		"my-app: DRIFT: web-2, web-3 run sha256:111111111111; web-1 runs sha256:222222222222; not running on web-3",
	}
	if got := appDrift(all); !reflect.DeepEqual(got, want) {
		t.Fatalf("drift:\n%q\nwant\n%q", got, want)
	}
	if got := appDrift(all[1:2]); !reflect.DeepEqual(got, []string{"api: the same on 1 hosts", "my-app: the same on 1 hosts"}) {
		t.Fatalf("one host: %q", got)
	}
	for _, c := range []struct {
		in   []string
		want *deploy.GatewayRef
	}{
		{nil, nil},
		{[]string{"gw-1"}, &deploy.GatewayRef{InstanceName: "gw-1"}},
		{[]string{"203.0.113.9"}, &deploy.GatewayRef{InstanceIP: "203.0.113.9"}},
		{[]string{"gw-1", "gw-2"}, &deploy.GatewayRef{InstanceNames: []string{"gw-1", "gw-2"}}},
	} {
		if got := gatewayRef(c.in, ""); !reflect.DeepEqual(got, c.want) {
			t.Errorf("--gateway %q: %#v", c.in, got)
		}
	}
}
