package api

import (
	"context"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/deploy"
	"github.com/fountainai/fountain/kong"
	"github.com/fountainai/fountain/operation"
)

// KongManager is the deploy engine's Kong: deploy-kong and the
// management of its declarative config, as the API uses them.
type KongManager interface {
	Deploy(ctx context.Context, rec fountain.Recorder, n deploy.Nodes, in deploy.KongInput) (fountain.Outcome, error)
	Config(ctx context.Context, rec fountain.Recorder, n deploy.Nodes) (*deploy.KongConfigView, error)
	Apply(ctx context.Context, rec fountain.Recorder, n deploy.Nodes, cfg *kong.Config, dryRun bool) (fountain.Outcome, error)
	AddRoute(ctx context.Context, rec fountain.Recorder, n deploy.Nodes, in deploy.KongRouteInput) (fountain.Outcome, error)
	RemoveRoute(ctx context.Context, rec fountain.Recorder, n deploy.Nodes, name string, dryRun bool) (fountain.Outcome, error)
	Rollback(ctx context.Context, rec fountain.Recorder, n deploy.Nodes, version int, dryRun bool) (fountain.Outcome, error)
	History(ctx context.Context, n deploy.Nodes) ([]fountain.ConfigVersion, error)
}

// kong returns the engine and its Kong, or a 503 when the server has no
// deploy engine or no Kong.
func (s *Server) kong() (Deployer, KongManager, error) {
	d, err := s.deployer()
	if err != nil {
		return nil, nil, err
	}
	if s.deps.Kong == nil {
		return nil, nil, fountain.Errorf(fountain.EUNAVAILABLE, "Kong is not configured on this server")
	}
	return d, s.deps.Kong, nil
}

// kongReady refuses a Kong route (503) before its operation starts when
// the server has no Kong.
func kongReady[B any](s *Server) func(context.Context, Deployer, *deploy.Host, *B) error {
	return func(context.Context, Deployer, *deploy.Host, *B) error {
		_, _, err := s.kong()
		return err
	}
}

// kongSpec is the operation of a config change on a gateway: it holds the
// gateway's hosts, so that two changes never interleave.
func kongSpec(kind string, n deploy.Nodes, request any, dry bool, secrets []string) operation.Spec {
	return operation.Spec{Kind: kind, Target: n.Key + "/kong", Locks: n.Locks(), Request: request, Secrets: secrets, DryRun: dry}
}

// gatewayRequest is the body of a Kong route: one host, or a gateway of
// several nodes.
type gatewayRequest interface {
	hostRequest
	NodeHosts() ([]deploy.HostInput, string)
}

// gatewayRoute describes a mutating route on a gateway.
type gatewayRoute[B any] struct {
	kind string
	run  func(ctx context.Context, run *operation.Run, n deploy.Nodes, in B) (fountain.Outcome, error)
}

// onGateway is the prepare function of a Kong route: the body validated
// and admitted without I/O, the gateway's nodes resolved (reads only),
// then the operation, holding every node, with a step per node saying
// which host it is.
func onGateway[B any, P interface {
	*B
	gatewayRequest
}](s *Server, r gatewayRoute[B]) func(context.Context, *B) (operation.Spec, operation.Func, error) {
	return func(ctx context.Context, body *B) (operation.Spec, operation.Func, error) {
		d, _, err := s.kong()
		if err != nil {
			return operation.Spec{}, nil, err
		}
		req := P(body)
		if err := req.Validate(); err != nil {
			return operation.Spec{}, nil, err
		}
		if err := req.Admit(d.Policy()); err != nil {
			return operation.Spec{}, nil, err
		}
		in := *body
		hosts, name := req.NodeHosts()
		hi := req.Host()
		setAuditTarget(ctx, hi.InstanceIP+hi.InstanceName+strings.Join(hostNames(hosts), ",")+"/kong")
		n, err := d.ResolveNodes(ctx, hosts, name)
		if err != nil {
			return operation.Spec{}, nil, err
		}
		if err := checkSnapshotFirst(d, body, n.Hosts...); err != nil {
			return operation.Spec{}, nil, err
		}
		var record any = in
		if r, ok := any(in).(interface{ Record() any }); ok {
			record = r.Record()
		}
		spec := kongSpec(r.kind, n, record, req.Dry(), append(req.Secrets(), d.Secrets()...))
		return spec, manyHosts{gw: &n}.identified(func(ctx context.Context, run *operation.Run) (operation.Outcome, error) {
			return r.run(ctx, run, n, in)
		}), nil
	}
}

// hostNames are the instance names of several hosts ("" for one host).
func hostNames(hosts []deploy.HostInput) []string {
	if len(hosts) < 2 {
		return nil
	}
	out := make([]string, len(hosts))
	for i, h := range hosts {
		out[i] = h.InstanceName
	}
	return out
}

// KongQuery names a gateway in a query string: one host, or several
// instances under a gateway's name.
type KongQuery struct {
	HostQuery
	InstanceNames []string `query:"instance_names" maxItems:"64" doc:"Several Lightsail instances running Kong as one gateway (instead of instance_ip or instance_name)."`
	Gateway       string   `query:"gateway" maxLength:"64" doc:"The gateway's name (default with instance_names: kong)."`
}

// resolveGateway validates and resolves the gateway a query names.
func (s *Server) resolveGateway(ctx context.Context, q KongQuery) (deploy.Nodes, error) {
	d, err := s.deployer()
	if err != nil {
		return deploy.Nodes{}, err
	}
	in := q.input()
	ni := deploy.NodesInput{InstanceNames: q.InstanceNames, Gateway: q.Gateway}
	hosts, name, err := ni.Hosts(&in)
	if err != nil {
		return deploy.Nodes{}, queryError(err)
	}
	n, err := d.ResolveNodes(ctx, hosts, name)
	return n, queryError(err)
}

func (s *Server) putKongConfig(ctx context.Context, body *deploy.KongConfigInput) (operation.Spec, operation.Func, error) {
	d, k, err := s.kong()
	if err != nil {
		return operation.Spec{}, nil, err
	}
	cfg, err := body.Validate()
	if err != nil {
		return operation.Spec{}, nil, err
	}
	in := *body
	hosts, name := in.NodeHosts()
	n, err := d.ResolveNodes(ctx, hosts, name)
	if err != nil {
		return operation.Spec{}, nil, err
	}
	// The config itself may hold credentials (plugins): it is not stored
	// in the operation record, only its hash; the versions keep it.
	record := struct {
		deploy.HostInput
		deploy.NodesInput
		ConfigHash string `json:"config_hash"`
	}{in.HostInput, in.NodesInput, cfg.Hash()}
	secrets := append(cfg.SecretValues(), d.Secrets()...)
	return kongSpec("kong.apply-config", n, record, in.DryRun, secrets), manyHosts{gw: &n}.identified(func(ctx context.Context, run *operation.Run) (operation.Outcome, error) {
		return k.Apply(ctx, run, n, cfg, in.DryRun)
	}), nil
}

type deleteKongRouteInput struct {
	AsyncInput
	KongQuery
	Name   string `path:"name" minLength:"1" maxLength:"128" doc:"The service and route name."`
	DryRun bool   `query:"dry_run" doc:"Only show what would change (the diff)."`
}

// kongRouteDeletion is a route removal as a stack makes it: the host and
// the route's name (DELETE /services/kong/routes/{name} takes them from
// its path and query).
type kongRouteDeletion struct {
	deploy.HostInput
	deploy.NodesInput
	Name string `json:"name"`
}

func (s *Server) deleteKongRoute(ctx context.Context, in *deleteKongRouteInput) (*OperationOutput, error) {
	body := &kongRouteDeletion{HostInput: in.input(), NodesInput: deploy.NodesInput{InstanceNames: in.InstanceNames, Gateway: in.KongQuery.Gateway}, Name: in.Name}
	body.DryRun = in.DryRun
	spec, fn, err := s.prepareDeleteKongRoute(ctx, body)
	if err != nil {
		return nil, queryError(err)
	}
	return s.do(ctx, in.AsyncInput, spec, fn)
}

// prepareDeleteKongRoute prepares the removal of a route.
func (s *Server) prepareDeleteKongRoute(ctx context.Context, in *kongRouteDeletion) (operation.Spec, operation.Func, error) {
	d, k, err := s.kong()
	if err != nil {
		return operation.Spec{}, nil, err
	}
	r := kong.Route{Name: in.Name, UpstreamURL: "http://placeholder.invalid", Paths: []string{"/"}}
	if err := r.Validate(); err != nil {
		return operation.Spec{}, nil, err
	}
	hosts, gw, err := in.NodesInput.Hosts(&in.HostInput)
	if err != nil {
		return operation.Spec{}, nil, err
	}
	n, err := d.ResolveNodes(ctx, hosts, gw)
	if err != nil {
		return operation.Spec{}, nil, err
	}
	name, dry := in.Name, in.DryRun
	return kongSpec("kong.remove-route", n, *in, dry, d.Secrets()), manyHosts{gw: &n}.identified(func(ctx context.Context, run *operation.Run) (operation.Outcome, error) {
		return k.RemoveRoute(ctx, run, n, name, dry)
	}), nil
}

type kongConfigOutput struct {
	Body *deploy.KongConfigView
}

func (s *Server) getKongConfig(ctx context.Context, in *KongQuery) (*kongConfigOutput, error) {
	_, k, err := s.kong()
	if err != nil {
		return nil, err
	}
	if len(in.InstanceNames) == 0 {
		v, _, err := readOnHost(ctx, s, in.HostQuery, func(ctx context.Context, _ Deployer, h *deploy.Host) (*deploy.KongConfigView, error) {
			return k.Config(ctx, readRecorder{s: s}, deploy.OneNode(h))
		})
		if err != nil {
			return nil, err
		}
		return &kongConfigOutput{Body: v}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	n, err := s.resolveGateway(ctx, *in)
	if err != nil {
		return nil, err
	}
	v, err := k.Config(ctx, readRecorder{s: s}, n)
	if err != nil {
		return nil, err
	}
	return &kongConfigOutput{Body: v}, nil
}

type kongHistoryOutput struct {
	Body struct {
		Host     string                   `json:"host" doc:"The gateway's host, address:port."`
		Identity string                   `json:"identity" doc:"What the versions are kept for: the host's Lightsail instance (REGION/NAME) under every spelling of its address, else its address; for a named gateway of several nodes, gateway:REGION/NAME."`
		Versions []fountain.ConfigVersion `json:"versions" doc:"The versions Fountain applied, newest first (without their text)."`
	}
}

func (s *Server) kongHistory(ctx context.Context, in *KongQuery) (*kongHistoryOutput, error) {
	_, k, err := s.kong()
	if err != nil {
		return nil, err
	}
	n, err := s.resolveGateway(ctx, *in)
	if err != nil {
		return nil, err
	}
	vs, err := k.History(ctx, n)
	if err != nil {
		return nil, err
	}
	out := &kongHistoryOutput{}
	out.Body.Host, out.Body.Identity, out.Body.Versions = n.Hosts[0].HostPort(), n.Key, vs
	return out, nil
}

// kongRoutes registers Kong's config management routes.
func (s *Server) kongRoutes() {
	tag := []string{"Kong"}
	register(s, huma.Operation{OperationID: "get-kong-config", Method: http.MethodGet, Path: "/services/kong/config", Tags: tag,
		Summary: "Kong's running config", Description: "The declarative config the gateway runs (read through the Admin API over SSH), its routes, and whether it is Fountain's last version."}, s.getKongConfig)
	mutation(s, huma.Operation{OperationID: "put-kong-config", Method: http.MethodPut, Path: "/services/kong/config", Tags: tag,
		Summary: "Apply a whole Kong config",
		Description: "Loads a whole declarative config (YAML or JSON) into the gateway: Fountain checks its structure (_format_version, known top-level keys; YAML aliases within bounds), " +
			"the fields of services, routes, upstreams and targets by Kong's own rules, and that no upstream is Kong itself (loopback, link-local, localhost...), all with 422 before connecting; " +
			"then Kong's own validation decides (POST /config?flatten_errors=1&check_hash=1). An invalid config answers 422 with Kong's field errors and the running config stays; " +
			"an unchanged one is changed=false. On success /etc/kong/kong.yml is replaced atomically (a restart keeps it) and a version is recorded. dry_run shows the diff."}, s.putKongConfig)
	addRoute := onGateway(s, gatewayRoute[deploy.KongRouteInput]{kind: "kong.add-route",
		run: func(ctx context.Context, run *operation.Run, n deploy.Nodes, in deploy.KongRouteInput) (fountain.Outcome, error) {
			return s.deps.Kong.AddRoute(ctx, run, n, in)
		}})
	rollback := onGateway(s, gatewayRoute[deploy.KongRollbackInput]{kind: "kong.rollback-config",
		run: func(ctx context.Context, run *operation.Run, n deploy.Nodes, in deploy.KongRollbackInput) (fountain.Outcome, error) {
			return s.deps.Kong.Rollback(ctx, run, n, in.Version, in.DryRun)
		}})
	mutation(s, huma.Operation{OperationID: "add-kong-route", Path: "/services/kong/routes", Tags: tag,
		Summary: "Add or update a route",
		Description: "Adds (or updates, by name) a service and its route: an upstream URL (never Kong itself: loopback, link-local, localhost... are 422), or an app Fountain deployed (by container, on the gateway's host or another), and paths and/or hosts, checked by Kong's rules. " +
			"The rest of the config is kept. Applied like a whole config; dry_run shows the diff."}, addRoute)
	keepPrepare(s, "delete-kong-route", s.prepareDeleteKongRoute)
	register(s, huma.Operation{OperationID: "delete-kong-route", Method: http.MethodDelete, Path: "/services/kong/routes/{name}", Tags: tag,
		Summary: "Remove a route", Description: "Removes a service and its routes by name (and plugins scoped to them). Removing a route that is not there changes nothing."}, s.deleteKongRoute)
	register(s, huma.Operation{OperationID: "kong-config-history", Method: http.MethodGet, Path: "/services/kong/config/history", Tags: tag,
		Summary: "Kong config history", Description: "The versions of the gateway's config Fountain applied, newest first."}, s.kongHistory)
	mutation(s, huma.Operation{OperationID: "rollback-kong-config", Path: "/services/kong/config/rollback", Tags: tag,
		Summary: "Roll Kong's config back", Description: "Applies a stored version again (recorded as a new version). dry_run shows the diff."}, rollback)
}
