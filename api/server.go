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

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/lightsail"
	"github.com/fountainai/fountain/operation"
	"github.com/fountainai/fountain/sqlite"
)

// Version is the API version shown in the OpenAPI document.
const Version = "0.1.0"

// Store is what the API reads and writes directly.
type Store interface {
	ListOperations(ctx context.Context, f fountain.OperationFilter) ([]*fountain.Operation, error)
	AppendAudit(ctx context.Context, e *fountain.AuditEntry) error
	ListAudit(ctx context.Context, before int64, limit int) ([]*fountain.AuditEntry, error)
	ReserveIdempotencyKey(ctx context.Context, key, hash string) (*sqlite.StoredResponse, bool, error)
	SaveIdempotentResponse(ctx context.Context, key string, status int, header http.Header, body []byte) error
	ReleaseIdempotencyKey(ctx context.Context, key string) error
}

// Lightsail is the Lightsail adapter as the API uses it.
type Lightsail interface {
	DefaultRegion() string
	ValidateCreate(in *lightsail.CreateInstanceInput) error
	CheckCatalogue(ctx context.Context, in *lightsail.CreateInstanceInput) error
	CreateInstance(ctx context.Context, run lightsail.Stepper, in lightsail.CreateInstanceInput) (operation.Outcome, error)
	ValidateInstance(in *lightsail.InstanceInput) error
	Lifecycle(ctx context.Context, run lightsail.Stepper, verb string, in lightsail.InstanceInput) (operation.Outcome, error)
	ListInstances(ctx context.Context, region string) ([]lightsail.Instance, error)
	GetInstance(ctx context.Context, region, name string) (lightsail.Instance, error)
	ValidateStaticIP(in *lightsail.StaticIPInput) error
	AttachStaticIP(ctx context.Context, run lightsail.Stepper, in lightsail.StaticIPInput) (operation.Outcome, error)
	ValidatePorts(in *lightsail.PortsInput) error
	Ports(ctx context.Context, run lightsail.Stepper, open bool, in lightsail.PortsInput) (operation.Outcome, error)
	Bundles(ctx context.Context, region string) ([]lightsail.Bundle, error)
	Blueprints(ctx context.Context, region string) ([]lightsail.Blueprint, error)
	Cost(ctx context.Context, region string) (lightsail.Cost, error)
}

// Sandbox reports the sandbox's state (nil when not in sandbox mode).
type Sandbox interface {
	Status(ctx context.Context) (any, error)
}

// Deps are the API's dependencies.
type Deps struct {
	Store     Store
	Runner    *operation.Runner
	Lightsail Lightsail
	Sandbox   Sandbox // nil unless sandbox mode
	Token     string  // the bearer token every protected route needs
	Logger    *slog.Logger
	Registry  *prometheus.Registry // nil: a new one
}

// Server is the HTTP API.
type Server struct {
	deps    Deps
	api     huma.API
	handler http.Handler
	metrics *metrics
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
	s := &Server{deps: deps, metrics: newMetrics(deps.Registry)}
	s.api = humago.New(mux, Config())
	s.routes(mux)
	s.handler = s.middleware(mux)
	return s
}

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// OpenAPI returns the generated OpenAPI document.
func (s *Server) OpenAPI() *huma.OpenAPI { return s.api.OpenAPI() }

// OnOperationFinished records the end of an operation in the audit log and
// the metrics; the runner calls it.
func (s *Server) OnOperationFinished(op *fountain.Operation) {
	s.metrics.operations.WithLabelValues(op.Kind, string(op.Status)).Inc()
	e := &fountain.AuditEntry{Method: "-", Route: "operation " + op.Kind, Target: op.Target,
		Outcome: string(op.Status), OperationID: op.ID, Detail: op.Error}
	if err := s.deps.Store.AppendAudit(context.Background(), e); err != nil {
		s.deps.Logger.Error("append audit", "err", err)
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
	cfg.OpenAPIPath = "/openapi"
	cfg.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"bearer": {Type: "http", Scheme: "bearer", Description: "The API token: FOUNTAIN_API_TOKEN, or the token file in the data directory."},
	}
	cfg.Security = []map[string][]string{{"bearer": {}}}
	return cfg
}
