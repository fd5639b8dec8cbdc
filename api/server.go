// Package api is Fountain's HTTP API: typed huma operations with a generated
// OpenAPI 3.1 document and offline docs, bearer-token auth, request
// idempotency, the audit log, Prometheus metrics, and problem+json errors.
// Every route is listed in routes.go.
package api

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/prometheus/client_golang/prometheus"

	"time"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/lightsail"
	"github.com/fountainai/fountain/operation"
)

// Version is the API version shown in the OpenAPI document.
const Version = "0.1.0"

// Store is what the API reads and writes directly.
type Store interface {
	ListOperations(ctx context.Context, f fountain.OperationFilter) ([]*fountain.Operation, error)
	AppendAudit(ctx context.Context, e *fountain.AuditEntry) error
	ListAudit(ctx context.Context, before int64, limit int) ([]*fountain.AuditEntry, error)
	ReserveIdempotencyKey(ctx context.Context, key, hash string) (*fountain.StoredResponse, bool, error)
	SaveIdempotentResponse(ctx context.Context, key string, status int, header http.Header, body []byte) error
	ReleaseIdempotencyKey(ctx context.Context, key string) error
}

// Instances is the Lightsail instance family as the API uses it.
type Instances interface {
	DefaultRegion() string
	ValidateCreate(in *lightsail.CreateInstanceInput) error
	CheckCatalogue(ctx context.Context, in *lightsail.CreateInstanceInput) error
	CreateInstance(ctx context.Context, run fountain.Recorder, in lightsail.CreateInstanceInput) (fountain.Outcome, error)
	ValidateInstance(in *lightsail.InstanceInput) error
	Lifecycle(ctx context.Context, run fountain.Recorder, verb string, in lightsail.InstanceInput) (fountain.Outcome, error)
	ListInstances(ctx context.Context, region string) ([]lightsail.Instance, error)
	GetInstance(ctx context.Context, region, name string) (lightsail.Instance, error)
}

// Network is the Lightsail networking family: static IPs and ports.
type Network interface {
	ValidateStaticIP(in *lightsail.StaticIPInput) error
	AttachStaticIP(ctx context.Context, run fountain.Recorder, in lightsail.StaticIPInput) (fountain.Outcome, error)
	ValidatePorts(in *lightsail.PortsInput) error
	Ports(ctx context.Context, run fountain.Recorder, open bool, in lightsail.PortsInput) (fountain.Outcome, error)
}

// Catalogue is the Lightsail catalogue family: plans, images and cost.
type Catalogue interface {
	Bundles(ctx context.Context, region string) ([]lightsail.Bundle, error)
	Blueprints(ctx context.Context, region string) ([]lightsail.Blueprint, error)
	Cost(ctx context.Context, region string) (lightsail.Cost, error)
}

// Lightsail is every Lightsail family: what the adapter provides.
type Lightsail interface {
	Instances
	Network
	Catalogue
	Snapshots
	LoadBalancers
}

// Sandbox reports the sandbox's state (nil when not in sandbox mode).
type Sandbox interface {
	Status(ctx context.Context) (SandboxStatus, error)
}

// SandboxStatus is what GET /sandbox reports.
type SandboxStatus struct {
	Mode               string           `json:"mode" doc:"Always sandbox."`
	LightsailEndpoint  string           `json:"lightsail_endpoint" doc:"The embedded Lightsail emulator's URL."`
	HostsBacked        bool             `json:"hosts_backed" doc:"Whether sandbox instances are real local hosts (Docker is available)."`
	Reason             string           `json:"reason,omitempty" doc:"Why instances are emulated only, if they are."`
	Namespace          string           `json:"namespace,omitempty" doc:"The sandbox's namespace: the prefix of its containers, volumes and network."`
	RegistryPush       string           `json:"registry_push,omitempty" doc:"host:port to docker push to from this machine (the local stand-in for GHCR)."`
	RegistryPullPrefix string           `json:"registry_pull_prefix,omitempty" doc:"How sandbox hosts name the same registry, e.g. registry.fountain.internal:5000."`
	RegistryRunning    bool             `json:"registry_running" doc:"Whether the local registry is serving."`
	SSHKeyPath         string           `json:"ssh_key_path,omitempty" doc:"The sandbox private key: it logs into every sandbox host, and serves as ssh_key_path in deploy calls."`
	SSHPublicKey       string           `json:"ssh_public_key,omitempty" doc:"The sandbox public key, in authorized_keys form."`
	SSHUser            string           `json:"ssh_user,omitempty" doc:"The login user of sandbox hosts (ubuntu)."`
	Image              string           `json:"image,omitempty" doc:"The host image in use."`
	Hosts              []SandboxHost    `json:"hosts" doc:"The local hosts behind sandbox instances."`
	StandIns           []SandboxStandIn `json:"stand_ins,omitempty" doc:"Stand-ins for what cannot be downloaded here (OpenSearch, Kong): faithful to the vendors' documented behaviour, never used outside sandbox mode."`

	// What the sandbox serves its hosts on its network's gateway.
	CACertPath      string           `json:"ca_cert_path,omitempty" doc:"The sandbox CA certificate (PEM). Every sandbox host trusts it (system store and Docker's certs.d), so the names below are served over TLS under their real names."`
	Gateway         string           `json:"gateway,omitempty" doc:"The sandbox network's gateway address, to which hosts resolve every name below."`
	Names           []SandboxName    `json:"names,omitempty" doc:"Names hosts reach over TLS on the gateway, e.g. ghcr.io: the local registry, so docker_image ghcr.io/user/repo/app:tag deploys an image pushed to registry_push as user/repo/app:tag."`
	DockerHubMirror string           `json:"docker_hub_mirror,omitempty" doc:"The hosts' Docker Hub mirror (daemon.json registry-mirrors): the local registry, so docker pull kong:3.9 on a host pulls library/kong:3.9 pushed to registry_push."`
	AptProxy        string           `json:"apt_proxy,omitempty" doc:"The caching apt proxy hosts download packages through (plain http sources; https ones go direct)."`
	AptProxyRunning bool             `json:"apt_proxy_running" doc:"Whether the apt proxy listens; hosts created while it does not use the mirror directly."`
	AptCacheDir     string           `json:"apt_cache_dir,omitempty" doc:"The apt proxy's cache, shared by every sandbox on this machine and kept by sandbox down."`
	AptUpstreams    []string         `json:"apt_upstreams,omitempty" doc:"The only hosts the apt proxy forwards to: this machine's apt sources."`
	AptCache        *SandboxAptCache `json:"apt_cache,omitempty" doc:"What the apt proxy did since it started."`
	GatewayErrors   []string         `json:"gateway_errors,omitempty" doc:"Why something above does not listen (e.g. port 443 taken, or not root)."`

	// The emulator's credentials, generated per data directory: shown only
	// here, to a caller holding the API token.
	EmulatorAccessKeyID     string `json:"emulator_access_key_id,omitempty" doc:"The access key ID the Lightsail emulator accepts (SigV4, service lightsail)."`
	EmulatorSecretAccessKey string `json:"emulator_secret_access_key,omitempty" doc:"Its secret access key; only this authenticated route shows it."`
	EmulatorCredentialsFile string `json:"emulator_credentials_file,omitempty" doc:"The file holding them (mode 0600), an AWS shared credentials file: usable as AWS_SHARED_CREDENTIALS_FILE."`

	// The GitHub stand-in: Fountain's GitHub in sandbox mode. Its token is
	// generated per data directory and opens nothing on GitHub.
	GitHubStandinURL       string `json:"github_standin_url,omitempty" doc:"The GitHub STAND-IN's API root (not GitHub): where Fountain's GitHub calls go in sandbox mode."`
	GitHubStandinToken     string `json:"github_standin_token,omitempty" doc:"The token the GitHub stand-in accepts (not a GitHub token): Fountain's GITHUB_TOKEN in sandbox mode."`
	GitHubStandinTokenFile string `json:"github_standin_token_file,omitempty" doc:"The file holding that token (mode 0600)."`
}

// SandboxName is one name the sandbox serves to its hosts under its real name.
type SandboxName struct {
	Name   string `json:"name" doc:"The name, e.g. ghcr.io."`
	URL    string `json:"url" doc:"How hosts name it, e.g. https://ghcr.io."`
	Listen string `json:"listen,omitempty" doc:"Where this machine serves it (gateway:443); empty while not listening."`
	Serves string `json:"serves" doc:"What answers there."`
}

// SandboxAptCache counts what the apt proxy did.
type SandboxAptCache struct {
	Hits    int64 `json:"hits" doc:"Requests served from the cache."`
	Fills   int64 `json:"fills" doc:"Files downloaded into the cache."`
	Shared  int64 `json:"shared" doc:"Requests that took part in a download serving several at once."`
	Passed  int64 `json:"passed" doc:"Requests passed through uncached (InRelease, indexes by name)."`
	Refused int64 `json:"refused" doc:"Requests refused (not an apt source of this machine, tunnels)."`
}

// SandboxStandIn is one stand-in the sandbox serves its hosts, for what
// cannot be downloaded here.
type SandboxStandIn struct {
	For    string `json:"for" doc:"What it stands in for: OpenSearch, Kong Gateway."`
	State  string `json:"state" doc:"preparing, ready, or failed: why."`
	How    string `json:"how" doc:"What it is and how hosts get it."`
	Detail string `json:"detail,omitempty" doc:"Versions, keys, where it was published."`
}

// SandboxHost is one local host.
type SandboxHost struct {
	Name        string `json:"name" doc:"Instance name."`
	Address     string `json:"address" doc:"Its public address (an address of this machine that every host reaches too), where port 22 and the public ports are published."`
	PrivateIP   string `json:"private_ip,omitempty" doc:"Its address on the sandbox network."`
	State       string `json:"state" doc:"The container's state: running, exited, created, ..."`
	ContainerID string `json:"container_id" doc:"The Docker container id."`
}

// Deps are the API's dependencies.
type Deps struct {
	Store     Store
	Runner    *operation.Runner
	Lightsail Lightsail
	Sandbox   Sandbox     // nil unless sandbox mode
	Deploy    Deployer    // nil: deploy routes answer 503
	Apps      DockerApps  // nil: Docker app routes answer 503
	Kong      KongManager // nil: Kong routes answer 503
	HostKeys  HostKeys
	GitHub    GitHub // nil: GitHub routes answer 503
	Images    Images // nil: the tags route answers 503
	Doctor    Doctor // nil: GET /doctor answers 503
	Vault     Vault  // nil: the vault routes answer 503
	Token     string // the bearer token every protected route needs
	Logger    *slog.Logger
	Registry  *prometheus.Registry // nil: a new one

	// OpenSearch is the engine's OpenSearch service (nil: its routes
	// answer 503).
	OpenSearch OpenSearchService

	// Backups takes the data directory's backups (nil: POST /backup
	// answers 503).
	Backups Backups
}

// Server is the HTTP API.
type Server struct {
	deps        Deps
	api         huma.API
	mux         *http.ServeMux
	token       []byte
	metrics     *metrics
	authLog     *limiter // failed logins
	auditLog    *limiter // dropped audit entries
	bodySchemas map[string]*huma.Schema
	// prepares are the mutating routes' prepare functions, by operation
	// id: a stack apply makes the same calls a person would.
	prepares map[string]prepareFunc
}

// New builds the API and its handler.
func New(deps Deps) *Server {
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Registry == nil {
		deps.Registry = prometheus.NewRegistry()
	}
	mux := http.NewServeMux()
	s := &Server{deps: deps, mux: mux, token: []byte(deps.Token), metrics: newMetrics(deps.Registry),
		authLog: &limiter{every: 10 * time.Second}, auditLog: &limiter{every: 10 * time.Second}}
	s.api = humago.New(mux, Config())
	s.routes(mux)
	s.collectBodySchemas()
	return s
}

// OpenAPI returns the generated OpenAPI document.
func (s *Server) OpenAPI() *huma.OpenAPI { return s.api.OpenAPI() }

// OnOperationFinished records the end of an operation in the audit log and
// the metrics; the runner calls it.
func (s *Server) OnOperationFinished(op *fountain.Operation) {
	s.metrics.operations.WithLabelValues(op.Kind, string(op.Status)).Inc()
	e := &fountain.AuditEntry{Method: "-", Route: "operation " + op.Kind, Target: op.Target,
		Outcome: string(op.Status), OperationID: op.ID, Detail: op.Error}
	if err := s.deps.Store.AppendAudit(context.Background(), e); err != nil {
		s.auditFailed(err)
	}
}

// Config is the huma configuration: the document's metadata, the bearer
// security scheme, and no CDN-backed docs (Fountain serves its own).
func Config() huma.Config {
	cfg := huma.DefaultConfig("Fountain", Version)
	cfg.Info.Description = "Fountain is a manual-first control plane for a small AWS Lightsail infrastructure: " +
		"instances, OpenSearch, Kong (DB-less) and Docker apps, each change done only when asked, recorded as an operation, and idempotent.\n\n" +
		"Every route except /healthz, /docs and /openapi.json needs `Authorization: Bearer TOKEN`.\n\n" +
		"Mutating calls wait for their outcome and answer `{\"status\": \"success\", \"message\", \"changed\", \"operation\"}`; " +
		"send `Prefer: respond-async` to get `202 Accepted` with `Location: /operations/{id}` at once. " +
		"Send `Idempotency-Key` to make a retried POST safe. Errors are RFC 9457 problem+json."
	cfg.DocsPath = ""
	// No $schema member and Link header in every answer: the document at
	// /openapi.json describes them all, and building the link for each
	// answer (a 422 included) costs the hot path a tenth of its time.
	cfg.CreateHooks = nil
	cfg.OpenAPIPath = "/openapi"
	cfg.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"bearer": {Type: "http", Scheme: "bearer", Description: "The API token: FOUNTAIN_API_TOKEN, or the token file in the data directory."},
	}
	cfg.Security = []map[string][]string{{"bearer": {}}}
	return cfg
}
