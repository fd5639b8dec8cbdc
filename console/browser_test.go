package console_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/fountainai/fountain/console/consoletest"
	"github.com/fountainai/fountain/docs"
)

// The console in Chromium against the emulator: sign in, create an
// instance after seeing its plan and cost, follow its operation, delete it
// only once its name is typed, a hostile name rendered as text, the lists,
// sign out. No script runs but the console's, and no page breaks its CSP.
func TestBrowserLightsail(t *testing.T) {
	e := newEnv(t, envOptions{docs: docs.FS})
	b := consoletest.New(t, 2*time.Minute)
	b.Do("open the sign-in page", chromedp.Navigate(e.url+"/"), chromedp.WaitVisible(chromedp.CSS("#token")))
	b.Screenshot("signin")
	b.Do("sign in", chromedp.SendKeys(chromedp.CSS("#token"), token), chromedp.Submit(chromedp.CSS("#token")), chromedp.WaitVisible(chromedp.CSS("#h-instances")))
	b.Screenshot("overview-empty")

	// Create: the form, its plan, then apply.
	b.Do("the new instance form", chromedp.Click(chromedp.CSS(`a[href^="/ui/instances/new"]`)), chromedp.WaitVisible(chromedp.CSS("#f-instance_name")))
	b.Do("fill it", chromedp.SendKeys(chromedp.CSS("#f-instance_name"), "web-1"), chromedp.Submit(chromedp.CSS("#f-instance_name")),
		chromedp.WaitVisible(chromedp.CSS("#apply")))
	b.Screenshot("plan-create-instance")
	if got := b.Text("main"); !strings.Contains(got, "Plan: Create an instance") || !strings.Contains(got, "$0.00 → $5.00") || !strings.Contains(got, "+$5.00/month") {
		t.Fatalf("the plan page: %s", got)
	}
	if ops, _ := e.count(); ops != 1 {
		t.Fatalf("after the plan: %d operations (the dry run only)", ops)
	}
	b.Do("apply", chromedp.Click(chromedp.CSS("#apply")), chromedp.WaitVisible(chromedp.CSS("#h-steps")))
	waitEnded(t, b)
	b.Screenshot("operation-create-instance")
	if got := b.Text("h1"); !strings.Contains(got, "lightsail.create-instance") || !strings.Contains(got, "succeeded") {
		t.Fatalf("the operation: %s", got)
	}

	// The overview: the instance, its cost, the total.
	b.Do("overview", chromedp.Navigate(e.url+"/ui/"), chromedp.WaitVisible(chromedp.CSS("#h-instances")))
	b.Screenshot("overview")
	if got := b.Text("main"); !strings.Contains(got, "web-1") || !strings.Contains(got, "$5.00") {
		t.Fatalf("the overview: %s", got)
	}

	// The keyboard: the first Tab reaches the skip link, the next the
	// navigation; what has focus is outlined.
	b.Do("tab", chromedp.KeyEvent(kb.Tab))
	if got := consoletest.Value(b, "focus", chromedp.Evaluate[string](`document.activeElement.className`)); got != "skip" {
		t.Errorf("the first Tab focuses %q, not the skip link", got)
	}
	b.Do("tab", chromedp.KeyEvent(kb.Tab), chromedp.KeyEvent(kb.Tab))
	if got := consoletest.Value(b, "focus", chromedp.Evaluate[string](`document.activeElement.textContent + " " + getComputedStyle(document.activeElement).outlineStyle`)); got != "Overview solid" {
		t.Errorf("the third Tab focuses %q", got)
	}

	// Readable on a phone.
	b.Do("a phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile), chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#h-instances")))
	b.Screenshot("overview-phone")
	if w := consoletest.Value(b, "page width", chromedp.Evaluate[int](`document.documentElement.scrollWidth`)); w > 390 {
		t.Errorf("the overview is %d px wide on a 390 px phone", w)
	}
	b.Do("a laptop", chromedp.EmulateViewport(1280, 900))

	// Delete: Apply waits for the name.
	b.Do("the instance", chromedp.Navigate(e.url+"/ui/instances/web-1"), chromedp.WaitVisible(chromedp.CSS("#h-facts")))
	b.Screenshot("instance")
	b.Do("delete", chromedp.Click(chromedp.CSS(`form[action="/ui/plan/delete-instance"] button`)), chromedp.WaitVisible(chromedp.CSS("#confirm")))
	b.Screenshot("plan-delete-instance")
	if disabled := consoletest.Value(b, "apply disabled", chromedp.Evaluate[bool](`document.getElementById("apply").disabled`)); !disabled {
		t.Fatal("Apply is enabled before the name is typed")
	}
	b.Do("type the name and apply", chromedp.SendKeys(chromedp.CSS("#confirm"), "web-1"), chromedp.Click(chromedp.CSS("#apply")), chromedp.WaitVisible(chromedp.CSS("#h-steps")))
	waitEnded(t, b)
	if got := b.Text("h1"); !strings.Contains(got, "lightsail.delete-instance") || !strings.Contains(got, "succeeded") {
		t.Fatalf("the delete: %s", got)
	}

	// A hostile name is refused by the API and shown as text.
	const canary = `<img src=x onerror=alert(1)>`
	b.Do("a hostile name", chromedp.Navigate(e.url+"/ui/instances/new"), chromedp.WaitVisible(chromedp.CSS("#f-instance_name")),
		chromedp.SendKeys(chromedp.CSS("#f-instance_name"), canary), chromedp.Submit(chromedp.CSS("#f-instance_name")), chromedp.WaitVisible(chromedp.CSS(".problem")))
	b.Screenshot("form-refused")
	if got := b.Text(".problem"); !strings.Contains(got, "instance_name") {
		t.Fatalf("the refusal: %s", got)
	}
	if n := consoletest.Value(b, "injected images", chromedp.Evaluate[int](`document.querySelectorAll("main img").length`)); n != 0 {
		t.Fatalf("%d images were injected", n)
	}

	// The documentation, from the footer.
	b.Do("docs", chromedp.Click(chromedp.CSS(`footer a[href="/ui/docs/security"]`)), chromedp.WaitVisible(chromedp.CSS("article.doc h1")))
	b.Screenshot("docs-security")
	if got := b.Text("article.doc h1"); got != "Security model" {
		t.Fatalf("the security page: %q", got)
	}
	b.Do("operations", chromedp.Navigate(e.url+"/ui/operations"), chromedp.WaitVisible(chromedp.CSS("table")))
	b.Screenshot("operations")
	b.Do("audit", chromedp.Navigate(e.url+"/ui/audit"), chromedp.WaitVisible(chromedp.CSS("table")))
	b.Screenshot("audit")
	b.Do("sign out", chromedp.Click(chromedp.CSS(".signout button")), chromedp.WaitVisible(chromedp.CSS("#token")))
	if d := b.Dialogs(); len(d) > 0 {
		t.Errorf("dialogs opened: %q", d)
	}
	if v := b.CSPViolations(); len(v) > 0 {
		t.Errorf("CSP violations: %q", v)
	}
}

// waitEnded waits until the operation's page shows it ended (its script
// reloads the page at the end event).
func waitEnded(t *testing.T, b *consoletest.Browser) {
	t.Helper()
	b.Do("the operation ends", chromedp.WaitVisible(chromedp.CSS("#log-state")))
	for i := 0; i < 300; i++ {
		if state, err := b.TryText("#log-state"); err == nil && strings.Contains(state, "ended") {
			b.Do("the page after the end", chromedp.WaitVisible(chromedp.CSS("#h-steps")))
			return
		}
		b.Do("wait", chromedp.Sleep(100*time.Millisecond))
	}
	t.Fatalf("the operation did not end: %s", b.Text("main"))
}
