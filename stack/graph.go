package stack

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/fountainai/fountain"
)

// The planner: a stack is a graph of resources, each planned by its
// service from what is observed (observe -> plan), and applied as one
// operation with a child per resource, in dependency order, independent
// branches in parallel.

// Action is what a plan does to one resource, as Terraform says it.
type Action string

// Actions.
const (
	ActionNone      Action = "no-op"     // nothing to change
	ActionCreate    Action = "create"    // it does not exist
	ActionUpdate    Action = "update"    // it exists and changes in place
	ActionReplace   Action = "replace"   // it is replaced (a container swapped)
	ActionDelete    Action = "delete"    // the file says it goes, and deletion is allowed
	ActionUnmanaged Action = "unmanaged" // it exists but the file does not declare it: left alone
)

// Resource is one thing of a stack: how to plan it, and what it needs
// first.
type Resource struct {
	// Key names it uniquely: "instance.web-1", "app.my-app@app-1".
	Key string
	// Kind is instance, load_balancer, opensearch, kong, app, route, secret, workflow.
	Kind string
	// Needs are the keys of the resources it depends on; it is planned
	// as on a fresh host while one of them will be created, and applied
	// after them.
	Needs []string
	// Unmanaged marks what exists but the file does not declare: listed,
	// never changed.
	Unmanaged bool
	// Why, for an unmanaged resource, says what was found.
	Why string
	// Drift, for an unmanaged resource, says how it is a change made
	// outside Fountain to something the file manages (a route added to
	// its gateway by hand), and what Fountain would do about it.
	Drift string
	// Prepare observes the resource and plans it. fresh says that a
	// resource it needs will be created or replaced first, so there is
	// nothing to observe yet: plan as on a new host.
	Prepare func(ctx context.Context, fresh bool) (*Prepared, error)
}

// Prepared is one resource's plan.
type Prepared struct {
	Action Action
	Why    string
	Plan   fountain.Plan
	// Facts is what the plan was made from: its fingerprint makes a saved
	// plan stale once the world changes. Only comparable data goes in.
	Facts any
	// Drift says what changed outside Fountain, when it did (a route
	// added by hand, a container stopped, a secret changed on GitHub).
	Drift string
	// Apply applies Plan as one operation's work: the child operation a
	// stack apply runs for this resource.
	Apply func(ctx context.Context, rec fountain.Recorder) (fountain.Outcome, error)
	// Locks are what the child operation holds.
	Locks []fountain.Lock
	// Secrets are values the child operation masks.
	Secrets []string
	// Call is what the applier makes of it (the API's route calls): opaque
	// here.
	Call any
}

// ResourcePlan is one resource as a stack plan shows it.
type ResourcePlan struct {
	Key         string                 `json:"key" doc:"The resource, e.g. instance.web-1 or app.my-app@app-1."`
	Kind        string                 `json:"kind" doc:"instance, load_balancer, opensearch, kong, app, route, secret or workflow."`
	Action      Action                 `json:"action" enum:"no-op,create,update,replace,delete,unmanaged" doc:"What the plan does to it."`
	Why         string                 `json:"why,omitempty" doc:"Why (or why not)."`
	Drift       string                 `json:"drift,omitempty" doc:"What changed outside Fountain since, and what Fountain would do about it."`
	Needs       []string               `json:"needs,omitempty" doc:"The resources it waits for."`
	Steps       []fountain.PlannedStep `json:"steps,omitempty" doc:"Its plan: each step, whether it would change something, why, the diff and the calls."`
	Monthly     *fountain.CostDelta    `json:"monthly,omitempty" doc:"Its monthly cost before and after, US dollars."`
	Fingerprint string                 `json:"fingerprint,omitempty" doc:"A digest of what was observed: a saved plan is stale once it differs."`
	Error       string                 `json:"error,omitempty" doc:"Why it could not be planned."`
}

// Plan is a stack's plan: every resource's, and the monthly cost before
// and after.
type Plan struct {
	Resources []ResourcePlan     `json:"resources" doc:"Every resource, in the order they would be applied."`
	Monthly   fountain.CostDelta `json:"monthly" doc:"The stack's monthly cost before and after, US dollars."`
	Create    int                `json:"create" doc:"Resources to create."`
	Update    int                `json:"update" doc:"Resources to change in place."`
	Replace   int                `json:"replace" doc:"Resources to replace (a container swapped)."`
	Delete    int                `json:"delete" doc:"Resources to delete (named in remove, with allow_delete)."`
	Unchanged int                `json:"unchanged" doc:"Resources as declared already."`
	Unmanaged int                `json:"unmanaged" doc:"Resources that exist but the file does not declare: left alone."`
	Drift     int                `json:"drift" doc:"Resources changed outside Fountain (unmanaged ones found on what the file manages)."`
	Failed    int                `json:"failed" doc:"Resources that could not be planned (see their error)."`

	prepared map[string]*Prepared
	order    []Resource
}

// Changes reports whether applying the plan would change anything.
func (p *Plan) Changes() bool { return p.Create+p.Update+p.Replace+p.Delete > 0 }

// Summary says it in a line, like Terraform: "Plan: 1 to create, 2 to
// update, 0 to replace, 0 to delete; 3 unchanged, 1 unmanaged."
func (p *Plan) Summary() string {
	s := fmt.Sprintf("Plan: %d to create, %d to update, %d to replace, %d to delete; %d unchanged", p.Create, p.Update, p.Replace, p.Delete, p.Unchanged)
	if p.Unmanaged > 0 {
		s += fmt.Sprintf(", %d unmanaged", p.Unmanaged)
	}
	if p.Drift > 0 {
		s += fmt.Sprintf(" (%d drifted)", p.Drift)
	}
	if p.Failed > 0 {
		s += fmt.Sprintf("; %d could not be planned", p.Failed)
	}
	return s + fmt.Sprintf(". Monthly cost: $%.2f -> $%.2f.", p.Monthly.Before, p.Monthly.After)
}

// order sorts resources so that each comes after what it needs; a cycle
// or a need that names no resource is an error.
func order(rs []Resource) ([]Resource, error) {
	byKey := map[string]Resource{}
	for _, r := range rs {
		if _, dup := byKey[r.Key]; dup {
			return nil, fmt.Errorf("stack: resource %s declared twice", r.Key)
		}
		byKey[r.Key] = r
	}
	keys := make([]string, 0, len(rs))
	for _, r := range rs {
		keys = append(keys, r.Key)
	}
	sort.Strings(keys)
	var out []Resource
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(k string, path []string) error
	visit = func(k string, path []string) error {
		switch state[k] {
		case 2:
			return nil
		case 1:
			return fmt.Errorf("stack: a cycle: %s", strings.Join(append(path, k), " -> "))
		}
		r, ok := byKey[k]
		if !ok {
			return fmt.Errorf("stack: %s needs %s, which the stack does not declare", path[len(path)-1], k)
		}
		state[k] = 1
		needs := slices.Clone(r.Needs)
		sort.Strings(needs)
		for _, n := range needs {
			if err := visit(n, append(path, k)); err != nil {
				return err
			}
		}
		state[k] = 2
		out = append(out, r)
		return nil
	}
	for _, k := range keys {
		if err := visit(k, nil); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Fingerprint is the digest of facts as JSON.
func Fingerprint(facts any) string {
	b, err := json.Marshal(facts)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:12])
}

// MakePlan observes and plans every resource, as many at once as their
// needs allow: a resource is prepared once what it needs is, and as on a
// fresh host when one of them will be created. A resource
// that cannot be planned is in the plan with its error (and what needs it
// fails too); the plan as a whole fails only on a malformed graph.
func MakePlan(ctx context.Context, rs []Resource, parallel int) (*Plan, error) {
	sorted, err := order(rs)
	if err != nil {
		return nil, err
	}
	if parallel < 1 {
		parallel = 8
	}
	p := &Plan{prepared: map[string]*Prepared{}, order: sorted}
	type result struct {
		prep *Prepared
		err  error
	}
	var mu sync.Mutex
	results := map[string]result{}
	done := map[string]chan struct{}{}
	for _, r := range sorted {
		done[r.Key] = make(chan struct{})
	}
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for _, r := range sorted {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(done[r.Key])
			fresh := false
			var failed []string
			for _, n := range r.Needs {
				<-done[n]
				mu.Lock()
				res := results[n]
				mu.Unlock()
				switch {
				case res.err != nil:
					failed = append(failed, n)
				case res.prep != nil && res.prep.Action == ActionCreate:
					// What it needs does not exist yet: nothing to observe.
					// (One replaced exists, before and after: it is observed.)
					fresh = true
				}
			}
			var res result
			switch {
			case len(failed) > 0:
				res.err = fountain.Errorf(fountain.ECONFLICT, "not planned: %s could not be planned", strings.Join(failed, ", "))
			case r.Unmanaged:
				res.prep = &Prepared{Action: ActionUnmanaged, Why: r.Why, Drift: r.Drift}
			default:
				sem <- struct{}{}
				res.prep, res.err = safePrepare(ctx, r, fresh)
				<-sem
			}
			mu.Lock()
			results[r.Key] = res
			mu.Unlock()
		}()
	}
	wg.Wait()
	for _, r := range sorted {
		res := results[r.Key]
		rp := ResourcePlan{Key: r.Key, Kind: r.Kind, Needs: r.Needs}
		if res.err != nil {
			rp.Error = fountain.ErrorMessage(res.err)
			p.Failed++
			p.Resources = append(p.Resources, rp)
			continue
		}
		prep := res.prep
		p.prepared[r.Key] = prep
		rp.Action, rp.Why, rp.Drift = prep.Action, prep.Why, prep.Drift
		rp.Steps = prep.Plan.Steps()
		rp.Monthly = prep.Plan.Monthly
		if prep.Facts != nil {
			rp.Fingerprint = Fingerprint(prep.Facts)
		}
		if m := prep.Plan.Monthly; m != nil {
			p.Monthly.Before += m.Before
			p.Monthly.After += m.After
		}
		switch prep.Action {
		case ActionCreate:
			p.Create++
		case ActionUpdate:
			p.Update++
		case ActionReplace:
			p.Replace++
		case ActionDelete:
			p.Delete++
		case ActionUnmanaged:
			p.Unmanaged++
		default:
			p.Unchanged++
		}
		if prep.Drift != "" {
			p.Drift++
		}
		p.Resources = append(p.Resources, rp)
	}
	return p, nil
}

// safePrepare runs r.Prepare, a panic in it being its error (the server
// goes on).
func safePrepare(ctx context.Context, r Resource, fresh bool) (p *Prepared, err error) {
	defer func() {
		if v := recover(); v != nil {
			p, err = nil, fmt.Errorf("planning %s failed: %v", r.Key, v)
		}
	}()
	return r.Prepare(ctx, fresh)
}

// Join puts plans of resources that need nothing of one another (the
// declared ones, and the unmanaged ones found) into one.
func Join(plans ...*Plan) *Plan {
	out := &Plan{prepared: map[string]*Prepared{}}
	for _, p := range plans {
		out.Resources = append(out.Resources, p.Resources...)
		out.order = append(out.order, p.order...)
		for k, v := range p.prepared {
			out.prepared[k] = v
		}
		out.Monthly.Before += p.Monthly.Before
		out.Monthly.After += p.Monthly.After
		out.Create += p.Create
		out.Update += p.Update
		out.Replace += p.Replace
		out.Delete += p.Delete
		out.Unchanged += p.Unchanged
		out.Unmanaged += p.Unmanaged
		out.Drift += p.Drift
		out.Failed += p.Failed
	}
	return out
}
