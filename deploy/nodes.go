package deploy

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/fountainai/fountain"
)

// Several hosts under one request: an app rolled out over its instances
// (deploy-docker-app's instance_names), and a gateway of several Kong
// nodes (DB-less: each node runs its own copy of the config) under one
// name and one version history.

// maxInstanceNames bounds the instances one request names.
const maxInstanceNames = 64

// checkInstanceNames validates instance_names (at field) with the host
// fields of h, without I/O: names given exclude instance_ip and
// instance_name; each is a Lightsail instance name, given once. The host
// fields' defaults (user, port) are filled in h; with no names, h is
// validated as one host.
func checkInstanceNames(field string, names []string, h *HostInput) error {
	if len(names) == 0 {
		return h.Validate()
	}
	if h.InstanceIP != "" || h.InstanceName != "" {
		return fountain.Invalid(field, "give %s, or instance_ip or instance_name, not both", field)
	}
	if len(names) > maxInstanceNames {
		return fountain.Invalid(field, "names %d instances; at most %d", len(names), maxInstanceNames)
	}
	for i, n := range names {
		if !instanceNameRE.MatchString(n) {
			return fountain.Invalid(field, "%q is not a Lightsail instance name", short(n))
		}
		if j := slices.Index(names, n); j < i {
			return fountain.Invalid(field, "%s is given twice", short(n))
		}
	}
	one := *h
	one.InstanceName = names[0]
	if err := one.Validate(); err != nil {
		return err
	}
	one.InstanceName = ""
	*h = one
	return nil
}

// hostsOf is one host request per instance name (each with h's region,
// key, user, port and dry run), or h alone when names is empty.
func hostsOf(h HostInput, names []string) []HostInput {
	if len(names) == 0 {
		return []HostInput{h}
	}
	out := make([]HostInput, len(names))
	for i, n := range names {
		out[i] = h
		out[i].InstanceIP, out[i].InstanceName = "", n
	}
	return out
}

// Nodes is a Kong gateway as Fountain manages it: the hosts Kong runs on,
// each DB-less with its own copy of the config, changed one node at a
// time with check_hash, and the key of the gateway's one version history.
type Nodes struct {
	// Key is where the versions are kept: the host's identity for one
	// host named alone, "gateway:REGION/NAME" for a named gateway.
	Key string
	// Name is the gateway's name ("" for one host named alone).
	Name  string
	Hosts []*Host
}

// OneNode is the gateway of one host, its versions kept by the host's
// identity.
func OneNode(h *Host) Nodes { return Nodes{Key: h.Key(), Hosts: []*Host{h}} }

// DefaultGateway is the name of a gateway of several instances when the
// request names none.
const DefaultGateway = "kong"

// gatewayNameRE is a gateway's name.
var gatewayNameRE = instanceNameRE

// GatewayKey is the history key of the gateway name in region.
func GatewayKey(region, name string) string { return "gateway:" + region + "/" + name }

// Locks are what a change of the gateway holds: each node's.
func (n Nodes) Locks() []fountain.Lock {
	var locks []fountain.Lock
	for _, h := range n.Hosts {
		for _, l := range h.Locks() {
			if !slices.Contains(locks, l) {
				locks = append(locks, l)
			}
		}
	}
	return locks
}

// Target names the gateway for people: its host, or its name and nodes.
func (n Nodes) Target() string {
	if n.Name == "" && len(n.Hosts) == 1 {
		return n.Hosts[0].Target()
	}
	names := make([]string, len(n.Hosts))
	for i, h := range n.Hosts {
		names[i] = h.Target()
	}
	return "gateway " + n.Name + " (" + strings.Join(names, ", ") + ")"
}

// several reports whether step names must say which node they act on.
func (n Nodes) several() bool { return len(n.Hosts) > 1 }

// NodesInput names a gateway of several Kong nodes, in place of one host:
// the Kong routes take it beside the host fields.
type NodesInput struct {
	InstanceNames []string `json:"instance_names,omitempty" maxItems:"64" doc:"Several Lightsail instances running Kong as one gateway (instead of instance_ip or instance_name): the same config goes to each node in turn, with one version history under the gateway's name." example:"[\"gw-1\", \"gw-2\"]"`
	Gateway       string   `json:"gateway,omitempty" maxLength:"64" doc:"The gateway's name, which its version history is kept under (default with instance_names: kong; without it, the host's identity)." example:"kong"`
}

// validate checks the gateway's fields with the host's, without I/O.
func (n *NodesInput) validate(h *HostInput) error {
	if err := checkInstanceNames("instance_names", n.InstanceNames, h); err != nil {
		return err
	}
	if n.Gateway != "" && !gatewayNameRE.MatchString(n.Gateway) {
		return fountain.Invalid("gateway", "%q is not a gateway name (letters, digits, '_', '.', '-', 2 to 255)", short(n.Gateway))
	}
	if len(n.InstanceNames) > 0 && n.Gateway == "" {
		n.Gateway = DefaultGateway
	}
	return nil
}

// HostInputs is each node's host request; nil for a request that names
// one host alone (its HostInput).
func (n NodesInput) HostInputs(h HostInput) []HostInput {
	if len(n.InstanceNames) == 0 {
		return nil
	}
	return hostsOf(h, n.InstanceNames)
}

// ResolveNodes resolves a gateway's hosts (as Resolve does each) and
// names its history: by the gateway's name in the region when it has
// one, else by the one host's identity.
func (e *Engine) ResolveNodes(ctx context.Context, hosts []HostInput, name string) (Nodes, error) {
	n := Nodes{Name: name}
	for _, hi := range hosts {
		h, err := e.Resolve(ctx, hi)
		if err != nil {
			return Nodes{}, err
		}
		for _, o := range n.Hosts {
			if o.ID == h.ID {
				return Nodes{}, fountain.Invalid("instance_names", "%s and %s are one host (%s)", o.Spelling, h.Spelling, h.Key())
			}
		}
		n.Hosts = append(n.Hosts, h)
	}
	if len(n.Hosts) == 0 {
		return Nodes{}, errors.New("deploy: a gateway of no host")
	}
	switch {
	case name == "" && len(n.Hosts) == 1:
		n.Key = n.Hosts[0].Key()
	default:
		if name == "" {
			n.Name = DefaultGateway
		}
		region := hosts[0].Region
		if inst := n.Hosts[0].Instance; inst != nil {
			region = inst.Region
		} else if region == "" && e.Instances != nil {
			region = e.Instances.DefaultRegion()
		}
		n.Key = GatewayKey(region, n.Name)
	}
	return n, nil
}

// prefixed is rec with each step's name prefixed (the node or host it
// acts on, in an operation over several).
func prefixed(rec fountain.Recorder, prefix string) fountain.Recorder {
	return prefixRecorder{Recorder: rec, prefix: prefix}
}

type prefixRecorder struct {
	fountain.Recorder
	prefix string
}

func (p prefixRecorder) Step(ctx context.Context, name string, fn func(ctx context.Context) (fountain.StepResult, error)) error {
	return p.Recorder.Step(ctx, p.prefix+name, fn)
}

// Log prefixes the line too: hosts of a batch run at once, and their
// output interleaves in one log.
func (p prefixRecorder) Log(line string) { p.Recorder.Log(p.prefix + line) }

// Hosts validates the gateway's fields with the host's (as a request's
// Validate does) and returns each node's host request and the gateway's
// name ("" for one host named alone).
func (n *NodesInput) Hosts(h *HostInput) ([]HostInput, string, error) {
	if err := n.validate(h); err != nil {
		return nil, "", err
	}
	hosts, name := n.nodeHosts(*h)
	return hosts, name, nil
}

// nodeHosts are the nodes' host requests (one: h) and the gateway's name.
func (n NodesInput) nodeHosts(h HostInput) ([]HostInput, string) {
	if len(n.InstanceNames) == 0 {
		return []HostInput{h}, n.Gateway
	}
	return hostsOf(h, n.InstanceNames), n.Gateway
}

// NodeHosts are the gateway's nodes' host requests and its name.
func (in KongInput) NodeHosts() ([]HostInput, string) { return in.NodesInput.nodeHosts(in.HostInput) }

// NodeHosts are the gateway's nodes' host requests and its name.
func (in KongConfigInput) NodeHosts() ([]HostInput, string) {
	return in.NodesInput.nodeHosts(in.HostInput)
}

// NodeHosts are the gateway's nodes' host requests and its name.
func (in KongRouteInput) NodeHosts() ([]HostInput, string) {
	return in.NodesInput.nodeHosts(in.HostInput)
}

// NodeHosts are the gateway's nodes' host requests and its name.
func (in KongRollbackInput) NodeHosts() ([]HostInput, string) {
	return in.NodesInput.nodeHosts(in.HostInput)
}
