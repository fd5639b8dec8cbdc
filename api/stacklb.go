package api

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/lightsail"
	"github.com/fountainai/fountain/stack"
)

// A stack's load balancers are planned through the load balancer routes:
// create-load-balancer (with its instances) for one that does not exist;
// for one that does, update-load-balancer (the health check path, and
// what observes it), attach-instances-to-load-balancer for the file's
// instances not attached and detach-instances-from-load-balancer for
// those attached that the file does not name. Each costs
// lightsail.LoadBalancerMonthly, shown in the plan's cost.

func loadBalancerKey(name string) string { return "load_balancer." + name }

// discoverLoadBalancers reads the region's load balancers.
func (p *stackPlanner) discoverLoadBalancers(ctx context.Context) error {
	list, err := p.s.deps.Lightsail.ListLoadBalancers(ctx, p.st.Region)
	if err != nil {
		return fmt.Errorf("list the load balancers of %s: %w", p.st.Region, err)
	}
	p.lbs = map[string]lightsail.LoadBalancer{}
	for _, lb := range list {
		p.lbs[lb.Name] = lb
	}
	return nil
}

// loadBalancerNeeds are what a load balancer waits for: its instances,
// and what of the file runs on them (Kong, apps), so that it sends
// traffic only to hosts that serve.
func loadBalancerNeeds(st *stack.Stack, lb stack.LoadBalancer) []string {
	var needs []string
	for _, inst := range lb.Instances {
		needs = append(needs, "instance."+inst)
	}
	on := func(hosts []string) bool {
		return slices.ContainsFunc(hosts, func(h string) bool { return slices.Contains(lb.Instances, h) })
	}
	if k := st.Kong; k != nil && on(k.Hosts()) {
		needs = append(needs, "kong@"+strings.Join(k.Hosts(), ","))
	}
	for _, name := range sortedKeys(st.Apps) {
		if app := st.Apps[name]; on(app.Instances) {
			needs = append(needs, appKey(name, app))
		}
	}
	return needs
}

// loadBalancerResources adds the stack's load balancers.
func (p *stackPlanner) loadBalancerResources(rs *[]stack.Resource) {
	st := p.st
	for _, name := range sortedKeys(st.LoadBalancers) {
		lb := st.LoadBalancers[name]
		key := loadBalancerKey(name)
		have, exists := p.lbs[name]
		path := lb.HealthCheckPath
		if path == "" {
			path = "/"
		}
		var attached []string
		for _, in := range have.Instances {
			attached = append(attached, in.Name)
		}
		var missing, extra, absent []string
		for _, inst := range lb.Instances {
			if !slices.Contains(attached, inst) {
				missing = append(missing, inst)
			}
			if _, ok := p.instances[inst]; !ok {
				absent = append(absent, inst)
			}
		}
		for _, inst := range attached {
			if !slices.Contains(lb.Instances, inst) {
				extra = append(extra, inst)
			}
		}
		after := ""
		if len(absent) > 0 {
			after = "once instance(s) " + strings.Join(absent, ", ") + " exist"
		}
		calls := func() []stackCall {
			if !exists {
				in := &lightsail.CreateLoadBalancerInput{LoadBalancerName: name, InstancePort: lb.InstancePort, HealthCheckPath: path,
					InstanceNames: slices.Clone(lb.Instances), Region: st.Region}
				return []stackCall{{route: "create-load-balancer", body: in, dry: func(d bool) { in.DryRun = d }, after: after}}
			}
			up := &lightsail.UpdateLoadBalancerInput{LoadBalancerName: name, HealthCheckPath: path, Region: st.Region}
			cs := []stackCall{{route: "update-load-balancer", body: up, dry: func(d bool) { up.DryRun = d }}}
			if len(missing) > 0 {
				at := &lightsail.LoadBalancerInstancesInput{LoadBalancerName: name, InstanceNames: missing, Region: st.Region}
				cs = append(cs, stackCall{route: "attach-instances-to-load-balancer", body: at, dry: func(d bool) { at.DryRun = d }, after: after})
			}
			if len(extra) > 0 {
				de := &lightsail.LoadBalancerInstancesInput{LoadBalancerName: name, InstanceNames: extra, Region: st.Region}
				cs = append(cs, stackCall{route: "detach-instances-from-load-balancer", body: de, dry: func(d bool) { de.DryRun = d }})
			}
			return cs
		}
		*rs = append(*rs, stack.Resource{Key: key, Kind: "load_balancer", Needs: loadBalancerNeeds(st, lb),
			Prepare: func(ctx context.Context, fresh bool) (*stack.Prepared, error) {
				if exists && have.InstancePort != lb.InstancePort {
					return nil, &fountain.Error{Code: fountain.ECONFLICT,
						Message: fmt.Sprintf("load balancer %s exists in %s forwarding to port %d, not %d", name, st.Region, have.InstancePort, lb.InstancePort),
						Hint: fmt.Sprintf("Lightsail cannot change a load balancer's instance port: declare it with instance_port %d, or declare a new one under another name "+
							"(and delete this one: remove.load_balancers, with --allow-delete)", have.InstancePort)}
				}
				// Its calls need only the instances to exist (and run):
				// what else it waits for (Kong, apps) does not change them.
				prep, err := p.prepareCalls(key, calls, func(steps []fountain.Step, _ bool) (stack.Action, string) {
					ch, why := changes(steps)
					switch {
					case !exists:
						return stack.ActionCreate, "no load balancer named " + name + fmt.Sprintf(" in %s; it adds $%.2f a month", st.Region, lightsail.LoadBalancerMonthly)
					case ch:
						return stack.ActionUpdate, why
					}
					return stack.ActionNone, "as declared"
				})(ctx, false)
				if err != nil {
					return nil, err
				}
				prep.Plan.Monthly = &fountain.CostDelta{After: lightsail.LoadBalancerMonthly}
				if exists {
					prep.Plan.Monthly.Before = lightsail.LoadBalancerMonthly
				}
				if len(extra) > 0 {
					prep.Drift = "instance(s) " + strings.Join(extra, ", ") + " attached outside the file: applying detaches them"
				}
				return prep, nil
			}})
	}
}

// unmanagedLoadBalancers are the region's load balancers the file
// neither declares nor removes.
func (p *stackPlanner) unmanagedLoadBalancers() []stack.Resource {
	var rs []stack.Resource
	for _, name := range sortedKeys(p.lbs) {
		if _, ok := p.st.LoadBalancers[name]; ok || slices.Contains(removeList(p.st, "load_balancers"), name) {
			continue
		}
		lb := p.lbs[name]
		var insts []string
		for _, in := range lb.Instances {
			insts = append(insts, in.Name)
		}
		attached := "no instances"
		if len(insts) > 0 {
			attached = strings.Join(insts, ", ")
		}
		rs = append(rs, stack.Resource{Key: loadBalancerKey(name), Kind: "load_balancer", Unmanaged: true,
			Why: fmt.Sprintf("load balancer %s (port %d, %s) exists in %s but the file does not declare it", name, lb.InstancePort, attached, p.st.Region)})
	}
	return rs
}

// removeLoadBalancers adds the deletes of the load balancers the file
// removes that exist.
func (p *stackPlanner) removeLoadBalancers(rs *[]stack.Resource, deleting func(key, what string, calls func() []stackCall) stack.Resource) {
	for _, name := range p.st.Remove.LoadBalancers {
		if _, ok := p.lbs[name]; !ok {
			continue
		}
		in := &lightsail.LoadBalancerInput{LoadBalancerName: name, Region: p.st.Region}
		*rs = append(*rs, deleting(loadBalancerKey(name), "load balancer "+name, func() []stackCall {
			return []stackCall{{route: "delete-load-balancer", body: in, dry: func(d bool) { in.DryRun = d }}}
		}))
	}
}

// importLoadBalancers adds the region's load balancers to an imported
// stack: port, health check path (left out when the default /) and the
// attached instances.
func (s *Server) importLoadBalancers(ctx context.Context, st *stack.Stack, note func(string, ...any)) error {
	list, err := s.deps.Lightsail.ListLoadBalancers(ctx, st.Region)
	if err != nil {
		return fmt.Errorf("list the load balancers of %s: %w", st.Region, err)
	}
	for _, lb := range list {
		sl := stack.LoadBalancer{InstancePort: lb.InstancePort}
		if lb.HealthCheckPath != "/" {
			sl.HealthCheckPath = lb.HealthCheckPath
		}
		for _, in := range lb.Instances {
			if _, ok := st.Instances[in.Name]; !ok {
				note("load balancer %s: its instance %s is not in the region's instances: left out", lb.Name, in.Name)
				continue
			}
			sl.Instances = append(sl.Instances, in.Name)
		}
		if st.LoadBalancers == nil {
			st.LoadBalancers = map[string]stack.LoadBalancer{}
		}
		st.LoadBalancers[lb.Name] = sl
	}
	return nil
}
