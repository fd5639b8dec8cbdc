package console

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Every change is plan -> confirm -> apply: the form's request is first
// sent with dry_run (the plan: each step, whether it would change and why,
// the diff, the cost), kept in the session, and sent for real only when
// the plan's page is confirmed, exactly as planned. A route without a dry
// run shows what would be sent instead, and says so.

// pending is a plan shown and waiting for its confirmation: a form's
// change (action, req, view), or a stack's.
type pending struct {
	action  *action
	req     *request
	view    *planView
	stack   *stackPending
	expires time.Time
}

// planView is what the plan page shows.
type planView struct {
	ID       string // the pending plan's id, for the confirmation
	Action   *action
	Resource string
	Back     string
	Confirm  string // what to type to confirm, for a destructive change
	// With a dry run: the API's answer.
	Message   string
	Changed   bool
	Operation *operation
	Steps     []plannedStep
	Diff      string
	Monthly   *costDelta
	// Without one: what would be sent.
	NoDryRun bool
	Sent     string
}

// formView is a form shown again after the API (or the form's own
// reading) refused it: the values as typed, secrets left out.
type formView struct {
	Action *action
	CSRF   string
	V      url.Values
	Ctx    map[string]any
	Back   string
	P      *problem // the refusal, for the reasons beside each field
}

// addPlan keeps a plan for its confirmation; the oldest goes when there
// are too many (of stack plans, which hold a whole stack file, fewer).
func (s *session) addPlan(id string, p *pending, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.plans {
		if now.After(v.expires) {
			delete(s.plans, k)
		}
	}
	evictOldest := func(of func(*pending) bool, keep int) {
		for {
			var oldest string
			n := 0
			for k, v := range s.plans {
				if !of(v) {
					continue
				}
				n++
				if oldest == "" || v.expires.Before(s.plans[oldest].expires) {
					oldest = k
				}
			}
			if n < keep {
				return
			}
			delete(s.plans, oldest)
		}
	}
	if p.stack != nil {
		evictOldest(func(v *pending) bool { return v.stack != nil }, maxStackPlans)
	}
	evictOldest(func(*pending) bool { return true }, maxPlans)
	s.plans[id] = p
}

// planOf returns a live plan; take also forgets it (a plan is applied
// once).
func (s *session) planOf(id string, now time.Time, take bool) *pending {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.plans[id]
	if p == nil {
		return nil
	}
	if now.After(p.expires) {
		delete(s.plans, id)
		return nil
	}
	if take {
		delete(s.plans, id)
	}
	return p
}

// send calls the action's route: as a dry run, or for real and at once
// (Prefer: respond-async: the operation's page follows it).
func (c *Console) send(ctx context.Context, a *action, q *request, dry bool) (*answer, error) {
	path := q.Path
	if path == "" {
		path = a.Route
	}
	query := url.Values{}
	for k, v := range q.Query {
		query[k] = v
	}
	var body any
	if q.Body != nil {
		b := make(map[string]any, len(q.Body)+1)
		for k, v := range q.Body {
			b[k] = v
		}
		if dry && !a.DryRunQuery {
			b["dry_run"] = true
		}
		body = b
	}
	if dry && a.DryRunQuery {
		query.Set("dry_run", "true")
	}
	h := http.Header{}
	if !dry {
		h.Set("Prefer", "respond-async")
	}
	return c.api.call(ctx, a.Method, path, query, body, h)
}

// plan shows what a form's change would do.
func (c *Console) plan(w http.ResponseWriter, r *http.Request, s *session) {
	a := c.actions[r.PathValue("action")]
	if a == nil {
		c.refuse(w, r, http.StatusNotFound, "There is no such change.")
		return
	}
	f := r.PostForm
	q, err := a.build(f)
	if err != nil {
		var fe *formError
		if errors.As(err, &fe) {
			c.showForm(w, r, s, a, f, http.StatusUnprocessableEntity, &problem{Status: 422, Detail: fe.Error(),
				Errors: []fieldDetail{{Location: "body." + fe.field, Message: fe.msg}}})
			return
		}
		c.refuse(w, r, http.StatusBadRequest, err.Error())
		return
	}
	v := &planView{ID: randomToken(), Action: a, Resource: q.Resource, Back: q.Back}
	if a.Confirm != "" {
		v.Confirm = q.Resource
	}
	if c.hasDryRun(r.Context(), a.Method, a.Route) {
		ans, err := c.send(r.Context(), a, q, true)
		if err != nil {
			c.refuse(w, r, http.StatusInternalServerError, err.Error())
			return
		}
		if ans.status >= 300 {
			c.showForm(w, r, s, a, f, ans.status, ans.problem())
			return
		}
		var res operationResult
		if err := json.Unmarshal(ans.body, &res); err != nil || res.Operation == nil {
			c.refuse(w, r, http.StatusBadGateway, "The API's dry run answered something the console cannot read.")
			return
		}
		v.Message, v.Changed, v.Operation = res.Message, res.Changed, res.Operation
		var pr planResult
		if len(res.Operation.Result) > 0 {
			_ = json.Unmarshal(res.Operation.Result, &pr)
		}
		v.Steps, v.Diff, v.Monthly = pr.Plan, pr.Diff, pr.Monthly
		if len(v.Steps) == 0 {
			v.Steps = stepsAsPlanned(res.Operation.Steps)
		}
	} else {
		v.NoDryRun = true
	}
	v.Sent = q.describe(a)
	s.addPlan(v.ID, &pending{action: a, req: q, view: v, expires: c.now().Add(planTTL)}, c.now())
	c.render(w, r, http.StatusOK, "plan", &page{Title: "Plan: " + a.Title, Data: v})
}

// describe is the request as the plan shows it: the route, the query and
// the body, secret values hidden.
func (q *request) describe(a *action) string {
	path := q.Path
	if path == "" {
		path = a.Route
	}
	if len(q.Query) > 0 {
		path += "?" + q.Query.Encode()
	}
	out := a.Method + " " + path
	if q.Body != nil {
		b, _ := json.MarshalIndent(q.shown(), "", "  ")
		out += "\n" + string(b)
	}
	return out
}

// stepsAsPlanned reads a dry run's recorded steps as a plan, for routes
// whose result carries none.
func stepsAsPlanned(steps []step) []plannedStep {
	out := make([]plannedStep, 0, len(steps))
	for _, st := range steps {
		p := plannedStep{Name: st.Name, Change: st.Status == "would_change" || st.Status == "changed", Reason: st.Reason}
		if st.Output != "" {
			p.Calls = []string{st.Output}
		}
		if st.Error != "" {
			p.Reason = strings.TrimSpace(p.Reason + " " + st.Error)
		}
		out = append(out, p)
	}
	return out
}

// apply carries out a confirmed plan, exactly as planned, and follows
// its operation.
func (c *Console) apply(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PostForm.Get("plan")
	p := s.planOf(id, c.now(), false)
	if p == nil || p.action == nil {
		c.refuse(w, r, http.StatusConflict, "This plan was applied already, or it expired (plans wait 15 minutes): plan the change again.")
		return
	}
	if p.view.Confirm != "" && strings.TrimSpace(r.PostForm.Get("confirm")) != p.view.Confirm {
		c.render(w, r, http.StatusUnprocessableEntity, "plan", &page{Title: "Plan: " + p.action.Title, Data: p.view,
			Notice: "Type " + p.view.Confirm + " to confirm this change."})
		return
	}
	if s.planOf(id, c.now(), true) == nil {
		c.refuse(w, r, http.StatusConflict, "This plan was applied already.")
		return
	}
	ans, err := c.send(r.Context(), p.action, p.req, false)
	if err != nil {
		c.refuse(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	opID := ans.header.Get("Fountain-Operation-Id")
	if ans.status >= 300 {
		pr := ans.problem()
		if pr.OperationID != "" {
			http.Redirect(w, r, Prefix+"operations/"+url.PathEscape(pr.OperationID), http.StatusSeeOther)
			return
		}
		c.render(w, r, ans.status, "error", &page{Title: "Not applied", Problem: pr,
			Data: map[string]string{"Back": p.req.Back}})
		return
	}
	if opID == "" {
		c.refuse(w, r, http.StatusBadGateway, "The API accepted the change but named no operation.")
		return
	}
	http.Redirect(w, r, Prefix+"operations/"+url.PathEscape(opID), http.StatusSeeOther)
}

// showForm shows a refused form again, with the API's reasons beside its
// fields. Secret values are never sent back to the browser.
func (c *Console) showForm(w http.ResponseWriter, r *http.Request, s *session, a *action, f url.Values, status int, p *problem) {
	v := url.Values{}
	for k, vals := range f {
		if k == "csrf" || k == "secret_value" || strings.HasPrefix(k, "secret_value_") || k == "token" {
			continue
		}
		v[k] = vals
	}
	fv := &formView{Action: a, CSRF: s.csrf, V: v, Ctx: c.formContext(r.Context(), a, v), P: p}
	if q, err := a.build(f); err == nil {
		fv.Back = q.Back
	}
	c.render(w, r, status, "form", &page{Title: a.Title, Problem: p, Data: fv})
}

// formContext is what a form needs besides its values (the catalogue for a
// new instance).
func (c *Console) formContext(ctx context.Context, a *action, v url.Values) map[string]any {
	m := map[string]any{}
	if a.Name == "create-instance" {
		m["Bundles"], m["Blueprints"] = c.catalogue(ctx, v.Get("region"))
	}
	if a.Name == "enable-auto-snapshot" {
		m["Hours"] = hoursOfDay
	}
	return m
}

// catalogue is the region's active bundles and OS blueprints.
func (c *Console) catalogue(ctx context.Context, region string) ([]bundle, []blueprint) {
	q := url.Values{}
	if region != "" {
		q.Set("region", region)
	}
	var b struct {
		Bundles []bundle `json:"bundles"`
	}
	var p struct {
		Blueprints []blueprint `json:"blueprints"`
	}
	_ = c.api.get(ctx, "/aws/lightsail/bundles", q, &b)
	_ = c.api.get(ctx, "/aws/lightsail/blueprints", q, &p)
	var bundles []bundle
	for _, x := range b.Bundles {
		if x.Active {
			bundles = append(bundles, x)
		}
	}
	var blueprints []blueprint
	for _, x := range p.Blueprints {
		if x.Active && x.Type == "os" {
			blueprints = append(blueprints, x)
		}
	}
	return bundles, blueprints
}
