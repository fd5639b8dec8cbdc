package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fountainai/fountain/sandbox/sandboxtest"
)

// designStack is the design's whole infrastructure as one stack file:
// three instances, OpenSearch on a 2 GB bundle, Kong with a route to the
// app on the app instance, the app, and a GitHub secret.
const designStack = `version: 1
region: eu-central-1
instances:
  search-1: {bundle: small_3_0, blueprint: ubuntu_24_04, zone: eu-central-1a}
  gw-1: {bundle: nano_3_0, blueprint: ubuntu_24_04, zone: eu-central-1a, ports: ["22", "80"]}
  app-1: {bundle: nano_3_0, blueprint: ubuntu_24_04, zone: eu-central-1a}
opensearch:
  instance: search-1
kong:
  instance: gw-1
  routes:
    my-app: {app: my-app, paths: [/app]}
    docs: {upstream_url: "http://192.0.2.10:8080", paths: [/docs]}
apps:
  my-app:
    image: ghcr.io/user/repo/my-app:IMAGE_TAG
    instances: [app-1]
    ports: ["8080:8080"]ENV
github:
  repositories:
    user/repo:
      secrets: {DEPLOY_KEY: deploy-key}
`

func stackFile(tag, env string) string {
	return strings.NewReplacer("IMAGE_TAG", tag, "ENV", env).Replace(designStack)
}

type stackPlan struct {
	ExitCode  int    `json:"exit_code"`
	Summary   string `json:"summary"`
	Drift     int    `json:"drift"`
	Resources []struct {
		Key         string `json:"key"`
		Action      string `json:"action"`
		Why         string `json:"why"`
		Drift       string `json:"drift"`
		Error       string `json:"error"`
		Fingerprint string `json:"fingerprint"`
	} `json:"resources"`
	Monthly struct {
		Before float64 `json:"before_usd"`
		After  float64 `json:"after_usd"`
	} `json:"monthly"`
	raw json.RawMessage
}

// saved is the plan's resources as the API answered them (a saved plan).
func (p stackPlan) saved() any {
	var m struct {
		Resources []any `json:"resources"`
	}
	_ = json.Unmarshal(p.raw, &m)
	return m.Resources
}

func planStack(t *testing.T, url, text string) stackPlan {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"stack": text})
	status, m := call(t, "POST", url+"/stack/plan", string(body))
	if status != 200 {
		t.Fatalf("plan: %d %v", status, m)
	}
	raw, _ := json.Marshal(m)
	var p stackPlan
	_ = json.Unmarshal(raw, &p)
	p.raw = raw
	stackAnswers.WriteString(string(raw))
	return p
}

// sshDials reads fountain_ssh_connections_total from /metrics.
func sshDials(t *testing.T, url string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", url+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "fountain_ssh_connections_total "); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%q: %v", line, err)
			}
			return int(n)
		}
	}
	t.Fatalf("no fountain_ssh_connections_total in /metrics")
	return 0
}

// stackAnswers keeps every stack answer, for the canary.
var stackAnswers strings.Builder

// changed lists the plan's resources that change, as "action key".
func (p stackPlan) changed() []string {
	var out []string
	for _, r := range p.Resources {
		if r.Action != "no-op" && r.Action != "unmanaged" {
			out = append(out, r.Action+" "+r.Key)
		}
		if r.Error != "" {
			out = append(out, "error "+r.Key+": "+r.Error)
		}
	}
	return out
}

func applyStack(t *testing.T, url, text string, saved any) (int, map[string]any) {
	t.Helper()
	in := map[string]any{"stack": text}
	if saved != nil {
		in["plan"] = saved
	}
	body, _ := json.Marshal(in)
	status, m := call(t, "POST", url+"/stack/apply", string(body))
	raw, _ := json.Marshal(m)
	stackAnswers.Write(raw)
	if op, ok := m["operation"].(map[string]any); ok {
		_, kids := call(t, "GET", url+"/operations?parent="+fmt.Sprint(op["id"]), "")
		raw, _ := json.Marshal(kids)
		stackAnswers.Write(raw)
		for _, k := range kids["operations"].([]any) {
			res, err := http.NewRequest("GET", url+"/operations/"+fmt.Sprint(k.(map[string]any)["id"])+"/log", nil)
			if err == nil {
				res.Header.Set("Authorization", "Bearer "+token)
				if r, err := http.DefaultClient.Do(res); err == nil {
					b, _ := io.ReadAll(r.Body)
					r.Body.Close()
					stackAnswers.Write(b)
				}
			}
		}
	}
	return status, m
}

// The acceptance of issue 13 in the sandbox: the design's infrastructure
// as one stack file is planned (every resource, the monthly total), applied
// (the app answers through Kong) and planned again (no changes, exit 0);
// one env value changed is exactly that app's replace; a route added by
// hand is drift; a saved plan applied after a change is refused as stale;
// an app that fails its health check leaves the old one serving and skips
// the route, and a second apply after the fix completes; import of what
// exists plans empty.
func TestStackAcceptance(t *testing.T) {
	t.Parallel() // a sandbox of its own: its hosts boot while the others' do
	url, dataDir, logs, stop := startStandInServer(t, "stack")
	defer stop()
	const canary = "canary-deploy-key-31f9"
	var answers strings.Builder
	defer func() {
		// The vault's value is in no answer, log line or file.
		stop()
		answers.WriteString(stackAnswers.String())
		if strings.Contains(answers.String(), canary) || strings.Contains(logs.String(), canary) {
			t.Errorf("the secret's value is in an answer or the log")
		}
		filepath.Walk(dataDir, func(p string, info os.FileInfo, err error) error {
			if err == nil && !info.IsDir() {
				if b, _ := os.ReadFile(p); bytes.Contains(b, []byte(canary)) {
					t.Errorf("the secret's value is in %s", p)
				}
			}
			return nil
		})
	}()
	_, sb := call(t, "GET", url+"/sandbox", "")
	push := sb["registry_push"].(string)
	sandboxtest.PushApp(t, push+"/user/repo/my-app:latest", "1", sandboxtest.AppOptions{})
	if status, body := call(t, "PUT", url+"/vault/deploy-key", `{"value": "canary-deploy-key-31f9"}`); status != 200 {
		t.Fatalf("vault: %d %v", status, body)
	}

	// 1. The plan lists every resource, with the monthly total.
	text := stackFile("latest", "")
	p := planStack(t, url, text)
	want := []string{"create instance.app-1", "create instance.gw-1", "create instance.search-1", "create opensearch@search-1", "create kong@gw-1",
		"create app.my-app@app-1", "create route.my-app", "create route.docs", "create secret.user/repo/DEPLOY_KEY"}
	for _, w := range want {
		if !strings.Contains(strings.Join(p.changed(), "\n"), w) {
			t.Errorf("the plan lacks %q: %v", w, p.changed())
		}
	}
	if p.ExitCode != 2 || p.Monthly.Before != 0 || p.Monthly.After < 20 || !strings.Contains(p.Summary, "9 to create") {
		t.Fatalf("plan: exit %d, monthly %+v, %s", p.ExitCode, p.Monthly, p.Summary)
	}
	t.Logf("plan: %s", p.Summary)

	// 2. Apply builds it: one operation, a child per resource; the app
	// answers through Kong.
	start := time.Now()
	status, body := applyStack(t, url, text, nil)
	if status != 200 {
		t.Fatalf("apply: %d %v", status, body)
	}
	t.Logf("apply: %s", time.Since(start).Round(time.Second))
	op := body["operation"].(map[string]any)
	_, kids := call(t, "GET", url+"/operations?parent="+op["id"].(string), "")
	// Two routes on one Kong take turns (they share its host's lock).
	if n := len(kids["operations"].([]any)); n != 9 {
		t.Fatalf("%d child operations, want 9", n)
	}
	_, gw := call(t, "GET", url+"/aws/lightsail/instances/gw-1", "")
	get := func(path string) (int, string) {
		t.Helper()
		res, err := http.Get("http://" + gw["public_ip"].(string) + path)
		if err != nil {
			t.Fatalf("GET %s through Kong: %v", path, err)
		}
		defer res.Body.Close()
		b := make([]byte, 256)
		n, _ := res.Body.Read(b)
		return res.StatusCode, strings.TrimSpace(string(b[:n]))
	}
	// Kong's active health checks may take a target out for a while when
	// the machine is loaded (its health answer late): "no peer" is asked
	// again, for up to 20 s, as a client behind Kong would retry; any
	// other answer is final.
	proxy := func(path string) (int, string) {
		t.Helper()
		code, got := get(path)
		for end := time.Now().Add(20 * time.Second); code == http.StatusServiceUnavailable && strings.Contains(got, "ring-balancer") && time.Now().Before(end); {
			time.Sleep(500 * time.Millisecond)
			code, got = get(path)
		}
		return code, got
	}
	if code, got := proxy("/app/"); code != 200 || got != "version 1" {
		t.Fatalf("the app through Kong: %d %q", code, got)
	}

	// 3. Planned again: no changes, exit 0. Its reads of one host (what
	// runs there, the dry runs, Kong's config) share one SSH connection.
	start = time.Now()
	dials := sshDials(t, url)
	if p = planStack(t, url, text); p.ExitCode != 0 || len(p.changed()) != 0 {
		t.Fatalf("plan after apply: exit %d, %v\n%s", p.ExitCode, p.changed(), p.raw)
	}
	t.Logf("no-op plan of the design's stack: %s", time.Since(start).Round(time.Millisecond))
	if n := sshDials(t, url) - dials; n != 3 {
		t.Errorf("the plan opened %d SSH connections to its 3 hosts, want one each", n)
	}

	// 4. Import of what exists plans empty (once the vault holds the
	// secret's value under the name import gives it).
	status, imp := call(t, "GET", url+"/stack/import?repo=user/repo", "")
	if status != 200 {
		t.Fatalf("import: %d %v", status, imp)
	}
	for _, name := range imp["vault_names"].([]any) {
		call(t, "PUT", url+"/vault/"+name.(string), `{"value": "canary-deploy-key-31f9"}`)
	}
	if p := planStack(t, url, imp["stack"].(string)); p.ExitCode != 0 || len(p.changed()) != 0 {
		t.Fatalf("the imported stack plans changes: %v\n%s\n%s", p.changed(), imp["stack"], p.raw)
	}

	// A container stopped by hand: the plan puts it back, and says it is
	// drift.
	_, app1 := call(t, "GET", url+"/aws/lightsail/instances/app-1", "")
	if out, err := sshRun(t, app1["public_ip"].(string), sb["ssh_key_path"].(string), "docker stop my-app"); err != nil {
		t.Fatalf("stop the app by hand: %v %s", err, out)
	}
	if p := planStack(t, url, text); strings.Join(p.changed(), ";") != "replace app.my-app@app-1" || p.Drift != 1 {
		t.Fatalf("a stopped container: %v, drift %d\n%s", p.changed(), p.Drift, p.raw)
	}

	// 5. One env value changed: exactly that app's replace.
	changedEnv := stackFile("latest", "\n    env: {LOG_LEVEL: debug}")
	p = planStack(t, url, changedEnv)
	if p.ExitCode != 2 || strings.Join(p.changed(), ";") != "replace app.my-app@app-1" {
		t.Fatalf("env changed: exit %d, %v", p.ExitCode, p.changed())
	}
	saved := p.saved()

	// 6. A route added by hand: drift. The saved plan is now stale.
	if status, body := call(t, "POST", url+"/services/kong/routes", `{"instance_name": "gw-1", "name": "hand", "upstream_url": "http://192.0.2.10:8080", "paths": ["/hand"]}`); status != 200 {
		t.Fatalf("a route by hand: %d %v", status, body)
	}
	p = planStack(t, url, changedEnv)
	// Two drifts: the route by hand, and the container still stopped.
	if p.Drift != 2 || !strings.Contains(string(p.raw), "route.hand") {
		t.Fatalf("drift: %d\n%s", p.Drift, p.raw)
	}
	if status, body := applyStack(t, url, changedEnv, saved); status != 409 || !strings.Contains(fmt.Sprint(body["detail"]), "stale") {
		t.Fatalf("a stale saved plan: %d %v", status, body)
	}
	if status, body := applyStack(t, url, changedEnv, p.saved()); status != 200 {
		t.Fatalf("apply the env change: %d %v", status, body)
	} else if _, kids := call(t, "GET", url+"/operations?parent="+body["operation"].(map[string]any)["id"].(string), ""); len(kids["operations"].([]any)) != 1 {
		t.Fatalf("the env change applied %d children", len(kids["operations"].([]any)))
	}

	// 7. An app that fails its health check: the old one still serves,
	// the route is skipped; after the fix, a second apply completes.
	sandboxtest.PushApp(t, push+"/user/repo/my-app:broken", "2", sandboxtest.AppOptions{Env: []string{"APP_CRASH=1"}})
	broken := stackFile("broken", "\n    env: {LOG_LEVEL: debug}")
	status, body = applyStack(t, url, broken, nil)
	if status == 200 || !strings.Contains(fmt.Sprint(body), "app.my-app@app-1") {
		t.Fatalf("a broken app applied: %d %v", status, body)
	}
	steps := fmt.Sprint(body["operation"])
	if !strings.Contains(steps, "name:route.my-app") || !strings.Contains(steps, "skipped") {
		t.Fatalf("the route was not skipped: %s", steps)
	}
	if code, got := proxy("/app/"); code != 200 || got != "version 1" {
		t.Fatalf("the old app after a failed apply: %d %q", code, got)
	}
	sandboxtest.PushApp(t, push+"/user/repo/my-app:broken", "2", sandboxtest.AppOptions{})
	if status, body = applyStack(t, url, broken, nil); status != 200 {
		t.Fatalf("apply after the fix: %d %v", status, body)
	}
	if code, got := proxy("/app/"); code != 200 || got != "version 2" {
		t.Fatalf("the fixed app through Kong: %d %q", code, got)
	}
}
