package console_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/console/consoletest"
	"github.com/fountainai/fountain/docs"
)

// twoInstances is a stack of two instances: its plan adds $10.00 a month.
const twoInstances = `version: 1
region: eu-central-1
instances:
  web-1: {bundle: nano_3_0, blueprint: ubuntu_24_04, zone: eu-central-1a, ports: ["80", "443"]}
  db-1: {bundle: nano_3_0, blueprint: ubuntu_24_04, zone: eu-central-1a}
`

// The stack page in Chromium against the emulator: paste a stack, see its
// plan and cost, apply it and see each resource's child operation, plan
// again (nothing to change), delete only once the box is ticked and the
// region typed, import what exists; an uploaded file with a hostile name
// and hostile content is shown as text. No script runs but the console's,
// and no page breaks its CSP.
func TestBrowserStack(t *testing.T) {
	e := newEnv(t, envOptions{docs: docs.FS})
	b := consoletest.New(t, 2*time.Minute)
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	b.Do("sign in", chromedp.Navigate(e.url+"/"), chromedp.WaitVisible(css("#token")), chromedp.SendKeys(css("#token"), token),
		chromedp.Submit(css("#token")), chromedp.WaitVisible(css("#h-instances")))

	// Paste a stack and plan it.
	b.Do("the stack page", chromedp.Click(css(`header nav a[href="/ui/stack"]`)), chromedp.WaitVisible(css("#f-stack")))
	b.Do("paste", chromedp.SetValue(css("#f-stack"), twoInstances))
	b.Screenshot("stack-form")
	b.Do("plan", chromedp.Click(css(`form[action="/ui/stack/plan"] button[type=submit]`)), chromedp.WaitVisible(css("#apply")))
	b.Screenshot("stack-plan")
	got := b.Text("main")
	for _, want := range []string{"Plan: 2 to create", "+ create", "instance.db-1", "instance.web-1", "$0.00 → $10.00 (+$10.00/month)", "lightsail:CreateInstances web-1"} {
		if !strings.Contains(got, want) {
			t.Errorf("the plan lacks %q: %s", want, got)
		}
	}

	// Apply: the apply's page lists each resource with its operation.
	b.Do("apply", chromedp.Click(css("#apply")), chromedp.WaitVisible(css("#h-resources")))
	waitEnded(t, b)
	b.Screenshot("stack-applied")
	if got := b.Text("h1"); !strings.Contains(got, "stack.apply") || !strings.Contains(got, "succeeded") {
		t.Fatalf("the apply: %s", got)
	}
	rows := consoletest.Value(b, "rows", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#resources tbody tr")).map((r) => r.dataset.key + " " + r.dataset.status)`))
	if strings.Join(rows, ",") != "instance.db-1 succeeded,instance.web-1 succeeded" {
		t.Fatalf("the resources: %q", rows)
	}
	b.Do("a child", chromedp.Click(css(`#resources a[href^="/ui/operations/op_"]`)), chromedp.WaitVisible(css("#h-steps")))
	if got := b.Text("main"); !strings.Contains(got, "succeeded") || !strings.Contains(got, "Instance db-1 created") {
		t.Fatalf("the child operation: %s", got)
	}

	// Planned again: nothing to change.
	b.Do("plan again", chromedp.Navigate(e.url+"/ui/stack"), chromedp.WaitVisible(css("#f-stack")), chromedp.SetValue(css("#f-stack"), twoInstances),
		chromedp.Click(css(`form[action="/ui/stack/plan"] button[type=submit]`)), chromedp.WaitVisible(css("p.okay")))
	b.Screenshot("stack-plan-no-changes")
	if got := b.Text("main"); !strings.Contains(got, "Nothing to change") || !strings.Contains(got, "2 unchanged") {
		t.Fatalf("the plan after the apply: %s", got)
	}

	// Delete: Apply waits for the box and the region's name.
	remove := "version: 1\nregion: eu-central-1\ninstances:\n  db-1: {bundle: nano_3_0, blueprint: ubuntu_24_04, zone: eu-central-1a}\nremove: {instances: [web-1]}\n"
	b.Do("plan a delete", chromedp.SetValue(css("#f-stack"), remove), chromedp.Click(css("#f-allow_delete")),
		chromedp.Click(css(`form[action="/ui/stack/plan"] button[type=submit]`)), chromedp.WaitVisible(css("#confirm_delete")))
	b.Screenshot("stack-plan-delete")
	disabled := func() bool {
		return consoletest.Value(b, "apply disabled", chromedp.Evaluate[bool](`document.getElementById("apply").disabled`))
	}
	if !disabled() {
		t.Fatal("Apply is enabled before the box is ticked and the region typed")
	}
	b.Do("type the region", chromedp.SendKeys(css("#confirm"), "eu-central-1"))
	if !disabled() {
		t.Fatal("Apply is enabled before the box is ticked")
	}
	b.Do("tick", chromedp.Click(css("#confirm_delete")))
	if disabled() {
		t.Fatal("Apply is disabled with the box ticked and the region typed")
	}
	b.Do("apply the delete", chromedp.Click(css("#apply")), chromedp.WaitVisible(css("#h-resources")))
	waitEnded(t, b)
	if got := b.Text("#resources"); !strings.Contains(got, "− delete") || !strings.Contains(got, "instance.web-1") {
		t.Fatalf("the delete's resources: %s", got)
	}

	// Import: what exists, read-only, to copy.
	b.Do("import", chromedp.Navigate(e.url+"/ui/stack"), chromedp.WaitVisible(css("#h-import")),
		chromedp.Click(css(`form[action="/ui/stack/import"] button[type=submit]`)), chromedp.WaitVisible(css("#f-imported")))
	b.Screenshot("stack-import")
	imported := consoletest.Value(b, "imported", chromedp.Value(css("#f-imported")))
	if !strings.Contains(imported, "db-1:") || strings.Contains(imported, "web-1:") {
		t.Fatalf("the import: %s", imported)
	}
	if ro := consoletest.Value(b, "readonly", chromedp.Evaluate[bool](`document.getElementById("f-imported").readOnly`)); !ro {
		t.Fatal("the imported file is editable")
	}
	b.Do("copy", chromedp.Click(css(`button[data-copy]`)))
	for i := 0; i < 50 && b.Text("#copy-state") == ""; i++ {
		b.Do("wait", chromedp.Sleep(20*time.Millisecond))
	}
	if got := b.Text("#copy-state"); got == "" {
		t.Error("the copy button said nothing")
	}

	// A hostile upload: its name and content are shown as text.
	dir := t.TempDir()
	file := filepath.Join(dir, xss+".yml")
	hostile := "version: 1\nregion: eu-central-1\ninstances:\n  \"" + xss + "\": {bundle: \"" + xss + "\", blueprint: ubuntu_24_04, zone: eu-central-1a}\n"
	if err := os.WriteFile(file, []byte(hostile), 0o644); err != nil {
		t.Fatal(err)
	}
	b.Do("upload", chromedp.Navigate(e.url+"/ui/stack"), chromedp.WaitVisible(css("#f-file")), chromedp.SetUploadFiles(css("#f-file"), []string{file}),
		chromedp.Click(css(`form[action="/ui/stack/plan"] button[type=submit]`)), chromedp.WaitVisible(css(".problem")))
	b.Screenshot("stack-refused")
	if got := b.Text(".problem"); !strings.Contains(got, xss+".yml:4:3") {
		t.Fatalf("the refusal: %s", got)
	}
	if n := consoletest.Value(b, "injected images", chromedp.Evaluate[int](`document.querySelectorAll("main img").length`)); n != 0 {
		t.Fatalf("%d images were injected", n)
	}
	if d := b.Dialogs(); len(d) > 0 {
		t.Errorf("dialogs opened: %q", d)
	}
	if v := b.CSPViolations(); len(v) > 0 {
		t.Errorf("CSP violations: %q", v)
	}
}

// A stack apply's page follows its resources while it runs: a child that
// ends shows so without the page being reloaded.
func TestBrowserStackProgress(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	now := time.Now()
	parent := &fountain.Operation{ID: "op_stackparent", Kind: "stack.apply", Target: "stack eu-central-1", Status: fountain.StatusRunning,
		Request: json.RawMessage(`{"changes": ["create instance.web-1", "create instance.web-2"]}`), CreatedAt: now, StartedAt: &now}
	child := &fountain.Operation{ID: "op_stackchild", Kind: "lightsail.create-instance", Target: "instance.web-1", ParentID: parent.ID,
		Status: fountain.StatusRunning, CreatedAt: now, StartedAt: &now}
	for _, op := range []*fountain.Operation{parent, child} {
		if err := e.db.CreateOperation(ctx, op); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.db.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	b := consoletest.New(t, time.Minute)
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	b.Do("sign in", chromedp.Navigate(e.url+"/"), chromedp.WaitVisible(css("#token")), chromedp.SendKeys(css("#token"), token),
		chromedp.Submit(css("#token")), chromedp.WaitVisible(css("#h-instances")))
	// The operation is not the runner's (its log would end at once, and
	// the page reload): the page's event stream is stubbed out, so that
	// only the list's own polling can show the child's end.
	if _, err := chromedp.Call(b.Ctx, cdppage.AddScriptToEvaluateOnNewDocument, cdppage.AddScriptToEvaluateOnNewDocumentParams{
		Source: `window.EventSource = function () { return { addEventListener() {}, close() {} }; };`}); err != nil {
		t.Fatal(err)
	}
	b.Do("the apply", chromedp.Navigate(e.url+"/ui/operations/"+parent.ID), chromedp.WaitVisible(css("#resources")))
	rows := func() string {
		return strings.Join(consoletest.Value(b, "rows", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#resources tbody tr")).map((r) => r.dataset.key + " " + r.dataset.status)`)), ",")
	}
	if got := rows(); got != "instance.web-1 running,instance.web-2 waiting" {
		t.Fatalf("the resources at first: %s", got)
	}
	consoletest.Value(b, "mark the page", chromedp.Evaluate[bool](`window.notReloaded = true`))
	b.Screenshot("stack-apply-running")
	end := now.Add(time.Second)
	child.Status, child.Message, child.FinishedAt = fountain.StatusSucceeded, "Instance web-1 created in eu-central-1", &end
	if err := e.db.UpdateOperation(ctx, child); err != nil {
		t.Fatal(err)
	}
	if err := e.db.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got := ""
	for i := 0; i < 100; i++ {
		if got = rows(); got == "instance.web-1 succeeded,instance.web-2 waiting" {
			break
		}
		b.Do("wait", chromedp.Sleep(100*time.Millisecond))
	}
	if got != "instance.web-1 succeeded,instance.web-2 waiting" {
		t.Fatalf("the resources did not follow the child: %s", got)
	}
	if same := consoletest.Value(b, "not reloaded", chromedp.Evaluate[bool](`window.notReloaded === true`)); !same {
		t.Fatal("the page was reloaded: the list did not follow by itself")
	}
	if got := b.Text("#resources"); !strings.Contains(got, "Instance web-1 created") {
		t.Fatalf("the child's outcome: %s", got)
	}
}
