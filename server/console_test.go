package server_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/fountainai/fountain/console/consoletest"
	"github.com/fountainai/fountain/sandbox"
	"github.com/fountainai/fountain/sandbox/sandboxtest"
	"github.com/fountainai/fountain/server"
)

// xss is the canary: markup that runs script if it is ever rendered as
// markup rather than text.
const xss = `<img src=x onerror=alert(1)>`

// The console's acceptance in the sandbox, in Chromium: sign in; create
// an instance; deploy an app after seeing its plan and watch its log live;
// redeploy a re-pushed tag and roll back; deploy Kong, add a route and
// open the app through Kong; set a GitHub secret that is never echoed;
// sign out. The app's log line and an env value hold an XSS canary that
// must show as text (no dialog opens, no image is injected), and no page
// breaks its Content-Security-Policy. A screenshot of each page is saved.
func TestConsoleAcceptance(t *testing.T) {
	t.Parallel() // a sandbox of its own: its hosts boot while the others' do
	// The stand-ins (Kong's image) are built while the first steps run.
	url, stop := startConsoleSandbox(t, "console", true)
	defer stop()
	_, sb := call(t, "GET", url+"/sandbox", "")
	push := sb["registry_push"].(string)
	sandboxtest.PushApp(t, push+"/user/repo/my-app:latest", "1 "+xss, sandboxtest.AppOptions{})

	b := consoletest.New(t, 10*time.Minute)
	b.StepTimeout = 3 * time.Minute // a plan may wait for a host, or for the stand-ins under -race
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	shot := func(name string) {
		b.Screenshot(name)
		if n := consoletest.Value(b, "injected images", chromedp.Evaluate[int](`document.querySelectorAll("main img").length`)); n != 0 {
			t.Fatalf("%s: %d images were injected into the page", name, n)
		}
	}
	start := time.Now()
	step := func(what string) { t.Logf("%6.1fs %s", time.Since(start).Seconds(), what) }

	// Sign in.
	b.Do("sign in", chromedp.Navigate(url+"/"), chromedp.WaitVisible(css("#token")))
	shot("01-signin")
	b.Do("sign in", chromedp.SendKeys(css("#token"), token), chromedp.Submit(css("#token")), chromedp.WaitVisible(css("#h-instances")))

	// Create an instance: form, plan, apply.
	step("create an instance")
	b.Do("new instance", chromedp.Navigate(url+"/ui/instances/new"), chromedp.WaitVisible(css("#f-instance_name")))
	b.Do("fill", chromedp.SendKeys(css("#f-instance_name"), "web-1"))
	shot("02-instance-new")
	b.Do("plan", chromedp.Submit(css("#f-instance_name")), chromedp.WaitVisible(css("#apply")))
	shot("03-plan-create-instance")
	if got := b.Text("main"); !strings.Contains(got, "would add") || !strings.Contains(got, "/month") {
		t.Fatalf("the create plan: %s", got)
	}
	b.Do("apply", chromedp.Click(css("#apply")), chromedp.WaitVisible(css("#h-steps")))
	waitOperation(t, b, "lightsail.create-instance")
	_, inst := call(t, "GET", url+"/aws/lightsail/instances/web-1", "")
	ip := inst["public_ip"].(string)

	// Deploy the app after seeing its plan, and watch the log live.
	step("deploy the app")
	b.Do("deploy form", chromedp.Navigate(url+"/ui/instances/web-1/deploy"), chromedp.WaitVisible(css("#f-docker_image")),
		chromedp.SendKeys(css("#f-docker_image"), "ghcr.io/user/repo/my-app:latest"),
		chromedp.SendKeys(css("#f-ports"), "8080:8080"),
		chromedp.SendKeys(css("#f-env"), "GREETING="+xss),
		chromedp.SendKeys(css("#f-secret_name_1"), "APP_SECRET"),
		chromedp.SendKeys(css("#f-secret_value_1"), "console-secret-canary-91c"))
	shot("04-deploy-form")
	b.Do("plan the deploy", chromedp.Submit(css("#f-docker_image")), chromedp.WaitVisible(css("#apply")))
	shot("05-plan-deploy")
	b.ScreenshotView("plan-window") // docs/console-plan.png
	plan := b.Text("main")
	if !strings.Contains(plan, "Plan: Deploy an app") || !strings.Contains(plan, "Would change?") || strings.Contains(plan, "console-secret-canary-91c") {
		t.Fatalf("the deploy plan: %s", plan)
	}
	html := consoletest.Value(b, "the page", chromedp.OuterHTML(css("html")))
	if strings.Contains(html, "console-secret-canary-91c") {
		t.Fatal("the secret value is in the plan page")
	}
	b.Do("apply the deploy", chromedp.Click(css("#apply")), chromedp.WaitVisible(css("#log")))
	watchLive(t, b)
	shot("06-operation-live")
	waitOperation(t, b, "deploy.docker-app")
	shot("07-operation-deployed")
	if got, err := get("http://" + ip + ":8080/"); err != nil || !strings.Contains(got, "version 1") {
		t.Fatalf("the app: %q %v", got, err)
	}

	// The app's page: its log line with the canary, as text.
	step("the app's page")
	b.Do("app page", chromedp.Navigate(url+"/ui/instances/web-1/apps/my-app"), chromedp.WaitVisible(css("#h-logs")))
	shot("08-app")
	if got := b.Text("pre.log"); !strings.Contains(got, "test app 1 "+xss+" starting") {
		t.Fatalf("the app's log: %q", got)
	}
	// The env canary, as text, in the deploy's recorded request.
	b.Do("the deploy's record", chromedp.Navigate(url+"/ui/operations?kind=deploy.docker-app&status=succeeded"), chromedp.WaitVisible(css("table")),
		chromedp.Click(css("tbody a")), chromedp.WaitVisible(css("#h-steps")))
	if got := consoletest.Value(b, "request", chromedp.TextContent(css("#request pre"))); !strings.Contains(got, xss) {
		t.Fatalf("the recorded request: %q", got)
	}

	// A re-pushed tag: redeploy (the plan says the digest is newer), then
	// roll back to the first version.
	step("redeploy a re-pushed tag")
	sandboxtest.PushApp(t, push+"/user/repo/my-app:latest", "2", sandboxtest.AppOptions{})
	b.Do("redeploy", chromedp.Navigate(url+"/ui/instances/web-1/apps/my-app"), chromedp.WaitVisible(css("#h-actions")),
		chromedp.Click(css(`a[href*="from=my-app"]`)), chromedp.WaitVisible(css("#f-docker_image")))
	if v := consoletest.Value(b, "image", chromedp.Value(css("#f-docker_image"))); v != "ghcr.io/user/repo/my-app:latest" {
		t.Fatalf("the redeploy form's image: %q", v)
	}
	b.Do("the secret again", chromedp.SendKeys(css("#f-secret_value_1"), "console-secret-canary-91c"))
	shot("09-redeploy-form")
	b.Do("plan the redeploy", chromedp.Submit(css("#f-docker_image")), chromedp.WaitVisible(css("#apply")))
	shot("10-plan-redeploy")
	b.Do("apply the redeploy", chromedp.Click(css("#apply")), chromedp.WaitVisible(css("#log")))
	waitOperation(t, b, "deploy.docker-app")
	if got, err := get("http://" + ip + ":8080/"); err != nil || got != "version 2" {
		t.Fatalf("after the redeploy: %q %v", got, err)
	}
	step("roll back")
	b.Do("roll back", chromedp.Navigate(url+"/ui/instances/web-1/apps/my-app"), chromedp.WaitVisible(css("#h-actions")),
		chromedp.Click(css(`form[action="/ui/plan/rollback-app"] button`)), chromedp.WaitVisible(css("#apply")))
	shot("11-plan-rollback")
	b.Do("apply the rollback", chromedp.Click(css("#apply")), chromedp.WaitVisible(css("#log")))
	waitOperation(t, b, "deploy.rollback-docker-app")
	if got, err := get("http://" + ip + ":8080/"); err != nil || !strings.Contains(got, "version 1") {
		t.Fatalf("after the rollback: %q %v", got, err)
	}

	// Kong: deploy it, add a route to the app, open the app through it.
	step("deploy Kong")
	b.Do("kong page", chromedp.Navigate(url+"/ui/instances/web-1/kong"), chromedp.WaitVisible(css("#h-deploy")),
		chromedp.Click(css(`form[action="/ui/plan/deploy-kong"] button[type=submit]`)), chromedp.WaitVisible(css("#apply")))
	shot("12-plan-deploy-kong")
	b.Do("apply", chromedp.Click(css("#apply")), chromedp.WaitVisible(css("#log")))
	waitOperation(t, b, "deploy.kong")
	step("add a route")
	b.Do("route form", chromedp.Navigate(url+"/ui/instances/web-1/kong"), chromedp.WaitVisible(css("#h-add")),
		chromedp.SendKeys(css("#f-name"), "my-app"), chromedp.SendKeys(css("#f-app_container"), "my-app"),
		chromedp.SendKeys(css("#f-paths"), "/app"), chromedp.Submit(css("#f-name")), chromedp.WaitVisible(css("#apply")))
	shot("13-plan-add-route")
	if got := b.Text("main"); !strings.Contains(got, "my-app") || !strings.Contains(got, "+") {
		t.Fatalf("the route's plan shows no diff: %s", got)
	}
	b.Do("apply", chromedp.Click(css("#apply")), chromedp.WaitVisible(css("#log")))
	waitOperation(t, b, "kong.add-route")
	b.Do("kong page", chromedp.Navigate(url+"/ui/instances/web-1/kong"), chromedp.WaitVisible(css("#h-routes")))
	shot("14-kong")
	b.Do("open the app through Kong", chromedp.Click(css(`a[href$="/app"]`)))
	through := waitTab(t, b, "http://"+ip+"/app")
	if !strings.Contains(through, "version 1 "+xss) {
		t.Fatalf("the app through Kong: %q", through)
	}

	// GitHub: a secret set from a form that never echoes it.
	step("a GitHub secret")
	b.Do("github", chromedp.Navigate(url+"/ui/github?repo=user/repo"), chromedp.WaitVisible(css("#h-set")),
		chromedp.SendKeys(css("#f-secret_name"), "DEPLOY_KEY"), chromedp.SendKeys(css("#f-secret_value"), "gh-secret-canary-5e1"),
		chromedp.Submit(css("#f-secret_name")), chromedp.WaitVisible(css("#apply")))
	shot("15-plan-secret")
	if html := consoletest.Value(b, "page", chromedp.OuterHTML(css("html"))); strings.Contains(html, "gh-secret-canary-5e1") {
		t.Fatal("the secret's value is in the plan page")
	}
	b.Do("apply", chromedp.Click(css("#apply")), chromedp.WaitVisible(css("#log")))
	waitOperation(t, b, "github.add-secret")
	b.Do("github", chromedp.Navigate(url+"/ui/github?repo=user/repo"), chromedp.WaitVisible(css("#h-secrets")))
	shot("16-github")
	if got := b.Text("main"); !strings.Contains(got, "DEPLOY_KEY") {
		t.Fatalf("the secrets: %s", got)
	}

	// The overview, the lists, and sign out. Reading them changes nothing.
	counts := func() (int, int) {
		_, ops := call(t, "GET", url+"/operations?limit=1000", "")
		_, audit := call(t, "GET", url+"/audit?limit=1000", "")
		return len(ops["operations"].([]any)), len(audit["entries"].([]any))
	}
	opsBefore, auditBefore := counts()
	b.Do("overview", chromedp.Navigate(url+"/ui/"), chromedp.WaitVisible(css("#h-instances")), chromedp.WaitVisible(css(".runs")))
	shot("17-overview")
	b.Do("a window for the README", chromedp.EmulateViewport(1100, 760), chromedp.Reload(), chromedp.WaitVisible(css(".runs")))
	b.ScreenshotView("overview-window") // docs/console.png
	b.Do("back to a laptop", chromedp.EmulateViewport(1280, 900))
	if got := b.Text("main"); !strings.Contains(got, "my-app") || !strings.Contains(got, "Config version") {
		t.Fatalf("the overview: %s", got)
	}
	b.Do("instance", chromedp.Navigate(url+"/ui/instances/web-1"), chromedp.WaitVisible(css(".runs")))
	shot("18-instance")
	b.Do("operations", chromedp.Navigate(url+"/ui/operations"), chromedp.WaitVisible(css("table")))
	shot("19-operations")
	b.Do("audit", chromedp.Navigate(url+"/ui/audit"), chromedp.WaitVisible(css("table")))
	shot("20-audit")
	b.Do("opensearch", chromedp.Navigate(url+"/ui/instances/web-1/opensearch"), chromedp.WaitVisible(css("#h-deploy")))
	shot("21-opensearch")
	b.Do("app", chromedp.Navigate(url+"/ui/instances/web-1/apps/my-app"), chromedp.WaitVisible(css("#h-logs")))
	if ops, audit := counts(); ops != opsBefore || audit != auditBefore {
		t.Fatalf("reading the console's pages changed something: operations %d -> %d, audit entries %d -> %d", opsBefore, ops, auditBefore, audit)
	}
	b.Do("sign out", chromedp.Click(css(".signout button")), chromedp.WaitVisible(css("#token")))
	if got := consoletest.Value(b, "location", chromedp.Location()); !strings.HasSuffix(got, "/") {
		t.Fatalf("after signing out: %s", got)
	}
	step("done")
	if d := b.Dialogs(); len(d) > 0 {
		t.Errorf("dialogs opened (injected script ran): %q", d)
	}
	if v := b.CSPViolations(); len(v) > 0 {
		t.Errorf("CSP violations: %q", v)
	}
}

// startConsoleSandbox starts a sandbox server for a console test (with
// the stand-ins built at its start when standIns), its hosts removed and
// its log shown when the test fails.
func startConsoleSandbox(t *testing.T, suffix string, standIns bool) (string, func()) {
	t.Helper()
	sandboxtest.RequireDocker(t)
	bin := ""
	if standIns {
		bin = sandboxtest.FountainBinary(t)
	}
	ns, dataDir := sandboxtest.Namespace()+"-"+suffix, t.TempDir()
	t.Cleanup(func() {
		sb, err := sandbox.New(context.Background(), sandbox.Config{DataDir: dataDir, Namespace: ns})
		if err == nil {
			_ = sb.Down(context.Background())
			sb.Close()
		}
	})
	logs := &lockedBuffer{}
	url, stop := startSandboxServer(t, dataDir, ns, func(c *server.Config) {
		c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		c.StandinBinary, c.StandInsAtStart = bin, standIns
	})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return url, stop
}

// consoleStack is a small stack: an instance with nothing on it (no host
// boot to wait for) and a GitHub secret whose value is in the vault.
const consoleStack = `version: 1
region: eu-central-1
instances:
  stack-1: {bundle: nano_3_0, blueprint: ubuntu_24_04, zone: eu-central-1a}
github:
  repositories:
    user/repo:
      secrets: {STACK_KEY: stack-key}
`

// The console's stack page in the sandbox, in Chromium: paste a small
// stack, see its plan with the cost delta (the secret's value nowhere in
// the page), apply it and follow each resource's child operation until it
// succeeds, plan again: nothing to change. A screenshot of each page.
func TestConsoleStack(t *testing.T) {
	url, stop := startConsoleSandbox(t, "cstack", false)
	defer stop()
	const secret = "stack-secret-canary-7d2"
	if status, body := call(t, "PUT", url+"/vault/stack-key", `{"value": "`+secret+`"}`); status != 200 {
		t.Fatalf("vault: %d %v", status, body)
	}
	b := consoletest.New(t, 5*time.Minute)
	b.StepTimeout = 2 * time.Minute // a plan and an apply wait for the sandbox's hosts
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	b.Do("sign in", chromedp.Navigate(url+"/"), chromedp.WaitVisible(css("#token")), chromedp.SendKeys(css("#token"), token),
		chromedp.Submit(css("#token")), chromedp.WaitVisible(css("#h-instances")))

	// Paste the stack and see its plan.
	b.Do("the stack page", chromedp.Click(css(`header nav a[href="/ui/stack"]`)), chromedp.WaitVisible(css("#f-stack")),
		chromedp.SetValue(css("#f-stack"), consoleStack))
	b.Screenshot("22-stack")
	b.Do("plan", chromedp.Click(css(`form[action="/ui/stack/plan"] button[type=submit]`)), chromedp.WaitVisible(css("#apply")))
	b.Screenshot("23-stack-plan")
	b.Do("a window for the docs", chromedp.EmulateViewport(1100, 760), chromedp.ScrollIntoView(css("h1")))
	b.ScreenshotView("stack-plan-window") // docs/console-stack.png
	b.Do("back to a laptop", chromedp.EmulateViewport(1280, 900))
	plan := b.Text("main")
	for _, want := range []string{"Plan: 2 to create", "instance.stack-1", "secret.user/repo/STACK_KEY", "+ create", "$0.00 → $5.00 (+$5.00/month)"} {
		if !strings.Contains(plan, want) {
			t.Errorf("the plan lacks %q: %s", want, plan)
		}
	}
	if html := consoletest.Value(b, "the page", chromedp.OuterHTML(css("html"))); strings.Contains(html, secret) {
		t.Fatal("the secret's value is in the plan's page")
	}

	// Apply: the resources follow their child operations until the end.
	b.Do("apply", chromedp.Click(css("#apply")), chromedp.WaitVisible(css("#h-resources")))
	seen := map[string]bool{}
	for i := 0; i < 3000; i++ {
		if state, err := b.TryText("#log-state"); err == nil && strings.Contains(state, "ended") {
			break
		}
		if got, err := chromedp.Run(b.Ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#resources tbody tr")).map((r) => r.dataset.key + " " + r.dataset.status)`)); err == nil {
			for _, r := range got {
				seen[r] = true
			}
		}
		b.Do("wait", chromedp.Sleep(100*time.Millisecond))
	}
	t.Logf("resources seen while the apply ran: %v", seen)
	waitOperation(t, b, "stack.apply")
	b.Screenshot("24-stack-applied")
	rows := consoletest.Value(b, "rows", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#resources tbody tr")).map((r) => r.dataset.key + " " + r.dataset.status)`))
	if strings.Join(rows, ",") != "instance.stack-1 succeeded,secret.user/repo/STACK_KEY succeeded" {
		t.Fatalf("the resources: %q\n%s", rows, b.Text("main"))
	}
	b.Do("a child", chromedp.Click(css(`#resources a[href^="/ui/operations/op_"]`)), chromedp.WaitVisible(css("#h-steps")))
	if got := b.Text("h1"); !strings.Contains(got, "succeeded") {
		t.Fatalf("the child operation: %s", got)
	}
	if html := consoletest.Value(b, "the page", chromedp.OuterHTML(css("html"))); strings.Contains(html, secret) {
		t.Fatal("the secret's value is in the child operation's page")
	}

	// Planned again: nothing to change.
	b.Do("plan again", chromedp.Navigate(url+"/ui/stack"), chromedp.WaitVisible(css("#f-stack")), chromedp.SetValue(css("#f-stack"), consoleStack),
		chromedp.Click(css(`form[action="/ui/stack/plan"] button[type=submit]`)), chromedp.WaitVisible(css("p.okay")))
	b.Screenshot("25-stack-no-changes")
	if got := b.Text("main"); !strings.Contains(got, "Plan: 0 to create, 0 to update, 0 to replace, 0 to delete; 2 unchanged") {
		t.Fatalf("the plan after the apply: %s", got)
	}
	if d := b.Dialogs(); len(d) > 0 {
		t.Errorf("dialogs opened: %q", d)
	}
	if v := b.CSPViolations(); len(v) > 0 {
		t.Errorf("CSP violations: %q", v)
	}
}

// watchLive checks that the operation's log grows in the page while the
// operation runs: lines come through the event stream, not a reload.
func watchLive(t *testing.T, b *consoletest.Browser) {
	t.Helper()
	count := func() int {
		return consoletest.Value(b, "log lines", chromedp.Evaluate[int](`document.querySelectorAll("#log span").length`))
	}
	first := count()
	for i := 0; i < 600; i++ {
		state, err := b.TryText("#log-state")
		if err != nil {
			t.Fatalf("the page was left or reloaded before its log was seen growing: %v", err)
		}
		if !strings.HasPrefix(state, "Live") {
			t.Fatalf("the operation ended before its log was seen growing (%d lines at first): %s", first, state)
		}
		if n := count(); n > first+3 {
			return
		}
		b.Do("wait", chromedp.Sleep(100*time.Millisecond))
	}
	t.Fatal("the log did not grow")
}

// waitOperation waits until the operation's page shows it ended (the page
// reloads at the end event), and checks it succeeded.
func waitOperation(t *testing.T, b *consoletest.Browser, kind string) {
	t.Helper()
	for i := 0; i < 3000; i++ {
		// The page reloads at the end: a read may meet it going.
		if state, err := b.TryText("#log-state"); err == nil && strings.Contains(state, "ended") {
			b.Do("the page after the end", chromedp.WaitVisible(chromedp.CSS("#h-steps")))
			if got := b.Text("h1"); !strings.Contains(got, kind) || !strings.Contains(got, "succeeded") {
				t.Fatalf("%s: %s\n%s", kind, got, b.Text("main"))
			}
			return
		}
		b.Do("wait", chromedp.Sleep(100*time.Millisecond))
	}
	t.Fatalf("%s did not end: %s", kind, b.Text("main"))
}

// waitTab waits for the page to be at url and returns its text.
func waitTab(t *testing.T, b *consoletest.Browser, url string) string {
	t.Helper()
	for i := 0; i < 100; i++ {
		if loc := consoletest.Value(b, "location", chromedp.Location()); strings.HasPrefix(loc, url) {
			return b.Text("body")
		}
		b.Do("wait", chromedp.Sleep(100*time.Millisecond))
	}
	t.Fatalf("the browser did not open %s", url)
	return ""
}
