package api

import (
	"context"
	"slices"
	"strings"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/deploy"
	"github.com/fountainai/fountain/operation"
)

// Routes whose request names several hosts (an app's instance_names, a
// gateway's nodes) or a gateway besides its host: every host is resolved
// before the operation starts, and the operation holds them all.

// manyHosts are the hosts of one request, resolved.
type manyHosts struct {
	hosts []*deploy.Host
	gw    *deploy.Nodes
}

// resolveMany resolves hosts and, if gwHosts is not empty, the gateway
// they go behind (its name gwName).
func resolveMany(ctx context.Context, d Deployer, hosts, gwHosts []deploy.HostInput, gwName string) (manyHosts, error) {
	var m manyHosts
	for _, hi := range hosts {
		h, err := d.Resolve(ctx, hi)
		if err != nil {
			return m, err
		}
		if slices.ContainsFunc(m.hosts, func(o *deploy.Host) bool { return o.ID == h.ID }) {
			return m, fountain.Invalid("instance_names", "%s is named twice (%s)", h.Spelling, h.Key())
		}
		m.hosts = append(m.hosts, h)
	}
	if len(gwHosts) > 0 {
		n, err := d.ResolveNodes(ctx, gwHosts, gwName)
		if err != nil {
			return m, err
		}
		m.gw = &n
	}
	return m, nil
}

// locks are every host's and node's.
func (m manyHosts) locks() []fountain.Lock {
	var out []fountain.Lock
	add := func(ls []fountain.Lock) {
		for _, l := range ls {
			if !slices.Contains(out, l) {
				out = append(out, l)
			}
		}
	}
	for _, h := range m.hosts {
		add(h.Locks())
	}
	if m.gw != nil {
		add(m.gw.Locks())
	}
	return out
}

// target names the hosts in the operation's target.
func (m manyHosts) target() string {
	keys := make([]string, len(m.hosts))
	for i, h := range m.hosts {
		keys[i] = h.Key()
	}
	return strings.Join(keys, ",")
}

// identified is fn after a recorded step per host (and node) that says
// which host the request's spelling is.
func (m manyHosts) identified(fn operation.Func) operation.Func {
	all := slices.Clone(m.hosts)
	if m.gw != nil {
		for _, h := range m.gw.Hosts {
			if !slices.ContainsFunc(all, func(o *deploy.Host) bool { return o.ID == h.ID }) {
				all = append(all, h)
			}
		}
	}
	return func(ctx context.Context, run *operation.Run) (operation.Outcome, error) {
		for _, h := range all {
			if err := run.Step(ctx, "identify the host "+h.Spelling, func(context.Context) (fountain.StepResult, error) {
				return fountain.StepResult{Output: h.Resolution + "; known as " + h.Key()}, nil
			}); err != nil {
				return operation.Outcome{}, err
			}
		}
		return fn(ctx, run)
	}
}

// prepareDeployApp is deploy-docker-app's prepare: one host as before,
// or a rollout over instance_names and/or behind a gateway.
func (s *Server) prepareDeployApp() func(ctx context.Context, in *deploy.DockerAppInput) (operation.Spec, operation.Func, error) {
	single := onHost(s, hostRoute[deploy.DockerAppInput]{kind: "deploy.docker-app", target: func(in *deploy.DockerAppInput) string { return "/" + in.ContainerName },
		check: appsReady[deploy.DockerAppInput](s),
		run: func(ctx context.Context, _ Deployer, run *operation.Run, h *deploy.Host, in deploy.DockerAppInput) (fountain.Outcome, error) {
			return s.deps.Apps.Deploy(ctx, run, h, in)
		}})
	return func(ctx context.Context, body *deploy.DockerAppInput) (operation.Spec, operation.Func, error) {
		if len(body.InstanceNames) == 0 && body.Gateway == nil {
			return single(ctx, body)
		}
		d, err := s.deployer()
		if err != nil {
			return operation.Spec{}, nil, err
		}
		if _, err := s.apps(); err != nil {
			return operation.Spec{}, nil, err
		}
		if err := body.Validate(); err != nil {
			return operation.Spec{}, nil, err
		}
		if err := body.Admit(d.Policy()); err != nil {
			return operation.Spec{}, nil, err
		}
		in := *body
		hosts := in.HostInputs()
		if hosts == nil {
			hosts = []deploy.HostInput{in.HostInput}
		}
		gwName := ""
		if in.Gateway != nil {
			gwName = in.Gateway.Name
		}
		setAuditTarget(ctx, strings.Join(append(slices.Clone(in.InstanceNames), in.InstanceIP+in.InstanceName), ",")+"/"+in.ContainerName)
		m, err := resolveMany(ctx, d, hosts, in.GatewayHosts(), gwName)
		if err != nil {
			return operation.Spec{}, nil, err
		}
		spec := operation.Spec{Kind: "deploy.docker-app", Target: m.target() + "/" + in.ContainerName, Locks: m.locks(), Request: in,
			Secrets: append(in.Secrets(), d.Secrets()...), DryRun: in.DryRun}
		return spec, m.identified(func(ctx context.Context, run *operation.Run) (operation.Outcome, error) {
			return s.deps.Apps.Rollout(ctx, run, m.hosts, m.gw, in)
		}), nil
	}
}

// prepareRollbackApp is rollback-docker-app's prepare: behind a gateway,
// the deploy's sequence backwards; else a swap on the host.
func (s *Server) prepareRollbackApp() func(ctx context.Context, in *deploy.AppInput) (operation.Spec, operation.Func, error) {
	single := onHost(s, hostRoute[deploy.AppInput]{kind: "deploy.rollback-docker-app", target: appTarget,
		check: appsReady[deploy.AppInput](s),
		run: func(ctx context.Context, _ Deployer, run *operation.Run, h *deploy.Host, in deploy.AppInput) (fountain.Outcome, error) {
			return s.deps.Apps.Rollback(ctx, run, h, in)
		}})
	return func(ctx context.Context, body *deploy.AppInput) (operation.Spec, operation.Func, error) {
		if body.Gateway == nil {
			return single(ctx, body)
		}
		d, err := s.deployer()
		if err != nil {
			return operation.Spec{}, nil, err
		}
		if _, err := s.apps(); err != nil {
			return operation.Spec{}, nil, err
		}
		if err := body.Validate(); err != nil {
			return operation.Spec{}, nil, err
		}
		if err := body.Admit(d.Policy()); err != nil {
			return operation.Spec{}, nil, err
		}
		in := *body
		setAuditTarget(ctx, in.InstanceIP+in.InstanceName+"/"+in.ContainerName)
		m, err := resolveMany(ctx, d, []deploy.HostInput{in.HostInput}, in.GatewayHosts(), in.Gateway.Name)
		if err != nil {
			return operation.Spec{}, nil, err
		}
		spec := operation.Spec{Kind: "deploy.rollback-docker-app", Target: m.target() + "/" + in.ContainerName, Locks: m.locks(), Request: in,
			Secrets: d.Secrets(), DryRun: in.DryRun}
		return spec, m.identified(func(ctx context.Context, run *operation.Run) (operation.Outcome, error) {
			return s.deps.Apps.RollbackBehindKong(ctx, run, m.hosts[0], *m.gw, in)
		}), nil
	}
}
