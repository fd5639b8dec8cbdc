package console

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
)

// A Kong gateway of several nodes (deploy-kong with instance_names): the
// Kong page of one of its instances shows the gateway, its nodes and its
// one version history, and its changes act on every node, when the page
// names it (?instance_names=gw-1,gw-2&gateway=NAME) or when Fountain
// deployed it.

// gatewayRef names a gateway of several nodes.
type gatewayRef struct {
	Name      string   // the gateway's name ("" for the API's default)
	Instances []string // its nodes' instances
}

// Joined is the nodes' instances as the page's query and forms carry them.
func (g *gatewayRef) Joined() string { return strings.Join(g.Instances, ",") }

// query adds the gateway to a read's query.
func (g *gatewayRef) query(q url.Values) url.Values {
	q.Del("instance_name")
	q.Set("instance_names", g.Joined())
	if g.Name != "" {
		q.Set("gateway", g.Name)
	}
	return q
}

// gatewayOf is the gateway a page's query names, or nil.
func gatewayOf(q url.Values) *gatewayRef {
	names := list(q.Get("instance_names"))
	if len(names) == 0 {
		return nil
	}
	return &gatewayRef{Name: strings.TrimSpace(q.Get("gateway")), Instances: names}
}

// findGateway is the gateway of several nodes whose last deploy (not a
// dry run) that succeeded has the instance name among its nodes, or nil.
func (c *Console) findGateway(ctx context.Context, region, name string) *gatewayRef {
	var l operationList
	if c.api.get(ctx, "/operations", url.Values{"kind": {"deploy.kong"}, "status": {"succeeded"}, "limit": {"50"}}, &l) != nil {
		return nil
	}
	for _, op := range l.Operations {
		if op.DryRun || !strings.HasPrefix(op.Target, "gateway:"+region+"/") {
			continue
		}
		var req struct {
			InstanceNames []string `json:"instance_names"`
			Gateway       string   `json:"gateway"`
		}
		if json.Unmarshal(op.Request, &req) == nil && slices.Contains(req.InstanceNames, name) {
			return &gatewayRef{Name: req.Gateway, Instances: req.InstanceNames}
		}
	}
	return nil
}

// gatewayBody puts a form's gateway (instance_names, gateway) in a
// request's body in place of its one instance; false without one.
func gatewayBody(b map[string]any, f url.Values) bool {
	g := gatewayOf(f)
	if g == nil {
		return false
	}
	delete(b, "instance_name")
	b["instance_names"] = g.Instances
	setIf(b, "gateway", g.Name)
	return true
}

// gatewayBack adds a form's gateway to the query of the page it came from.
func gatewayBack(u string, f url.Values) string {
	g := gatewayOf(f)
	if g == nil {
		return u
	}
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	q := url.Values{"instance_names": {g.Joined()}}
	if g.Name != "" {
		q.Set("gateway", g.Name)
	}
	return u + sep + q.Encode()
}

// nodeRow is one node of a gateway as the Kong page lists it.
type nodeRow struct {
	Instance, Host, Hash string
	InSync, Known        bool
}

// NodeRows are the gateway's nodes, each with the config it runs as the
// API read it (its nodes in the order of the gateway's instances).
func (v *kongView) NodeRows() []nodeRow {
	if v.Gateway == nil {
		return nil
	}
	out := make([]nodeRow, len(v.Gateway.Instances))
	for i, name := range v.Gateway.Instances {
		out[i].Instance = name
		if v.Config != nil && i < len(v.Config.Nodes) {
			n := v.Config.Nodes[i]
			out[i].Host, out[i].Hash, out[i].InSync, out[i].Known = n.Host, n.Hash, n.InSync, true
		}
	}
	return out
}
