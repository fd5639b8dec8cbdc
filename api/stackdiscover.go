package api

// The stack planner's discovery: what exists in the region and on the
// stack's hosts (instances, load balancers, apps, Kong's routes, GitHub
// secrets), what of it the file does not declare (unmanaged), and what
// the file removes.

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/deploy"
	"github.com/fountainai/fountain/lightsail"
	"github.com/fountainai/fountain/stack"
)

// discoverInstances reads the region's instances.
func (p *stackPlanner) discoverInstances(ctx context.Context) error {
	list, err := p.s.deps.Lightsail.ListInstances(ctx, p.st.Region)
	if err != nil {
		return err
	}
	p.instances, p.apps, p.routes, p.secrets = map[string]lightsail.Instance{}, map[string][]deploy.App{}, map[string]bool{}, map[string]map[string]bool{}
	for _, in := range list {
		p.instances[in.Name] = in
	}
	if err := p.discoverLoadBalancers(ctx); err != nil {
		return err
	}
	p.done = make(chan struct{})
	return nil
}

// discoverHosts reads what exists that the stack may not declare on what
// it manages: the apps on the instances it runs something on, Kong's
// routes, the secrets of its repositories. It closes p.done when over;
// the plan's dry runs go on meanwhile.
func (p *stackPlanner) discoverHosts(ctx context.Context) error {
	defer close(p.done)
	var wg sync.WaitGroup
	var firstErr error
	fail := func(err error) {
		p.mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		p.mu.Unlock()
	}
	for name := range p.st.Instances {
		// Only instances the stack runs something on are looked into.
		if in, ok := p.instances[name]; !ok || in.State != "running" || !hostsSomething(p.st, name) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := p.s.listDockerApps(ctx, &HostQuery{InstanceName: name, Region: p.st.Region})
			if fountain.ErrorCode(err) == fountain.ECONFLICT {
				return // no Docker there yet: no apps
			}
			if err != nil {
				fail(fmt.Errorf("list the apps on %s: %w", name, err))
				return
			}
			p.mu.Lock()
			p.apps[name] = out.Body.Apps
			p.mu.Unlock()
		}()
	}
	if k := p.st.Kong; k != nil && len(k.Hosts()) > 0 {
		if in, ok := p.instances[k.Hosts()[0]]; ok && in.State == "running" {
			wg.Add(1)
			go func() {
				defer wg.Done()
				out, err := p.s.getKongConfig(ctx, kongQuery(p.st))
				if err != nil {
					// No Kong there yet: no routes.
					return
				}
				p.mu.Lock()
				for _, r := range out.Body.Routes {
					name := r.Service
					if name == "" {
						name = r.Name
					}
					p.routes[name] = true
				}
				p.mu.Unlock()
			}()
		}
	}
	if gh := p.st.GitHub; gh != nil && p.s.deps.GitHub != nil {
		for repo, r := range gh.Repositories {
			envs := []string{""}
			for env := range r.Environments {
				envs = append(envs, env)
			}
			for _, env := range envs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					out, err := p.s.listSecrets(ctx, &listSecretsInput{RepoName: repo, Environment: env})
					if err != nil {
						if fountain.ErrorCode(err) == fountain.ENOTFOUND {
							return
						}
						fail(fmt.Errorf("list the secrets of %s: %w", repo, err))
						return
					}
					names := map[string]bool{}
					for _, sc := range out.Body.Secrets {
						names[sc.Name] = true
					}
					p.mu.Lock()
					p.secrets[secretPlace(repo, env)] = names
					p.mu.Unlock()
				}()
			}
		}
	}
	wg.Wait()
	p.discoverErr = firstErr
	return firstErr
}

// wait waits until discoverHosts is over.
func (p *stackPlanner) wait(ctx context.Context) error {
	select {
	case <-p.done:
		return p.discoverErr
	case <-ctx.Done():
		return ctx.Err()
	}
}

// hasRoute reports whether Kong has a route of the name (once known).
func (p *stackPlanner) hasRoute(name string) bool {
	<-p.done
	return p.routes[name]
}

// hasSecret reports whether the secret exists on GitHub (once known).
func (p *stackPlanner) hasSecret(place, name string) bool {
	<-p.done
	return p.secrets[place][name]
}

func secretPlace(repo, env string) string {
	repo = strings.ToLower(repo)
	if env == "" {
		return repo
	}
	return repo + "/" + strings.ToLower(env)
}

// found are the resources discovery found that the stack does not
// declare (unmanaged), once discoverHosts is over.
func (p *stackPlanner) found() []stack.Resource {
	st := p.st
	var rs []stack.Resource
	if k := st.Kong; k != nil {
		for _, name := range sortedKeys(p.routes) {
			if _, ok := k.Routes[name]; ok || slices.Contains(removeList(st, "routes"), name) {
				continue
			}
			rs = append(rs, stack.Resource{Key: "route." + name, Kind: "route", Unmanaged: true,
				Why:   "Kong on " + strings.Join(k.Hosts(), ", ") + " has a route " + name + " that the file does not declare",
				Drift: "added to the gateway outside the file: Fountain leaves it (declare it in kong.routes to manage it, or list it in remove.routes and apply with --allow-delete to remove it)"})
		}
	}
	for inst, apps := range p.apps {
		for _, a := range apps {
			if a.Role != "current" || a.ContainerName == deploy.KongContainer {
				continue
			}
			declared := false
			if app, ok := st.Apps[a.ContainerName]; ok && slices.Contains(app.Instances, inst) {
				declared = true
			}
			if declared || slices.Contains(removeList(st, "apps"), a.ContainerName) {
				continue
			}
			rs = append(rs, stack.Resource{Key: "app." + a.ContainerName + "@" + inst, Kind: "app", Unmanaged: true,
				Why:   fmt.Sprintf("%s runs on %s (%s) but the file does not declare it there", a.ContainerName, inst, a.Image),
				Drift: "started on an instance of the file outside it: Fountain leaves it (declare it in apps, or list it in remove.apps)"})
		}
	}
	if gh := st.GitHub; gh != nil {
		for _, repo := range sortedKeys(gh.Repositories) {
			r := gh.Repositories[repo]
			p.unmanagedSecrets(&rs, repo, "", r.Secrets)
			for _, env := range sortedKeys(r.Environments) {
				p.unmanagedSecrets(&rs, repo, env, r.Environments[env].Secrets)
			}
		}
	}
	for _, name := range sortedKeys(p.instances) {
		in := p.instances[name]
		if _, ok := st.Instances[name]; ok || slices.Contains(removeList(st, "instances"), name) {
			continue
		}
		rs = append(rs, stack.Resource{Key: "instance." + name, Kind: "instance", Unmanaged: true,
			Why: fmt.Sprintf("instance %s (%s, %s) exists in %s but the file does not declare it", name, in.BundleID, in.State, st.Region)})
	}
	return append(rs, p.unmanagedLoadBalancers()...)
}

// unmanagedSecrets adds the secrets found in a repository (or
// environment) that the stack does not declare.
func (p *stackPlanner) unmanagedSecrets(rs *[]stack.Resource, repo, env string, secrets map[string]string) {
	place := secretPlace(repo, env)
	found := p.secrets[place]
	for _, name := range sortedKeys(found) {
		if _, ok := secrets[name]; ok || hasFold(secrets, name) {
			continue
		}
		ref := repo + "/" + name
		if env != "" {
			ref = repo + "/" + env + "/" + name
		}
		if slices.ContainsFunc(removeList(p.st, "secrets"), func(s string) bool { return strings.EqualFold(s, ref) }) {
			continue
		}
		*rs = append(*rs, stack.Resource{Key: "secret." + place + "/" + name, Kind: "secret", Unmanaged: true,
			Why:   "the secret " + name + " exists on GitHub but the file does not declare it",
			Drift: "added to a repository of the file outside it: Fountain leaves it (declare it, or list it in remove.secrets)"})
	}
}

func hasFold(m map[string]string, k string) bool {
	for n := range m {
		if strings.EqualFold(n, k) {
			return true
		}
	}
	return false
}

// removals adds what the file removes: a delete, only with allow_delete.
func (p *stackPlanner) removals(rs *[]stack.Resource) {
	st := p.st
	if st.Remove == nil {
		return
	}
	refuse := func(what string) func(context.Context, bool) (*stack.Prepared, error) {
		return func(context.Context, bool) (*stack.Prepared, error) {
			return nil, &fountain.Error{Code: fountain.EINVALID, Message: "the file removes " + what + ": deleting needs allow_delete",
				Hint: "plan and apply with --allow-delete (allow_delete: true) to delete it"}
		}
	}
	deleting := func(key, what string, calls func() []stackCall) stack.Resource {
		r := stack.Resource{Key: key, Kind: strings.SplitN(key, ".", 2)[0]}
		if !p.allowDelete {
			r.Prepare = refuse(what)
			return r
		}
		r.Prepare = p.prepareCalls(key, calls, func(steps []fountain.Step, fresh bool) (stack.Action, string) {
			if ch, why := changes(steps); ch {
				return stack.ActionDelete, why
			}
			return stack.ActionNone, what + " is already gone"
		})
		return r
	}
	for _, name := range st.Remove.Instances {
		if _, ok := p.instances[name]; !ok {
			continue
		}
		in := &lightsail.InstanceInput{InstanceName: name, Region: st.Region, Wait: true}
		*rs = append(*rs, deleting("instance."+name, "instance "+name, func() []stackCall {
			return []stackCall{{route: "delete-instance", body: in, dry: func(d bool) { in.DryRun = d }}}
		}))
	}
	p.removeLoadBalancers(rs, deleting)
	for _, name := range st.Remove.Apps {
		for inst, apps := range p.apps {
			if !slices.ContainsFunc(apps, func(a deploy.App) bool { return a.ContainerName == name }) {
				continue
			}
			in := &deploy.AppInput{HostInput: deploy.HostInput{InstanceName: inst, Region: st.Region}, ContainerName: name}
			*rs = append(*rs, deleting("app."+name+"@"+inst, "app "+name+" on "+inst, func() []stackCall {
				return []stackCall{{route: "remove-docker-app", body: in, dry: func(d bool) { in.DryRun = d }}}
			}))
		}
	}
	for _, name := range st.Remove.Routes {
		if !p.routes[name] || st.Kong == nil {
			continue
		}
		gw, nodes := kongHost(st)
		in := &kongRouteDeletion{HostInput: gw, NodesInput: nodes, Name: name}
		*rs = append(*rs, deleting("route."+name, "route "+name, func() []stackCall {
			return []stackCall{{route: "delete-kong-route", body: in, dry: func(d bool) { in.DryRun = d }}}
		}))
	}
	for _, ref := range st.Remove.Secrets {
		repo, env, name, err := stack.SplitSecretRef(ref)
		if err != nil || !p.secrets[secretPlace(repo, env)][name] {
			continue
		}
		in := &DeleteSecretInput{RepoName: repo, Environment: env, SecretName: name}
		*rs = append(*rs, deleting("secret."+secretPlace(repo, env)+"/"+name, "secret "+ref, func() []stackCall {
			return []stackCall{{route: "delete-github-secret", body: in, dry: func(d bool) { in.DryRun = d }}}
		}))
	}
}

// hostsSomething reports whether OpenSearch, Kong or an app of the stack
// runs on the instance.
func hostsSomething(st *stack.Stack, inst string) bool {
	if o := st.OpenSearch; o != nil && slices.Contains(o.Hosts(), inst) {
		return true
	}
	if k := st.Kong; k != nil && slices.Contains(k.Hosts(), inst) {
		return true
	}
	for _, a := range st.Apps {
		if slices.Contains(a.Instances, inst) {
			return true
		}
	}
	return false
}

func removeList(st *stack.Stack, what string) []string {
	if st.Remove == nil {
		return nil
	}
	switch what {
	case "apps":
		return st.Remove.Apps
	case "routes":
		return st.Remove.Routes
	case "secrets":
		return st.Remove.Secrets
	case "load_balancers":
		return st.Remove.LoadBalancers
	}
	return st.Remove.Instances
}

// hasApp reports whether the app runs on the instance (as discovered).
func (p *stackPlanner) hasApp(inst, name string) bool {
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.ContainsFunc(p.apps[inst], func(a deploy.App) bool { return a.ContainerName == name && a.Role == "current" })
}
