package api

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/deploy"
	"github.com/fountainai/fountain/lightsail"
	"github.com/fountainai/fountain/operation"
	"github.com/fountainai/fountain/stack"
)

// A stack is planned and applied through the API's own routes: each
// resource is one or more calls a person could make (create-instance,
// deploy-docker-app, add-kong-route, add-github-secret, ...). Planning
// runs each call as a dry run on a runner that records nothing; applying
// runs the real calls, each resource as a child operation of the apply.
// So nothing in a stack can do what the routes refuse, and every change
// is recorded as the same operation a single call would be.

// stackCall is one route call of a resource.
type stackCall struct {
	route string // the route's operation id, e.g. deploy-docker-app
	body  any    // a pointer to the route's body
	dry   func(bool)
	// after, when set, says the call cannot be dry-run yet (the instance
	// it needs does not exist): the plan says so and applies it.
	after string
}

// StackSecrets reads the vault's named secrets a stack refers to.
type StackSecrets interface {
	StackSecret(ctx context.Context, name string) (string, bool, error)
}

// stackParallel bounds the dry runs (and children) run at once.
const stackParallel = 8

// stackPlanner plans one stack.
type stackPlanner struct {
	s           *Server
	st          *stack.Stack
	allowDelete bool
	dry         *operation.Runner
	mem         *operation.MemStore

	// What exists, read once: instances by name, apps by instance, Kong's
	// routes, secrets by repository[/environment].
	instances map[string]lightsail.Instance
	apps      map[string][]deploy.App
	lbs       map[string]lightsail.LoadBalancer
	routes    map[string]bool
	secrets   map[string]map[string]bool
	mu        sync.Mutex
	// done is closed once discoverHosts is over; discoverErr is its error.
	done        chan struct{}
	discoverErr error
	// turns makes an apply's children that need the same lock wait for
	// one another.
	turns turns
}

// turns are mutexes by lock name, taken in a fixed order (no deadlock).
type turns struct {
	mu sync.Mutex
	m  map[fountain.Lock]*sync.Mutex
}

// take waits for every lock's turn and returns what ends them.
func (t *turns) take(locks []fountain.Lock) func() {
	sorted := slices.Clone(locks)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	var held []*sync.Mutex
	for _, l := range sorted {
		t.mu.Lock()
		if t.m == nil {
			t.m = map[fountain.Lock]*sync.Mutex{}
		}
		m, ok := t.m[l]
		if !ok {
			m = &sync.Mutex{}
			t.m[l] = m
		}
		t.mu.Unlock()
		m.Lock()
		held = append(held, m)
	}
	return func() {
		for _, m := range held {
			m.Unlock()
		}
	}
}

func (s *Server) newStackPlanner(st *stack.Stack, allowDelete bool) *stackPlanner {
	mem := operation.NewMemStore()
	return &stackPlanner{s: s, st: st, allowDelete: allowDelete, dry: operation.New(mem, s.deps.Logger), mem: mem}
}

// dryRun runs one call as a dry run that leaves no record, and returns its
// operation (steps, result) once it ended.
func (p *stackPlanner) dryRun(ctx context.Context, c stackCall) (*fountain.Operation, error) {
	c.dry(true)
	defer c.dry(false)
	spec, fn, err := p.s.prepared(noAudit(ctx), c.route, c.body)
	if err != nil {
		return nil, err
	}
	spec.DryRun = true
	// Dry runs read; they exclude nothing (two on one host plan at once).
	spec.Locks = []fountain.Lock{fountain.Lock("dry-run:" + operation.NewID())}
	op, err := p.dry.Start(ctx, spec, fn)
	if err != nil {
		return nil, err
	}
	// A plan given up (its caller gone) stops its dry runs too.
	stop := context.AfterFunc(ctx, func() { _, _ = p.dry.Cancel(context.WithoutCancel(ctx), op.ID) })
	defer stop()
	final, err := p.dry.Wait(context.WithoutCancel(ctx), op.ID)
	p.mem.Forget(op.ID)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return final, err
}

// prepareCalls is a resource's Prepare: each call dry-run (or, with an
// after, planned as a step that runs once what it needs exists), the
// steps gathered into one plan, the action named by classify.
func (p *stackPlanner) prepareCalls(key string, calls func() []stackCall, classify func(steps []fountain.Step, fresh bool) (stack.Action, string)) func(ctx context.Context, fresh bool) (*stack.Prepared, error) {
	return func(ctx context.Context, fresh bool) (*stack.Prepared, error) {
		cs := calls()
		prep := &stack.Prepared{Call: cs}
		var all []fountain.Step
		var facts []any
		for _, c := range cs {
			if fresh || c.after != "" {
				// Not dry-run yet (its host does not exist): refused now if
				// the call itself would be, before anything is created.
				if err := p.check(c); err != nil {
					return nil, err
				}
				why := c.after
				if why == "" {
					why = "once what it needs exists"
				}
				prep.Plan.Add(fountain.Change{Name: c.route + " " + key, Change: true, Reason: why})
				all = append(all, fountain.Step{Name: c.route, Status: fountain.StepWouldChange, Reason: why})
				continue
			}
			op, err := p.dryRun(ctx, c)
			if err != nil {
				return nil, err
			}
			if op.Status != fountain.StatusSucceeded {
				return nil, &fountain.Error{Code: orCode(op.ErrorCode), Message: op.Error, Hint: op.ErrorHint}
			}
			for _, st := range op.Steps {
				prep.Plan.Add(changeOf(st))
				facts = append(facts, st.Name, st.Status, st.Reason, stepDiff(st))
			}
			all = append(all, op.Steps...)
			if m := monthlyOf(op.Result); m != nil {
				if prep.Plan.Monthly == nil {
					prep.Plan.Monthly = &fountain.CostDelta{}
				}
				prep.Plan.Monthly.Before += m.Before
				prep.Plan.Monthly.After += m.After
			}
		}
		if !fresh {
			prep.Facts = facts
		}
		prep.Action, prep.Why = classify(all, fresh)
		if prep.Action != stack.ActionNone && prep.Action != stack.ActionCreate {
			prep.Drift = drifted(all)
		}
		return prep, nil
	}
}

// check validates a call's body without I/O, as its route will: its own
// rules, and the server's policy (host binds, addresses).
func (p *stackPlanner) check(c stackCall) error {
	if v, ok := c.body.(interface{ Validate() error }); ok {
		if err := v.Validate(); err != nil {
			return err
		}
	}
	if a, ok := c.body.(interface{ Admit(deploy.Policy) error }); ok && p.s.deps.Deploy != nil {
		if err := a.Admit(p.s.deps.Deploy.Policy()); err != nil {
			return err
		}
	}
	return nil
}

func orCode(c string) string {
	if c == "" {
		return fountain.EUPSTREAM
	}
	return c
}

// changeOf is a dry run's recorded step as a plan's change.
func changeOf(st fountain.Step) fountain.Change {
	c := fountain.Change{Name: st.Name, Reason: st.Reason}
	switch st.Status {
	case fountain.StepWouldChange:
		c.Change, c.Diff = true, st.Output
	case fountain.StepSkipped:
		c.Verify = true
	}
	return c
}

// stepDiff is what a step would change, for a fingerprint.
func stepDiff(st fountain.Step) string {
	if st.Status == fountain.StepWouldChange {
		return st.Output
	}
	return ""
}

// monthlyOf finds a Lightsail answer's monthly cost in a result.
func monthlyOf(raw json.RawMessage) *fountain.CostDelta {
	var r struct {
		Monthly *fountain.CostDelta `json:"monthly"`
	}
	if len(raw) == 0 || json.Unmarshal(raw, &r) != nil {
		return nil
	}
	return r.Monthly
}

// outside are what the services' reasons say when what they find was
// changed outside Fountain: a container stopped, a secret changed or
// deleted on GitHub, a gateway running a config Fountain did not write.
var outside = []string{"it is not running", "deleted on GitHub since", "changed outside Fountain", "has no version of"}

// drifted says what a declared resource's plan undoes of a change made
// outside Fountain, or "".
func drifted(steps []fountain.Step) string {
	for _, st := range steps {
		if st.Status != fountain.StepWouldChange {
			continue
		}
		for _, o := range outside {
			if strings.Contains(st.Reason, o) {
				return "changed outside Fountain (" + st.Name + ": " + st.Reason + "): applying puts it back as declared"
			}
		}
	}
	return ""
}

// changes reports whether steps would change anything, and the first
// reason.
func changes(steps []fountain.Step) (bool, string) {
	for _, s := range steps {
		if s.Status == fountain.StepWouldChange {
			return true, s.Name + ": " + s.Reason
		}
	}
	return false, ""
}

// classifyAs names the action of a resource that exists when exists says
// so: update (or replace) when something would change.
func classifyAs(changed stack.Action, exists func() bool) func([]fountain.Step, bool) (stack.Action, string) {
	return func(steps []fountain.Step, fresh bool) (stack.Action, string) {
		ch, why := changes(steps)
		switch {
		case fresh:
			return stack.ActionCreate, "on a new instance, once it runs"
		case !ch:
			return stack.ActionNone, "as declared"
		case !exists():
			return stack.ActionCreate, why
		}
		return changed, why
	}
}

// resources are the stack's resources, the unmanaged ones found, and what
// the file removes.
func (p *stackPlanner) resources(ctx context.Context) ([]stack.Resource, error) {
	st := p.st
	var rs []stack.Resource
	host := func(inst string) deploy.HostInput { return deploy.HostInput{InstanceName: inst, Region: st.Region} }
	instanceKey := func(name string) string { return "instance." + name }

	for _, name := range sortedKeys(st.Instances) {
		in := st.Instances[name]
		_, exists := p.instances[name]
		rs = append(rs, stack.Resource{Key: instanceKey(name), Kind: "instance",
			Prepare: p.prepareCalls(instanceKey(name), func() []stackCall {
				// Wait for SSH only when something is to run on it.
				create := &lightsail.CreateInstanceInput{InstanceName: name, BlueprintID: in.Blueprint, BundleID: in.Bundle, Region: st.Region,
					AvailabilityZone: in.Zone, StaticIP: in.StaticIP, Tags: in.Tags, Wait: hostsSomething(st, name)}
				calls := []stackCall{{route: "create-instance", body: create, dry: func(d bool) { create.DryRun = d }}}
				for _, port := range in.Ports {
					fp, err := stack.ParseFirewallPort(port)
					if err != nil {
						continue // Validate refused it already
					}
					pi := &lightsail.PortsInput{InstanceName: name, Region: st.Region, FromPort: fp.From, ToPort: fp.To, Protocol: fp.Protocol}
					c := stackCall{route: "open-ports", body: pi, dry: func(d bool) { pi.DryRun = d }}
					if !exists {
						c.after = "once instance " + name + " exists"
					}
					calls = append(calls, c)
				}
				if c, ok := autoSnapshotCall(name, in, st.Region, exists); ok {
					calls = append(calls, c)
				}
				return calls
			}, func(steps []fountain.Step, fresh bool) (stack.Action, string) {
				ch, why := changes(steps)
				switch {
				case !exists:
					return stack.ActionCreate, "no instance named " + name
				case ch:
					return stack.ActionUpdate, why
				}
				return stack.ActionNone, "as declared"
			})})
	}
	if o := st.OpenSearch; o != nil {
		// A cluster is one resource: one deploy-opensearch naming every node.
		key := "opensearch@" + strings.Join(o.Hosts(), ",")
		var needs []string
		for _, inst := range o.Hosts() {
			needs = append(needs, instanceKey(inst))
		}
		rs = append(rs, stack.Resource{Key: key, Kind: "opensearch", Needs: needs,
			Prepare: func(ctx context.Context, fresh bool) (*stack.Prepared, error) {
				in := &deploy.OpenSearchInput{HostInput: host(o.Instance), Version: o.Version, NetworkHost: o.NetworkHost, ClusterName: o.ClusterName, HeapMB: o.HeapMB}
				if len(o.Instances) > 0 {
					in.HostInput, in.ClusterName = deploy.HostInput{Region: st.Region}, ""
					in.Cluster = &deploy.OpenSearchClusterInput{Name: o.ClusterName, InstanceNames: o.Instances}
					if in.Cluster.Name == "" {
						in.Cluster.Name = "fountain"
					}
				}
				if o.AdminPassword != "" {
					pw, err := p.vault(ctx, o.AdminPassword)
					if err != nil {
						return nil, err
					}
					in.AdminPassword = pw
				}
				return p.prepareCalls(key, func() []stackCall {
					return []stackCall{{route: "deploy-opensearch", body: in, dry: func(d bool) { in.DryRun = d }}}
				}, func(steps []fountain.Step, fresh bool) (stack.Action, string) {
					ch, why := changes(steps)
					switch {
					case fresh:
						return stack.ActionCreate, "on a new instance, once it runs"
					case !ch:
						return stack.ActionNone, "as declared"
					case slices.ContainsFunc(steps, func(s fountain.Step) bool {
						return s.Status == fountain.StepWouldChange && strings.Contains(s.Reason, "not installed")
					}):
						return stack.ActionCreate, why
					}
					return stack.ActionUpdate, why
				})(ctx, fresh)
			}})
	}
	if k := st.Kong; k != nil {
		// Kong on several instances is one gateway: one resource, each
		// call naming every node.
		gw, nodes := kongHost(st)
		key := "kong@" + strings.Join(k.Hosts(), ",")
		var needs []string
		for _, inst := range k.Hosts() {
			needs = append(needs, instanceKey(inst))
		}
		rs = append(rs, stack.Resource{Key: key, Kind: "kong", Needs: needs,
			Prepare: p.prepareCalls(key, func() []stackCall {
				in := &deploy.KongInput{HostInput: gw, NodesInput: nodes, Image: k.Image, ProxyPort: k.ProxyPort, ProxyTLSPort: k.ProxyTLSPort}
				return []stackCall{{route: "deploy-kong", body: in, dry: func(d bool) { in.DryRun = d }}}
			}, classifyAs(stack.ActionUpdate, func() bool { return p.hasApp(k.Hosts()[0], deploy.KongContainer) }))})
		for _, name := range sortedKeys(k.Routes) {
			r := k.Routes[name]
			needs := []string{key}
			in := &deploy.KongRouteInput{HostInput: gw, NodesInput: nodes, Name: name, UpstreamURL: r.UpstreamURL, Paths: r.Paths, Hosts: r.Hosts,
				Methods: r.Methods, StripPath: r.StripPath, PreserveHost: r.PreserveHost}
			if r.App != "" {
				app := st.Apps[r.App]
				if len(app.Instances) > 0 {
					needs = append(needs, appKey(r.App, app))
					in.App = &deploy.AppRef{ContainerName: r.App, InstanceName: app.Instances[0], Port: r.Port}
					if len(app.Instances) > 1 {
						in.App.InstanceName, in.App.InstanceNames = "", app.Instances
					}
				}
			}
			rkey := "route." + name
			rs = append(rs, stack.Resource{Key: rkey, Kind: "route", Needs: needs,
				Prepare: p.prepareCalls(rkey, func() []stackCall {
					return []stackCall{{route: "add-kong-route", body: in, dry: func(d bool) { in.DryRun = d }}}
				}, classifyAs(stack.ActionUpdate, func() bool { return p.hasRoute(name) }))})
		}
	}
	for _, name := range sortedKeys(st.Apps) {
		app := st.Apps[name]
		// An app on several instances is one rollout (one child
		// operation); one behind the stack's Kong without fixed ports
		// names its gateway, so that its deploys drop no request.
		key := appKey(name, app)
		var needs []string
		for _, inst := range app.Instances {
			needs = append(needs, instanceKey(inst))
		}
		var gateway *deploy.GatewayRef
		if routed(st, name) && app.Ports == nil {
			gateway = &deploy.GatewayRef{InstanceName: st.Kong.Instance, InstanceNames: st.Kong.Instances}
			needs = append(needs, "kong@"+strings.Join(st.Kong.Hosts(), ","))
		}
		rs = append(rs, stack.Resource{Key: key, Kind: "app", Needs: needs,
			Prepare: func(ctx context.Context, fresh bool) (*stack.Prepared, error) {
				in := &deploy.DockerAppInput{HostInput: host(app.Instances[0]), DockerImage: app.Image, ContainerName: name, Ports: app.Ports,
					Env: app.Env, Volumes: app.Volumes, RestartPolicy: app.RestartPolicy, HealthCheck: app.HealthCheck, Gateway: gateway}
				if len(app.Instances) > 1 {
					in.InstanceName, in.InstanceNames = "", app.Instances
				}
				if app.Ports == nil {
					in.Ports = nil
				}
				if len(app.SecretEnv) > 0 {
					in.SecretEnv = map[string]string{}
					for env, vname := range app.SecretEnv {
						v, err := p.vault(ctx, vname)
						if err != nil {
							return nil, err
						}
						in.SecretEnv[env] = v
					}
				}
				prep, err := p.prepareCalls(key, func() []stackCall {
					return []stackCall{{route: "deploy-docker-app", body: in, dry: func(d bool) { in.DryRun = d }}}
				}, classifyAs(stack.ActionReplace, func() bool { return p.hasAppOnAll(app.Instances, name) }))(ctx, fresh)
				if prep != nil {
					prep.Secrets = in.Secrets()
				}
				return prep, err
			}})
	}
	p.loadBalancerResources(&rs)
	if gh := st.GitHub; gh != nil {
		for _, repo := range sortedKeys(gh.Repositories) {
			r := gh.Repositories[repo]
			p.secretResources(&rs, repo, "", r.Secrets)
			for _, env := range sortedKeys(r.Environments) {
				p.secretResources(&rs, repo, env, r.Environments[env].Secrets)
			}
			if w := r.Workflow; w != nil {
				key := "workflow." + repo
				in := &InstallWorkflowInput{RepoName: repo, Workflow: w.WorkflowSpec, Path: w.Path, TargetBranch: w.TargetBranch}
				rs = append(rs, stack.Resource{Key: key, Kind: "workflow",
					Prepare: p.prepareCalls(key, func() []stackCall {
						return []stackCall{{route: "install-github-workflow", body: in, dry: func(d bool) { in.DryRun = d }}}
					}, func(steps []fountain.Step, fresh bool) (stack.Action, string) {
						if ch, why := changes(steps); ch {
							if strings.Contains(why, "no file") || strings.Contains(why, "not there") {
								return stack.ActionCreate, why
							}
							return stack.ActionUpdate, why
						}
						return stack.ActionNone, "as declared"
					})})
			}
		}
	}
	return rs, nil
}

// secretResources adds the resources of a repository's (or
// environment's) secrets, and the unmanaged ones found there.
func (p *stackPlanner) secretResources(rs *[]stack.Resource, repo, env string, secrets map[string]string) {
	place := secretPlace(repo, env)
	for _, name := range sortedKeys(secrets) {
		vname := secrets[name]
		key := "secret." + place + "/" + strings.ToUpper(name)
		upper := strings.ToUpper(name)
		*rs = append(*rs, stack.Resource{Key: key, Kind: "secret",
			Prepare: func(ctx context.Context, fresh bool) (*stack.Prepared, error) {
				v, err := p.vault(ctx, vname)
				if err != nil {
					return nil, err
				}
				in := &AddSecretInput{RepoName: repo, Environment: env, SecretName: name, SecretValue: v}
				prep, err := p.prepareCalls(key, func() []stackCall {
					return []stackCall{{route: "add-github-secret", body: in, dry: func(d bool) { in.DryRun = d }}}
				}, classifyAs(stack.ActionUpdate, func() bool { return p.hasSecret(place, upper) }))(ctx, fresh)
				if prep != nil {
					prep.Secrets = []string{v}
				}
				return prep, err
			}})
	}
}

// vault reads a named secret the stack refers to.
func (p *stackPlanner) vault(ctx context.Context, name string) (string, error) {
	v, ok := p.s.deps.Vault.(StackSecrets)
	if !ok || p.s.deps.Vault == nil {
		return "", fountain.Errorf(fountain.EUNAVAILABLE, "no vault is configured for the secrets this stack refers to")
	}
	value, found, err := v.StackSecret(ctx, name)
	if err != nil {
		return "", err
	}
	if !found {
		return "", &fountain.Error{Code: fountain.EINVALID, Message: "the vault has no secret named " + name,
			Hint: "set it: fountain vault set " + name + " (the value from stdin)"}
	}
	return value, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// plan makes the stack's plan: the region's instances read first; the
// declared resources planned (their dry runs in parallel) while what runs
// on the stack's instances, Kong's routes and the repositories' secrets
// are discovered; then what discovery found that the file does not
// declare, listed as unmanaged. What the file removes is planned once
// discovery says it exists. The plan's reads of one host (what runs there,
// each app's dry run, Kong's config) share one SSH connection.
func (p *stackPlanner) plan(ctx context.Context) (*stack.Plan, error) {
	ctx, closeConns := deploy.ShareConnections(ctx)
	defer closeConns()
	if err := p.discoverInstances(ctx); err != nil {
		return nil, err
	}
	go p.discoverHosts(ctx)
	rs, err := p.resources(ctx)
	if err != nil {
		return nil, err
	}
	if p.st.Remove != nil {
		if err := p.wait(ctx); err != nil {
			return nil, err
		}
		p.removals(&rs)
	}
	declared, err := stack.MakePlan(ctx, rs, stackParallel)
	if err != nil {
		return nil, err
	}
	if err := p.wait(ctx); err != nil {
		return nil, err
	}
	found, err := stack.MakePlan(ctx, p.found(), stackParallel)
	if err != nil {
		return nil, err
	}
	return stack.Join(declared, found), nil
}

// child applies one resource's calls as a child operation of run: each
// call prepared for real (the host resolved now: it may have just been
// created), in one operation holding every lock they need.
func (p *stackPlanner) child(run *operation.Run) stack.ChildFunc {
	return func(ctx context.Context, key string, prep *stack.Prepared) (*fountain.Operation, error) {
		calls, _ := prep.Call.([]stackCall)
		type prepared struct {
			spec operation.Spec
			fn   operation.Func
		}
		var ps []prepared
		spec := operation.Spec{Kind: "stack.resource", Target: key, Request: map[string]string{"resource": key}}
		for _, c := range calls {
			c.dry(false)
			sp, fn, err := p.s.prepared(noAudit(ctx), c.route, c.body)
			if err != nil {
				return nil, err
			}
			ps = append(ps, prepared{sp, fn})
			spec.Locks = append(spec.Locks, sp.Locks...)
			spec.Secrets = append(spec.Secrets, sp.Secrets...)
			if len(calls) == 1 {
				spec.Kind, spec.Request = sp.Kind, sp.Request
			}
		}
		spec.Secrets = append(spec.Secrets, prep.Secrets...)
		// Resources on one host (two routes on one Kong, Kong and an app on
		// one instance) need each other's locks: they take turns here
		// rather than refuse each other (409).
		unlock := p.turns.take(spec.Locks)
		defer unlock()
		return run.Child(ctx, spec, func(ctx context.Context, r *operation.Run) (operation.Outcome, error) {
			var msgs []string
			var last operation.Outcome
			for _, pp := range ps {
				out, err := pp.fn(ctx, r)
				if err != nil {
					return out, err
				}
				msgs, last = append(msgs, out.Message), out
			}
			if len(ps) > 1 {
				last.Message = strings.Join(msgs, "; ")
			}
			return last, nil
		})
	}
}

// noAudit is ctx without the request's audit record: a stack's calls
// run in parallel, and must not each set the request's audit target.
func noAudit(ctx context.Context) context.Context {
	return context.WithValue(ctx, auditKey{}, nil)
}

// stackExit is fountain plan's exit code, as Terraform's
// -detailed-exitcode: 0 no changes, 2 changes, 1 errors.
func stackExit(p *stack.Plan) int {
	switch {
	case p.Failed > 0:
		return 1
	case p.Changes():
		return 2
	}
	return 0
}
