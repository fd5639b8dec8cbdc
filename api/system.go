package api

import (
	"context"

	"github.com/fountainai/fountain"
)

type healthOutput struct {
	Body struct {
		Status  string `json:"status" doc:"ok"`
		Version string `json:"version" doc:"API version."`
		Sandbox bool   `json:"sandbox" doc:"Whether the server runs in sandbox mode (the built-in Lightsail emulator, no AWS)."`
	}
}

func (s *Server) healthz(ctx context.Context, _ *struct{}) (*healthOutput, error) {
	out := &healthOutput{}
	out.Body.Status, out.Body.Version, out.Body.Sandbox = "ok", Version, s.deps.Sandbox != nil
	return out, nil
}

type sandboxOutput struct {
	Body SandboxStatus
}

func (s *Server) sandboxStatus(ctx context.Context, _ *struct{}) (*sandboxOutput, error) {
	if s.deps.Sandbox == nil {
		return nil, fountain.Errorf(fountain.ENOTFOUND, "the server is not in sandbox mode (start it with --sandbox)")
	}
	st, err := s.deps.Sandbox.Status(ctx)
	if err != nil {
		return nil, err
	}
	return &sandboxOutput{Body: st}, nil
}

type auditInput struct {
	Before int64 `query:"before" minimum:"0" doc:"Only entries numbered below this (for paging)."`
	Limit  int   `query:"limit" minimum:"0" maximum:"1000" doc:"At most this many (default 100)."`
}

type auditOutput struct {
	Body struct {
		Entries []*fountain.AuditEntry `json:"entries" doc:"Entries, newest first."`
	}
}

func (s *Server) listAudit(ctx context.Context, in *auditInput) (*auditOutput, error) {
	entries, err := s.deps.Store.ListAudit(ctx, in.Before, in.Limit)
	if err != nil {
		return nil, err
	}
	out := &auditOutput{}
	out.Body.Entries = entries
	return out, nil
}
