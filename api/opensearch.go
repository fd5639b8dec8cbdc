package api

import (
	"context"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/deploy"
)

// OpenSearchService is the deploy engine's OpenSearch, as the API uses it
// (deploy.OpenSearch).
type OpenSearchService interface {
	// CheckFit refuses, with reads only, a Lightsail plan too small for
	// OpenSearch, before the operation starts.
	CheckFit(ctx context.Context, h *deploy.Host, in deploy.OpenSearchInput) error
	Deploy(ctx context.Context, rec fountain.Recorder, h *deploy.Host, in deploy.OpenSearchInput) (fountain.Outcome, error)
	Health(ctx context.Context, rec fountain.Recorder, h *deploy.Host) (*deploy.OpenSearchHealth, error)
	AdminPassword(ctx context.Context, h *deploy.Host) (string, error)
}

// openSearch returns the OpenSearch service, or a 503 when the server has
// none.
func (s *Server) openSearch() (OpenSearchService, error) {
	if s.deps.OpenSearch == nil {
		return nil, fountain.Errorf(fountain.EUNAVAILABLE, "OpenSearch deploys are not configured on this server")
	}
	return s.deps.OpenSearch, nil
}

type openSearchHealthOutput struct {
	Body *deploy.OpenSearchHealth
}

func (s *Server) openSearchHealth(ctx context.Context, in *HostQuery) (*openSearchHealthOutput, error) {
	o, err := s.openSearch()
	if err != nil {
		return nil, err
	}
	health, _, err := readOnHost(ctx, s, *in, func(ctx context.Context, _ Deployer, h *deploy.Host) (*deploy.OpenSearchHealth, error) {
		return o.Health(ctx, readRecorder{s: s}, h)
	})
	if err != nil {
		return nil, err
	}
	return &openSearchHealthOutput{Body: health}, nil
}

type adminPasswordOutput struct {
	CacheControl string `header:"Cache-Control" doc:"no-store: the answer holds a password."`
	Body         struct {
		Host          string `json:"host" doc:"The host, address:port."`
		User          string `json:"user" doc:"The admin user (admin)."`
		AdminPassword string `json:"admin_password" doc:"The admin password Fountain keeps (encrypted) for this OpenSearch."`
	}
}

// revealAdminPassword answers the kept admin password. It is a POST, so
// that every reading is in the audit log.
func (s *Server) revealAdminPassword(ctx context.Context, in *struct{ Body deploy.HostInput }) (*adminPasswordOutput, error) {
	d, err := s.deployer()
	if err != nil {
		return nil, err
	}
	o, err := s.openSearch()
	if err != nil {
		return nil, err
	}
	hi := in.Body
	if err := hi.Validate(); err != nil {
		return nil, err
	}
	h, err := d.Resolve(ctx, hi)
	if err != nil {
		return nil, err
	}
	setAuditTarget(ctx, h.HostPort()+"/opensearch admin password")
	pw, err := o.AdminPassword(ctx, h)
	if err != nil {
		return nil, err
	}
	out := &adminPasswordOutput{CacheControl: "no-store"}
	out.Body.Host, out.Body.User, out.Body.AdminPassword = h.HostPort(), "admin", pw
	return out, nil
}
