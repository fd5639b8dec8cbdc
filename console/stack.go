package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/fountainai/fountain/stack"
)

// The stack: a stack file (fountain.yml), pasted or uploaded, is planned
// by the API (POST /stack/plan: per resource the action, why, drift, the
// steps that would change with their diffs, the monthly cost before and
// after), kept in the session with the plan's resources, and applied only
// once confirmed (POST /stack/apply with the planned resources as plan:
// the API refuses it as stale if what it observed has changed since).
// The apply is one operation whose children, one per changed resource,
// its page follows.

// maxStack bounds a stack file: the API's own bound.
const maxStack = 1 << 20

// maxStackForm bounds the stack form's body: a pasted stack, an uploaded
// one, and the rest of the form.
const maxStackForm = 2*maxStack + 64<<10

// maxStackPlans bounds the stack plans a session keeps (each holds its
// stack file and its plan).
const maxStackPlans = 3

// stackPending is a stack plan waiting for its confirmation: exactly what
// is sent to apply it.
type stackPending struct {
	Stack       string
	File        string
	AllowDelete bool
	Resources   json.RawMessage // the plan's resources, as the API answered them
	Region      string
	Deletes     int
	View        *stackPlanView // the plan as shown, to show again
}

// stackForm is the stack form's values.
type stackForm struct {
	Stack       string
	File        string
	AllowDelete bool
	Uploaded    bool // the stack came from an uploaded file
}

// stackView is the stack page: the form, and a plan or the API's refusal.
type stackView struct {
	CSRF    string
	Form    stackForm
	Plan    *stackPlanView
	Problem *problem
	Stale   string // what changed since the plan that was refused as stale
}

// stackPlanView is a stack's plan, as the page shows it.
type stackPlanView struct {
	ID        string
	Region    string          `json:"region"`
	Summary   string          `json:"summary"`
	ExitCode  int             `json:"exit_code"`
	Monthly   costDelta       `json:"monthly"`
	Create    int             `json:"create"`
	Update    int             `json:"update"`
	Replace   int             `json:"replace"`
	Delete    int             `json:"delete"`
	Unchanged int             `json:"unchanged"`
	Unmanaged int             `json:"unmanaged"`
	Drift     int             `json:"drift"`
	Failed    int             `json:"failed"`
	Resources []stackResource `json:"resources"`
}

// stackResource is one resource of a stack plan.
type stackResource struct {
	Key     string        `json:"key"`
	Kind    string        `json:"kind"`
	Action  string        `json:"action"`
	Why     string        `json:"why"`
	Drift   string        `json:"drift"`
	Needs   []string      `json:"needs"`
	Steps   []plannedStep `json:"steps"`
	Monthly *costDelta    `json:"monthly"`
	Error   string        `json:"error"`
}

// Changes reports whether applying the plan would change anything.
func (p *stackPlanView) Changes() bool { return p.Create+p.Update+p.Replace+p.Delete > 0 }

// Changing are the resource's steps that would change something.
func (r stackResource) Changing() []plannedStep {
	var out []plannedStep
	for _, s := range r.Steps {
		if s.Change {
			out = append(out, s)
		}
	}
	return out
}

// Unchanged are its steps that change nothing (checks, and what is as
// declared already).
func (r stackResource) Unchanged() []plannedStep {
	var out []plannedStep
	for _, s := range r.Steps {
		if !s.Change {
			out = append(out, s)
		}
	}
	return out
}

// actionMark is an action's mark (Terraform's), word and colour class;
// the class comes from a fixed set, never from the answer.
type actionMark struct{ Mark, Word, Class string }

var actionMarks = map[string]actionMark{
	"create":    {"+", "create", "good"},
	"update":    {"~", "update", "warn"},
	"replace":   {"-/+", "replace", "warn"},
	"delete":    {"−", "delete", "bad"},
	"no-op":     {"=", "no change", "plain"},
	"unmanaged": {"?", "unmanaged", "plain"},
}

// Mark is how the page shows the resource's action.
func (r stackResource) Mark() actionMark {
	if r.Error != "" {
		return actionMark{"!", "not planned", "bad"}
	}
	if m, ok := actionMarks[r.Action]; ok {
		return m
	}
	return actionMark{"?", r.Action, "plain"}
}

// stackPage is the stack form: paste or upload a stack file to plan it,
// or import what exists.
func (c *Console) stackPage(w http.ResponseWriter, r *http.Request, s *session) {
	c.renderStack(w, r, http.StatusOK, &stackView{CSRF: s.csrf})
}

func (c *Console) renderStack(w http.ResponseWriter, r *http.Request, status int, v *stackView) {
	title := "Stack"
	if v.Plan != nil {
		title = "Stack plan"
	}
	c.render(w, r, status, "stack", &page{Title: title, Nav: "stack", Data: v})
}

// readStackForm reads the stack form: an uploaded file, when one is
// given, else the pasted text; each at most 1 MiB.
func readStackForm(r *http.Request) (stackForm, error) {
	f := stackForm{Stack: strings.ReplaceAll(r.PostForm.Get("stack"), "\r\n", "\n"), File: strings.TrimSpace(r.PostForm.Get("file_name")),
		AllowDelete: r.PostForm.Get("allow_delete") != ""}
	if r.MultipartForm != nil {
		if fhs := r.MultipartForm.File["file"]; len(fhs) > 0 && fhs[0].Size > 0 {
			fh := fhs[0]
			if fh.Size > maxStack {
				f.Stack = "" // not shown again
				return f, fmt.Errorf("the file is %d bytes: a stack file is at most %d", fh.Size, maxStack)
			}
			rd, err := fh.Open()
			if err != nil {
				return f, fmt.Errorf("read the uploaded file: %w", err)
			}
			defer rd.Close()
			b, err := io.ReadAll(io.LimitReader(rd, maxStack+1))
			if err != nil {
				return f, fmt.Errorf("read the uploaded file: %w", err)
			}
			if len(b) > maxStack {
				f.Stack = ""
				return f, fmt.Errorf("the file is over %d bytes", maxStack)
			}
			f.Stack, f.File, f.Uploaded = string(b), fh.Filename, true
		}
	}
	f.File = fileName(f.File)
	if n := len(f.Stack); n > maxStack {
		f.Stack = ""
		return f, fmt.Errorf("the stack is %d bytes: a stack file is at most %d", n, maxStack)
	}
	if strings.TrimSpace(f.Stack) == "" {
		return f, errors.New("paste a stack file, or choose one to upload")
	}
	return f, nil
}

// fileName is an uploaded file's name as errors name it: its last
// element, at most 255 bytes of valid UTF-8 (default fountain.yml).
func fileName(name string) string {
	name = path.Base(strings.ReplaceAll(name, `\`, "/"))
	if name == "." || name == ".." || name == "/" || name == "" || !utf8.ValidString(name) {
		return "fountain.yml"
	}
	for len(name) > 255 {
		_, n := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-n]
	}
	return name
}

// stackPlan plans a stack file: the API's plan, shown and kept in the
// session for its confirmation.
func (c *Console) stackPlan(w http.ResponseWriter, r *http.Request, s *session) {
	v := &stackView{CSRF: s.csrf}
	f, err := readStackForm(r)
	v.Form = f
	if err != nil {
		v.Problem = &problem{Status: http.StatusUnprocessableEntity, Title: "Not planned", Detail: err.Error()}
		c.renderStack(w, r, http.StatusUnprocessableEntity, v)
		return
	}
	ans, err := c.api.call(r.Context(), http.MethodPost, "/stack/plan", nil,
		map[string]any{"stack": f.Stack, "file": f.File, "allow_delete": f.AllowDelete}, nil)
	if err != nil {
		c.refuse(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	if ans.status >= 300 {
		v.Problem = stackProblem(ans.problem())
		c.renderStack(w, r, ans.status, v)
		return
	}
	plan, raw, err := readStackPlan(ans.body)
	if err != nil {
		c.refuse(w, r, http.StatusBadGateway, "The API's plan is something the console cannot read.")
		return
	}
	v.Plan = plan
	// Only a plan that can be applied waits for its confirmation.
	if plan.Changes() && plan.Failed == 0 {
		plan.ID = randomToken()
		s.addPlan(plan.ID, &pending{stack: &stackPending{Stack: f.Stack, File: f.File, AllowDelete: f.AllowDelete, Resources: raw,
			Region: plan.Region, Deletes: plan.Delete, View: plan}, expires: c.now().Add(planTTL)}, c.now())
	}
	c.renderStack(w, r, http.StatusOK, v)
}

// stackProblem is a refusal of a stack as the page shows it: the file's
// problems, one a line, each at its line and column, said once.
func stackProblem(p *problem) *problem {
	p.Detail = strings.TrimPrefix(p.Detail, "stack: ")
	var errs []fieldDetail
	for _, e := range p.Errors {
		if !strings.Contains(p.Detail, e.Message) {
			errs = append(errs, e)
		}
	}
	p.Errors = errs
	return p
}

// readStackPlan reads the API's plan: as the page shows it, and its
// resources as they are sent back to apply it.
func readStackPlan(body []byte) (*stackPlanView, json.RawMessage, error) {
	var p stackPlanView
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, nil, fmt.Errorf("read the stack plan: %w", err)
	}
	var raw struct {
		Resources json.RawMessage `json:"resources"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, nil, fmt.Errorf("read the stack plan: %w", err)
	}
	return &p, raw.Resources, nil
}

// stackApply applies a confirmed stack plan: the stack file and the
// resources as planned, so that the API refuses it if what the plan
// observed has changed since. A plan that deletes needs the box ticked
// and the region's name typed.
func (c *Console) stackApply(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PostForm.Get("plan")
	p := s.planOf(id, c.now(), false)
	if p == nil || p.stack == nil {
		c.refuse(w, r, http.StatusConflict, "This stack plan was applied already, or it expired (plans wait 15 minutes): plan the stack again.")
		return
	}
	sp := p.stack
	if sp.Deletes > 0 && (r.PostForm.Get("confirm_delete") == "" || strings.TrimSpace(r.PostForm.Get("confirm")) != sp.Region) {
		c.render(w, r, http.StatusUnprocessableEntity, "stack", &page{Title: "Stack plan", Nav: "stack",
			Notice: fmt.Sprintf("This plan deletes %d resource(s): tick the box and type the region's name, %s, to confirm.", sp.Deletes, sp.Region),
			Data:   &stackView{CSRF: s.csrf, Plan: sp.View, Form: stackForm{Stack: sp.Stack, File: sp.File, AllowDelete: sp.AllowDelete}}})
		return
	}
	if s.planOf(id, c.now(), true) == nil {
		c.refuse(w, r, http.StatusConflict, "This stack plan was applied already.")
		return
	}
	// Only what the stale check needs of each resource (not its diffs).
	var planned []stack.ResourcePlan
	_ = json.Unmarshal(sp.Resources, &planned)
	body := map[string]any{"stack": sp.Stack, "file": sp.File, "allow_delete": sp.AllowDelete, "plan": stack.Saved(planned)}
	ans, err := c.api.call(r.Context(), http.MethodPost, "/stack/apply", nil, body, http.Header{"Prefer": {"respond-async"}})
	if err != nil {
		c.refuse(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	if ans.status >= 300 {
		pr := ans.problem()
		if pr.OperationID != "" {
			http.Redirect(w, r, Prefix+"operations/"+url.PathEscape(pr.OperationID), http.StatusSeeOther)
			return
		}
		v := &stackView{CSRF: s.csrf, Form: stackForm{Stack: sp.Stack, File: sp.File, AllowDelete: sp.AllowDelete}, Problem: stackProblem(pr)}
		// The API names what changed since (any other refusal, a busy
		// stack say, is shown as it comes).
		if what, ok := strings.CutPrefix(pr.Detail, "the saved plan is stale: what it observed has changed since: "); ok && ans.status == http.StatusConflict {
			v.Stale, v.Problem = what, nil
		}
		c.renderStack(w, r, ans.status, v)
		return
	}
	opID := ans.header.Get("Fountain-Operation-Id")
	if opID == "" {
		c.refuse(w, r, http.StatusBadGateway, "The API accepted the stack but named no operation.")
		return
	}
	http.Redirect(w, r, Prefix+"operations/"+url.PathEscape(opID), http.StatusSeeOther)
}

// stackImportView is what exists, as a stack file.
type stackImportView struct {
	CSRF       string
	Region     string
	Repos      string
	Read       bool
	Download   template.URL // the query that downloads it
	Stack      string       `json:"stack"`
	VaultNames []string     `json:"vault_names"`
	Notes      []string     `json:"notes"`
	Err        *problem
}

// stackImport shows what exists as a stack file (GET /stack/import): to
// copy, download, or plan. Reading it changes nothing.
func (c *Console) stackImport(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	v := &stackImportView{CSRF: s.csrf, Region: strings.TrimSpace(q.Get("region")), Repos: strings.TrimSpace(strings.Join(q["repo"], " ")),
		Read: q.Get("read") != ""}
	if !v.Read {
		c.render(w, r, http.StatusOK, "stack_import", &page{Title: "Import", Nav: "stack", Data: v})
		return
	}
	aq := url.Values{}
	if v.Region != "" {
		aq.Set("region", v.Region)
	}
	for _, repo := range list(v.Repos) {
		aq.Add("repo", repo)
	}
	if err := c.api.get(r.Context(), "/stack/import", aq, v); err != nil {
		v.Err = asProblem(err)
		c.render(w, r, v.Err.Status, "stack_import", &page{Title: "Import", Nav: "stack", Data: v})
		return
	}
	dq := url.Values{"read": {"1"}, "download": {"1"}}
	for k, vals := range aq {
		dq[k] = vals
	}
	v.Download = template.URL(dq.Encode())
	if q.Get("download") != "" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="fountain.yml"`)
		_, _ = io.WriteString(w, v.Stack)
		return
	}
	c.render(w, r, http.StatusOK, "stack_import", &page{Title: "Import", Nav: "stack", Data: v})
}

// stackProgress is a stack apply's resources as they go: each change the
// apply makes, its child operation (once started) and how it ended.
type stackProgress struct {
	ParentID  string
	Live      bool
	Resources []stackChild
	Err       *problem
}

type stackChild struct {
	Key, Action string
	Op          *operation // its child operation, once started
	Status      string     // the child's status; waiting, or what the apply said, without one
	Detail      string
}

// Mark is how the page shows the change.
func (c stackChild) Mark() actionMark {
	r := stackResource{Action: c.Action}
	return r.Mark()
}

// stackProgressOf reads a stack apply's children, in the order the apply
// planned its changes (its request's changes: "ACTION KEY").
func (c *Console) stackProgressOf(r *http.Request, op *operation) *stackProgress {
	v := &stackProgress{ParentID: op.ID, Live: op.Live()}
	var req struct {
		Changes []string `json:"changes"`
	}
	_ = json.Unmarshal(op.Request, &req)
	var kids operationList
	if err := c.api.get(r.Context(), "/operations", url.Values{"parent": {op.ID}, "limit": {"1000"}}, &kids); err != nil {
		v.Err = asProblem(err)
	}
	byKey := map[string]*operation{}
	for i := range kids.Operations {
		k := &kids.Operations[i]
		if prev := byKey[k.Target]; prev == nil || k.CreatedAt.After(prev.CreatedAt) {
			byKey[k.Target] = k
		}
	}
	steps := map[string]step{}
	for _, st := range op.Steps {
		steps[st.Name] = st
	}
	seen := map[string]bool{}
	for _, ch := range req.Changes {
		action, key, ok := strings.Cut(ch, " ")
		if !ok {
			continue
		}
		seen[key] = true
		v.Resources = append(v.Resources, childRow(key, action, byKey[key], steps, v.Live))
	}
	// Children the request does not name (none today), after those.
	for _, k := range kids.Operations {
		if !seen[k.Target] {
			seen[k.Target] = true
			v.Resources = append(v.Resources, childRow(k.Target, "", byKey[k.Target], steps, v.Live))
		}
	}
	return v
}

func childRow(key, action string, op *operation, steps map[string]step, live bool) stackChild {
	row := stackChild{Key: key, Action: action, Op: op}
	switch {
	case op != nil:
		row.Status, row.Detail = op.Status, op.Message
		if op.Error != "" {
			row.Detail = op.Error
		}
	case live:
		row.Status = "waiting"
	default:
		// Never started: the apply's step for it says why (skipped).
		st, ok := steps[key]
		row.Status, row.Detail = "not started", "the apply ended first"
		if ok {
			row.Status, row.Detail = st.Status, strings.TrimSpace(st.Reason+" "+st.Error)
		}
	}
	return row
}

// stackResources is a stack apply's progress, as a fragment of its page
// (read again while it runs).
func (c *Console) stackResources(w http.ResponseWriter, r *http.Request, s *session) {
	var op operation
	if err := c.api.get(r.Context(), "/operations/"+url.PathEscape(r.PathValue("id")), nil, &op); err != nil {
		c.renderFragment(w, "problem", asProblem(err))
		return
	}
	c.renderFragment(w, "stackprogress", c.stackProgressOf(r, &op))
}
