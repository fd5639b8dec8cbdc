package api

import (
	"strings"

	"github.com/fountainai/fountain/deploy"
	"github.com/fountainai/fountain/stack"
)

// How the stack planner names Kong of several nodes and apps on several
// instances (issue 15): one gateway, and one rollout per app.

// kongHost is how the stack's calls name its Kong: one instance, or the
// nodes of a gateway of several.
func kongHost(st *stack.Stack) (deploy.HostInput, deploy.NodesInput) {
	k := st.Kong
	if len(k.Instances) > 0 {
		return deploy.HostInput{Region: st.Region}, deploy.NodesInput{InstanceNames: k.Instances}
	}
	return deploy.HostInput{InstanceName: k.Instance, Region: st.Region}, deploy.NodesInput{}
}

// kongQuery is the read of the stack's Kong.
func kongQuery(st *stack.Stack) *KongQuery {
	h, n := kongHost(st)
	return &KongQuery{HostQuery: HostQuery{InstanceName: h.InstanceName, Region: st.Region}, InstanceNames: n.InstanceNames}
}

// appKey is an app's resource key: app.NAME@INSTANCE, or, on several
// instances (one rollout), app.NAME@I1,I2,...
func appKey(name string, app stack.App) string {
	return "app." + name + "@" + strings.Join(app.Instances, ",")
}

// routed reports whether a route of the stack's Kong goes to the app.
func routed(st *stack.Stack, app string) bool {
	if st.Kong == nil {
		return false
	}
	for _, r := range st.Kong.Routes {
		if r.App == app {
			return true
		}
	}
	return false
}

// hasAppOnAll reports whether the app runs on each instance.
func (p *stackPlanner) hasAppOnAll(insts []string, name string) bool {
	for _, inst := range insts {
		if !p.hasApp(inst, name) {
			return false
		}
	}
	return true
}
