package api

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/deploy"
	"github.com/fountainai/fountain/operation"
)

// Deployer is the deploy engine as the API uses it: its hosts (and
// OpenSearch). Docker apps (DockerApps) and Kong (KongManager) are
// services of their own.
type Deployer interface {
	Resolve(ctx context.Context, in deploy.HostInput) (*deploy.Host, error)
	// ResolveNodes resolves a gateway's hosts and names its history.
	ResolveNodes(ctx context.Context, hosts []deploy.HostInput, name string) (deploy.Nodes, error)
	// HostKeyName returns the name a host's SSH keys are kept under (its
	// identity) for "ADDRESS[:PORT]" or "REGION/NAME[:PORT]".
	HostKeyName(ctx context.Context, host string) (string, fountain.HostID, error)
	// Secrets are the server's own secrets a deploy may use (the GHCR
	// token): masked in every operation.
	Secrets() []string
	// Policy is what the server allows by how it runs (sandbox mode,
	// --allow-host-binds): requests are admitted by it before any I/O.
	Policy() deploy.Policy
}

// deployer returns the engine, or a 503 when the server has none.
func (s *Server) deployer() (Deployer, error) {
	if s.deps.Deploy == nil {
		return nil, fountain.Errorf(fountain.EUNAVAILABLE, "deploys are not configured on this server")
	}
	return s.deps.Deploy, nil
}

// hostSpec is the operation spec of a deploy to h: it holds the host by
// its identity, whatever the spelling.
func hostSpec(kind, target string, h *deploy.Host, request any, dry bool, secrets ...string) operation.Spec {
	return operation.Spec{Kind: kind, Target: h.Key() + target, Locks: h.Locks(), Request: request, Secrets: secrets, DryRun: dry}
}

// onHostFunc is an operation on h whose first recorded step says which
// host the request's spelling is: its identity, and how it was found (a
// DNS name resolved once, the instance that has the address).
func onHostFunc(h *deploy.Host, fn operation.Func) operation.Func {
	return func(ctx context.Context, run *operation.Run) (operation.Outcome, error) {
		if err := run.Step(ctx, "identify the host "+h.Spelling, func(context.Context) (fountain.StepResult, error) {
			return fountain.StepResult{Output: h.Resolution + "; known as " + h.Key()}, nil
		}); err != nil {
			return operation.Outcome{}, err
		}
		return fn(ctx, run)
	}
}

// hostRequest is the body of a route that acts on one host: it embeds
// deploy.HostInput and checks itself without I/O.
type hostRequest interface {
	Validate() error
	Admit(deploy.Policy) error
	Host() deploy.HostInput
	Dry() bool
	Secrets() []string
}

// hostRoute describes a mutating route that acts on one host.
type hostRoute[B any] struct {
	kind   string
	target func(in *B) string // what on the host, e.g. "/my-app"
	// check, if set, refuses with reads only (no change), before the
	// operation starts: a plan too small for OpenSearch, say.
	check func(ctx context.Context, d Deployer, h *deploy.Host, in *B) error
	run   func(ctx context.Context, d Deployer, run *operation.Run, h *deploy.Host, in B) (fountain.Outcome, error)
}

// onHost is the prepare function of a host route: the body validated
// and admitted by the server's policy without I/O, the host resolved (its instance, key and locks; reads
// only), then the operation, holding the host and its instance, with the
// request's and the server's secrets masked.
func onHost[B any, P interface {
	*B
	hostRequest
}](s *Server, r hostRoute[B]) func(context.Context, *B) (operation.Spec, operation.Func, error) {
	return func(ctx context.Context, body *B) (operation.Spec, operation.Func, error) {
		d, err := s.deployer()
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
		hi := req.Host()
		setAuditTarget(ctx, hi.InstanceIP+hi.InstanceName+r.target(&in))
		h, err := d.Resolve(ctx, hi)
		if err != nil {
			return operation.Spec{}, nil, err
		}
		if err := checkSnapshotFirst(d, body, h); err != nil {
			return operation.Spec{}, nil, err
		}
		if r.check != nil {
			if err := r.check(ctx, d, h, &in); err != nil {
				return operation.Spec{}, nil, err
			}
		}
		var record any = in
		if r, ok := any(in).(interface{ Record() any }); ok {
			record = r.Record() // what the body holds that must not be kept (a Kong config)
		}
		spec := hostSpec(r.kind, r.target(&in), h, record, req.Dry(), append(req.Secrets(), d.Secrets()...)...)
		return spec, onHostFunc(h, func(ctx context.Context, run *operation.Run) (operation.Outcome, error) {
			return r.run(ctx, d, run, h, in)
		}), nil
	}
}

// checkSnapshotFirst admits a request's snapshot_first on its hosts
// before anything runs: Lightsail reached, each host an instance.
func checkSnapshotFirst(d Deployer, body any, hosts ...*deploy.Host) error {
	if r, ok := body.(interface{ SnapshotFirstAsked() bool }); !ok || !r.SnapshotFirstAsked() {
		return nil
	}
	for _, h := range hosts {
		if err := d.Policy().CheckSnapshotFirst(h); err != nil {
			return err
		}
	}
	return nil
}

// fixed is a target that does not depend on the request.
func fixed[B any](t string) func(*B) string { return func(*B) string { return t } }

// HostQuery names a host in a query string (for reads).
type HostQuery struct {
	InstanceIP   string `query:"instance_ip" maxLength:"253" doc:"The host's address (or give instance_name)."`
	InstanceName string `query:"instance_name" maxLength:"255" doc:"A Lightsail instance, instead of instance_ip."`
	Region       string `query:"region" maxLength:"32" doc:"The instance's region (default: the server's)."`
	SSHKeyPath   string `query:"ssh_key_path" maxLength:"4096" doc:"The private key that logs in (see deploy-docker-app)."`
	SSHUser      string `query:"ssh_user" maxLength:"32" doc:"The login user (default ubuntu)."`
	SSHPort      int    `query:"ssh_port" minimum:"0" maximum:"65535" doc:"The SSH port (default 22)."`
}

func (q HostQuery) input() deploy.HostInput {
	return deploy.HostInput{InstanceIP: q.InstanceIP, InstanceName: q.InstanceName, Region: q.Region,
		SSHKeyPath: q.SSHKeyPath, SSHUser: q.SSHUser, SSHPort: q.SSHPort}
}

// resolveQuery validates and resolves a host named in a query.
func (s *Server) resolveQuery(ctx context.Context, q HostQuery) (Deployer, *deploy.Host, error) {
	d, err := s.deployer()
	if err != nil {
		return nil, nil, err
	}
	in := q.input()
	if err := in.Validate(); err != nil {
		return nil, nil, queryError(err)
	}
	h, err := d.Resolve(ctx, in)
	return d, h, queryError(err)
}

// queryError names a field error's location in the query, not the body.
func queryError(err error) error {
	if fe, ok := err.(*fountain.Error); ok && fe.Field != "" {
		c := *fe
		c.Field = "query." + fe.Field
		return &c
	}
	return err
}

// readTimeout bounds a read that goes to a host over SSH, so that it
// answers (502, naming the host) before the server's write timeout cuts
// the connection without a word.
const readTimeout = 45 * time.Second

// readOnHost resolves the host a query names and runs read on it, both
// within readTimeout; it returns the host too.
func readOnHost[T any](ctx context.Context, s *Server, q HostQuery, read func(ctx context.Context, d Deployer, h *deploy.Host) (T, error)) (T, *deploy.Host, error) {
	ctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	d, h, err := s.resolveQuery(ctx, q)
	if err != nil {
		var zero T
		return zero, nil, err
	}
	v, err := read(ctx, d, h)
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return v, h, &fountain.Error{Code: fountain.EUPSTREAM, Message: fmt.Sprintf("%s did not answer within %s", h.Target(), readTimeout), Err: err}
	}
	return v, h, err
}

// readRecorder runs the steps of a read (connect, look) without recording
// an operation; their log lines go to the server's debug log.
type readRecorder struct {
	fountain.NopSecrets
	s *Server
}

func (r readRecorder) Step(ctx context.Context, name string, fn func(context.Context) (fountain.StepResult, error)) error {
	_, err := fn(ctx)
	return err
}

func (r readRecorder) Log(line string) { r.s.deps.Logger.Debug("read", "line", line) }

// HostKeys is the store of trusted SSH host keys.
type HostKeys interface {
	ListHostKeys(ctx context.Context) ([]fountain.HostKey, error)
	HostKeys(ctx context.Context, host string) ([]fountain.HostKey, error)
	ForgetHostKeys(ctx context.Context, host string) (int, error)
}

type hostKeysInput struct {
	Host string `query:"host" maxLength:"300" doc:"Only the keys of this host: an address, address:port (e.g. 203.0.113.7:22; an address of a Lightsail instance means the instance), or an instance as the keys are listed (eu-central-1/web-1:22)."`
}

type hostKeysOutput struct {
	Body struct {
		Keys []fountain.HostKey `json:"keys" doc:"The SSH host keys Fountain trusts, by host."`
	}
}

func (s *Server) listHostKeys(ctx context.Context, in *hostKeysInput) (*hostKeysOutput, error) {
	if s.deps.HostKeys == nil {
		return nil, fountain.Errorf(fountain.EUNAVAILABLE, "no host key store is configured")
	}
	var keys []fountain.HostKey
	var err error
	if in.Host == "" {
		keys, err = s.deps.HostKeys.ListHostKeys(ctx)
	} else {
		var d Deployer
		if d, err = s.deployer(); err != nil {
			return nil, err
		}
		var host string
		if host, _, err = d.HostKeyName(ctx, in.Host); err != nil {
			return nil, queryError(err)
		}
		keys, err = s.deps.HostKeys.HostKeys(ctx, host)
	}
	if err != nil {
		return nil, err
	}
	if keys == nil {
		keys = []fountain.HostKey{}
	}
	out := &hostKeysOutput{}
	out.Body.Keys = keys
	return out, nil
}

// ForgetHostKeyInput is the body of forget-host-key.
type ForgetHostKeyInput struct {
	Host string `json:"host" minLength:"1" maxLength:"300" doc:"The host whose keys to forget: address:port (a bare address means port 22; an address of a Lightsail instance means the instance, under every spelling), or an instance as the keys are listed (eu-central-1/web-1:22)." example:"203.0.113.7:22"`
}

func (s *Server) forgetHostKey(ctx context.Context, body *ForgetHostKeyInput) (operation.Spec, operation.Func, error) {
	if s.deps.HostKeys == nil {
		return operation.Spec{}, nil, fountain.Errorf(fountain.EUNAVAILABLE, "no host key store is configured")
	}
	d, err := s.deployer()
	if err != nil {
		return operation.Spec{}, nil, err
	}
	host, id, err := d.HostKeyName(ctx, body.Host)
	if err != nil {
		return operation.Spec{}, nil, err
	}
	return operation.Spec{Kind: "ssh.forget-host-key", Target: host, Locks: []fountain.Lock{fountain.HostLock(id)}, Request: ForgetHostKeyInput{Host: body.Host}},
		func(ctx context.Context, run *operation.Run) (operation.Outcome, error) {
			var n int
			err := run.Step(ctx, "forget the host keys of "+host, func(ctx context.Context) (fountain.StepResult, error) {
				var err error
				n, err = s.deps.HostKeys.ForgetHostKeys(ctx, host)
				return fountain.StepResult{Changed: n > 0, Output: fmt.Sprintf("%d key(s) forgotten", n)}, err
			})
			if n == 0 {
				return operation.Outcome{Message: "No host key of " + host + " was trusted; nothing changed"}, err
			}
			return operation.Outcome{Message: fmt.Sprintf("Forgot %d host key(s) of %s; the next connection trusts the key it is shown (or Lightsail's)", n, host)}, err
		}, nil
}
