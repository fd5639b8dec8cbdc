package console_test

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// oneInstance is a stack of one instance with a port to open: its plan
// creates it, at $5.00 a month.
const oneInstance = `version: 1
region: eu-central-1
instances:
  web-1: {bundle: nano_3_0, blueprint: ubuntu_24_04, zone: eu-central-1a, ports: ["80"]}
`

// xss is markup that runs script if it is ever rendered as markup.
const xss = `<img src=x onerror=alert(1)>`

// postStack sends the stack form as the browser does (multipart, as its
// enctype says): the pasted text, and a file when one is given.
func (b *browser) postStack(fields url.Values, fileName string, file []byte, header ...string) page {
	b.e.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, vals := range fields {
		for _, v := range vals {
			_ = mw.WriteField(k, v)
		}
	}
	fw, _ := mw.CreateFormFile("file", fileName)
	_, _ = fw.Write(file)
	_ = mw.Close()
	req, _ := http.NewRequest("POST", b.e.url+"/ui/stack/plan", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Origin", b.origin)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] == "" {
			req.Header.Del(header[i])
		} else {
			req.Header.Set(header[i], header[i+1])
		}
	}
	return b.do(req)
}

// planStack plans a pasted stack and returns the plan's id ("" when the
// page offers no Apply) and the page.
func (b *browser) planStack(csrf, text string, extra ...string) (string, page) {
	b.e.t.Helper()
	f := url.Values{"csrf": {csrf}, "stack": {text}}
	for i := 0; i+1 < len(extra); i += 2 {
		f.Set(extra[i], extra[i+1])
	}
	p := b.postStack(f, "", nil)
	if p.status != 200 {
		b.e.t.Fatalf("plan the stack: %d %s", p.status, mainOf(p.body))
	}
	if m := planField.FindStringSubmatch(p.body); m != nil {
		return m[1], p
	}
	return "", p
}

// mainOf is a page's <main>, for failure messages.
func mainOf(body string) string {
	if i := strings.Index(body, "<main"); i >= 0 {
		body = body[i:]
	}
	if i := strings.Index(body, "</main>"); i >= 0 {
		body = body[:i]
	}
	return body
}

var childLink = regexp.MustCompile(`<a href="/ui/operations/(op_[^"]+)"><code>instance.web-1</code></a>`)

// The stack page: paste (or upload) a stack file, see its plan (per
// resource the action, why, the steps that would change with their
// diffs, the monthly cost before and after), apply it once confirmed,
// follow its children; planned again, nothing changes. Planning records
// no operation.
func TestStackPlanApply(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	csrf := b.signIn()
	p := b.get("/ui/stack")
	if p.status != 200 || !strings.Contains(p.body, `enctype="multipart/form-data"`) || !strings.Contains(p.body, `href="/ui/stack" aria-current="page"`) {
		t.Fatalf("the stack page: %d %s", p.status, mainOf(p.body))
	}

	// Uploaded: the file is planned (not the empty text beside it).
	p = b.postStack(url.Values{"csrf": {csrf}, "stack": {""}}, "prod.yml", []byte(oneInstance))
	if p.status != 200 {
		t.Fatalf("plan an uploaded stack: %d %s", p.status, mainOf(p.body))
	}
	for _, want := range []string{"Plan: 1 to create", `<span aria-hidden="true">&#43;</span> create</span>`, "<code>instance.web-1</code>",
		"no instance named web-1", "$0.00 → <strong>$5.00</strong> (+$5.00/month)", "lightsail:CreateInstances web-1", "Apply this plan",
		`value="prod.yml"`, "The plan of the uploaded file prod.yml"} {
		if !strings.Contains(p.body, want) {
			t.Errorf("the plan lacks %q:\n%s", want, mainOf(p.body))
		}
	}
	if ops, _ := e.count(); ops != 0 {
		t.Fatalf("planning recorded %d operations", ops)
	}
	id := planField.FindStringSubmatch(p.body)[1]

	// Another session cannot apply it; this one applies it once.
	other := e.browser()
	if p := other.post("/ui/stack/apply", url.Values{"csrf": {other.signIn()}, "plan": {id}}); p.status != http.StatusConflict {
		t.Fatalf("another session applies the plan: %d", p.status)
	}
	// A form's plan id is no stack plan, nor the other way round.
	formID, _ := b.plan("create-instance", createForm(csrf, "web-9"))
	if p := b.post("/ui/stack/apply", url.Values{"csrf": {csrf}, "plan": {formID}}); p.status != http.StatusConflict {
		t.Fatalf("a form's plan applied as a stack: %d", p.status)
	}
	if p := b.post("/ui/apply", url.Values{"csrf": {csrf}, "plan": {id}}); p.status != http.StatusConflict {
		t.Fatalf("a stack plan applied as a form's: %d", p.status)
	}
	p = b.post("/ui/stack/apply", url.Values{"csrf": {csrf}, "plan": {id}})
	loc := p.header.Get("Location")
	if p.status != http.StatusSeeOther || !strings.HasPrefix(loc, "/ui/operations/op_") {
		t.Fatalf("apply: %d %s", p.status, mainOf(p.body))
	}
	if p := b.post("/ui/stack/apply", url.Values{"csrf": {csrf}, "plan": {id}}); p.status != http.StatusConflict {
		t.Fatalf("the same plan twice: %d", p.status)
	}
	waitOp(t, b, loc)

	// The apply's page: its resources, each with its child operation.
	p = b.get(loc)
	if !strings.Contains(p.body, "stack.apply") || !strings.Contains(p.body, `id="h-resources"`) {
		t.Fatalf("the apply's page: %s", mainOf(p.body))
	}
	m := childLink.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no child operation of instance.web-1: %s", mainOf(p.body))
	}
	frag := b.get(loc + "/resources")
	if frag.status != 200 || !strings.Contains(frag.body, `data-key="instance.web-1" data-status="succeeded"`) {
		t.Fatalf("the resources fragment: %d %s", frag.status, frag.body)
	}
	if child := b.get("/ui/operations/" + m[1]); !strings.Contains(child.body, "Instance web-1 created") || !strings.Contains(child.body, "succeeded") {
		t.Fatalf("the child operation: %s", mainOf(child.body))
	}

	// Planned again: nothing to change, nothing to apply.
	id, p = b.planStack(csrf, oneInstance)
	if id != "" || !strings.Contains(p.body, "Nothing to change") || !strings.Contains(p.body, "0 to create") {
		t.Fatalf("the plan after the apply: %s", mainOf(p.body))
	}
}

// A saved plan is stale once what it observed has changed: the API
// refuses it, nothing is applied, and the page says so, with the stack
// ready to plan again.
func TestStackStalePlan(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	csrf := b.signIn()
	stale, _ := b.planStack(csrf, oneInstance)
	fresh, _ := b.planStack(csrf, oneInstance)
	p := b.post("/ui/stack/apply", url.Values{"csrf": {csrf}, "plan": {fresh}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("apply: %d %s", p.status, mainOf(p.body))
	}
	waitOp(t, b, p.header.Get("Location"))
	before, _ := e.count()
	p = b.post("/ui/stack/apply", url.Values{"csrf": {csrf}, "plan": {stale}})
	if p.status != http.StatusConflict {
		t.Fatalf("a stale plan: %d %s", p.status, mainOf(p.body))
	}
	for _, want := range []string{"Not applied: the plan is stale", "instance.web-1", "Plan the stack again", "web-1: {bundle: nano_3_0"} {
		if !strings.Contains(p.body, want) {
			t.Errorf("the stale plan's page lacks %q:\n%s", want, mainOf(p.body))
		}
	}
	if after, _ := e.count(); after != before {
		t.Fatalf("a stale plan recorded %d operations", after-before)
	}
}

// Stack changes need the session's CSRF token and the console's origin:
// refused before the API sees them (no operation, no audit entry), the
// multipart form too.
func TestStackNeedsTheCSRFToken(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	csrf := b.signIn()
	cases := []struct {
		name   string
		csrf   string
		header []string
	}{
		{"no token", "", nil},
		{"another session's token", e.browser().signIn(), nil},
		{"from another site", csrf, []string{"Sec-Fetch-Site", "cross-site"}},
		{"from another origin", csrf, []string{"Origin", "https://evil.example", "Sec-Fetch-Site", ""}},
	}
	for _, c := range cases {
		if p := b.postStack(url.Values{"csrf": {c.csrf}, "stack": {oneInstance}}, "", nil, c.header...); p.status != http.StatusForbidden {
			t.Errorf("%s, plan: %d", c.name, p.status)
		}
		if p := b.post("/ui/stack/plan", url.Values{"csrf": {c.csrf}, "stack": {oneInstance}}, c.header...); p.status != http.StatusForbidden {
			t.Errorf("%s, plan (url-encoded): %d", c.name, p.status)
		}
		if p := b.post("/ui/stack/apply", url.Values{"csrf": {c.csrf}, "plan": {"x"}}, c.header...); p.status != http.StatusForbidden {
			t.Errorf("%s, apply: %d", c.name, p.status)
		}
	}
	if p := e.browser().postStack(url.Values{"stack": {oneInstance}}, "", nil); p.status != http.StatusUnauthorized {
		t.Errorf("signed out: %d", p.status)
	}
	if ops, audit := e.count(); ops != 0 || audit != 0 {
		t.Fatalf("refused stack changes reached the API: %d operations, %d audit entries", ops, audit)
	}
}

// Reading the stack pages changes nothing: the form, the import (and its
// download), an apply's resources.
func TestStackGETChangesNothing(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	csrf := b.signIn()
	id, _ := b.planStack(csrf, oneInstance)
	p := b.post("/ui/stack/apply", url.Values{"csrf": {csrf}, "plan": {id}})
	loc := p.header.Get("Location")
	waitOp(t, b, loc)
	ops, audit := e.count()
	for _, path := range []string{"/ui/stack", "/ui/stack/import", "/ui/stack/import?read=1", "/ui/stack/import?read=1&download=1",
		loc, loc + "/resources", "/ui/stack/plan", "/ui/stack/apply?plan=" + id} {
		p := b.get(path)
		if p.status >= 500 {
			t.Errorf("GET %s: %d", path, p.status)
		}
	}
	if o, a := e.count(); o != ops || a != audit {
		t.Fatalf("GETs changed something: operations %d -> %d, audit entries %d -> %d", ops, o, audit, a)
	}
	// The import is what exists, as a stack file: read-only, to copy,
	// download or plan.
	imp := b.get("/ui/stack/import?read=1")
	if !strings.Contains(imp.body, "web-1:") || !strings.Contains(imp.body, `readonly`) || !strings.Contains(imp.body, `data-copy="f-imported"`) {
		t.Fatalf("the import: %s", mainOf(imp.body))
	}
	dl := b.get("/ui/stack/import?read=1&download=1")
	if !strings.Contains(dl.header.Get("Content-Disposition"), "fountain.yml") || !strings.HasPrefix(dl.header.Get("Content-Type"), "text/plain") ||
		!strings.Contains(dl.body, "region: eu-central-1") {
		t.Fatalf("the download: %v %s", dl.header, dl.body)
	}
}

// A stack file is hostile input: what it says shows as text wherever it
// shows (errors that quote its keys and values, the file's name, a
// plan's reasons), never as markup.
func TestStackEscaping(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	csrf := b.signIn()
	hostile := "version: 1\nregion: eu-central-1\ninstances:\n  web-1: {bundle: \"" + xss + "\", blueprint: ubuntu_24_04, zone: eu-central-1a}\n" +
		"  \"" + xss + "\": {bundle: nano_3_0, blueprint: ubuntu_24_04, zone: eu-central-1a}\n"
	pages := map[string]page{
		"pasted":                        b.postStack(url.Values{"csrf": {csrf}, "stack": {hostile}}, "", nil),
		"uploaded, with a hostile name": b.postStack(url.Values{"csrf": {csrf}}, xss+".yml", []byte(hostile)),
		"valid, a hostile tag": b.postStack(url.Values{"csrf": {csrf}, "stack": {"version: 1\nregion: eu-central-1\ninstances:\n" +
			"  web-1: {bundle: nano_3_0, blueprint: ubuntu_24_04, zone: eu-central-1a, tags: {note: \"" + xss + "\"}}\n"}}, "", nil),
	}
	for name, p := range pages {
		if strings.Contains(p.body, xss) || strings.Contains(p.body, "<img") {
			t.Errorf("%s: the canary is markup in the page:\n%s", name, mainOf(p.body))
		}
		if !strings.Contains(p.body, "&lt;img src=x onerror=alert(1)&gt;") {
			t.Errorf("%s: the canary is not shown as text:\n%s", name, mainOf(p.body))
		}
	}
	// The errors quote the file's name, its keys and values: as text.
	errs := regexp.MustCompile(`(?s)<ul class="errors">.*?</ul>`)
	for name, want := range map[string]string{"pasted": "fountain.yml:5:3: instances[&#34;&lt;img src=x onerror=alert(1)&gt;&#34;]",
		"uploaded, with a hostile name": "&lt;img src=x onerror=alert(1)&gt;.yml:5:3: instances[&#34;&lt;img src=x onerror=alert(1)&gt;&#34;]"} {
		p := pages[name]
		if got := errs.FindString(p.body); p.status != http.StatusUnprocessableEntity || !strings.Contains(got, want) {
			t.Errorf("%s: %d, the errors lack %q:\n%s", name, p.status, want, mainOf(p.body))
		}
	}
}

// Deleting needs the file's remove section, Allow deletions, and at the
// confirmation both the box ticked and the region's name typed; a
// confirmation without them is refused and the plan still waits.
func TestStackDeleteConfirmation(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	csrf := b.signIn()
	id, _ := b.planStack(csrf, oneInstance)
	waitOp(t, b, b.post("/ui/stack/apply", url.Values{"csrf": {csrf}, "plan": {id}}).header.Get("Location"))
	remove := "version: 1\nregion: eu-central-1\nremove: {instances: [web-1]}\n"

	// Without Allow deletions the plan fails, and offers no Apply.
	id, p := b.planStack(csrf, remove)
	if id != "" || !strings.Contains(p.body, "deleting needs allow_delete") {
		t.Fatalf("a delete without allow_delete: %s", mainOf(p.body))
	}
	id, p = b.planStack(csrf, remove, "allow_delete", "1")
	for _, want := range []string{`<span aria-hidden="true">−</span> delete</span>`, `data-must-check`, `data-must="eu-central-1"`, `class="danger" id="apply"`,
		`name="allow_delete" type="checkbox" value="1" checked`} {
		if !strings.Contains(p.body, want) {
			t.Errorf("the delete plan lacks %q:\n%s", want, mainOf(p.body))
		}
	}
	for _, f := range []url.Values{{}, {"confirm": {"eu-central-1"}}, {"confirm_delete": {"1"}}, {"confirm_delete": {"1"}, "confirm": {"eu-west-1"}}} {
		f.Set("csrf", csrf)
		f.Set("plan", id)
		if p := b.post("/ui/stack/apply", f); p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "type the region&#39;s name, eu-central-1, to confirm") ||
			!strings.Contains(p.body, `data-must="eu-central-1"`) {
			t.Fatalf("confirmed with %v: %d %s", f, p.status, mainOf(p.body))
		}
	}
	p = b.post("/ui/stack/apply", url.Values{"csrf": {csrf}, "plan": {id}, "confirm_delete": {"1"}, "confirm": {"eu-central-1"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("confirmed: %d %s", p.status, mainOf(p.body))
	}
	waitOp(t, b, p.header.Get("Location"))
	if l := b.get("/ui/"); strings.Contains(l.body, ">web-1<") {
		t.Fatal("the instance was not deleted")
	}
}

// A stack file is at most 1 MiB, pasted or uploaded; an empty form is
// refused before the API.
func TestStackBounds(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	csrf := b.signIn()
	big := oneInstance + "# " + strings.Repeat("x", 1<<20) + "\n"
	if p := b.postStack(url.Values{"csrf": {csrf}}, "big.yml", []byte(big)); p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "at most 1048576") {
		t.Errorf("a big upload: %d %s", p.status, mainOf(p.body))
	}
	if p := b.postStack(url.Values{"csrf": {csrf}, "stack": {big}}, "", nil); p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "at most 1048576") || len(p.body) > 64<<10 {
		t.Errorf("a big paste: %d, %d bytes %s", p.status, len(p.body), mainOf(p.body[:min(len(p.body), 4096)]))
	}
	huge := strings.Repeat("x", 3<<19)
	if p := b.postStack(url.Values{"csrf": {csrf}, "stack": {huge}}, "huge.yml", []byte(huge)); p.status != http.StatusRequestEntityTooLarge {
		t.Errorf("a form over its bound: %d %s", p.status, mainOf(p.body))
	}
	if p := b.postStack(url.Values{"csrf": {csrf}, "stack": {"  \n"}}, "", nil); p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "paste a stack file") {
		t.Errorf("an empty form: %d %s", p.status, mainOf(p.body))
	}
	if _, audit := e.count(); audit != 0 {
		t.Errorf("refused forms reached the API: %d audit entries", audit)
	}
}
