package stack

import (
	"maps"
	"slices"

	"github.com/fountainai/fountain/lightsail"
)

// maxLoadBalancerInstances is how many instances a load balancer of the
// file sends to (create-load-balancer's instance_names bound).
const maxLoadBalancerInstances = 10

// loadBalancers checks the load balancers: names, port and health check
// path by Lightsail's rules, and instances declared in the file, each
// once.
func (v *validator) loadBalancers() {
	for _, name := range slices.Sorted(maps.Keys(v.s.LoadBalancers)) {
		lb := v.s.LoadBalancers[name]
		base := join("load_balancers", name)
		v.engine(base, lightsail.ValidateName("name", name), map[string]string{"name": ""})
		if lb.InstancePort < 1 || lb.InstancePort > 65535 {
			v.fail(join(base, "instance_port"), false, "", "%d is not a port (1-65535)", lb.InstancePort)
		}
		if lb.HealthCheckPath != "" {
			v.engine(base, lightsail.ValidateHealthPath("health_check_path", lb.HealthCheckPath), nil)
		}
		if len(lb.Instances) > maxLoadBalancerInstances {
			v.fail(join(base, "instances"), false, "", "has %d items; at most %d", len(lb.Instances), maxLoadBalancerInstances)
		}
		for i, inst := range lb.Instances {
			path := index(join(base, "instances"), i)
			if j := slices.Index(lb.Instances, inst); j < i {
				v.fail(path, false, "", "%s is given twice (also instances[%d])", short(inst), j)
				continue
			}
			v.instanceRef(path, inst)
		}
	}
}

// removeLoadBalancers checks remove.load_balancers: valid names, none
// also declared.
func (v *validator) removeLoadBalancers(names []string) {
	for i, name := range names {
		path := index("remove.load_balancers", i)
		if v.engine(path, lightsail.ValidateName("", name), nil) {
			if _, ok := v.s.LoadBalancers[name]; ok {
				v.fail(path, false, "", "load balancer %s is declared in load_balancers: it cannot also be removed", name)
			}
		}
	}
}
