package api

import (
	"context"
	"fmt"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/operation"
)

// prepareFunc is a mutating route's prepare function with its body as
// any: the body must be a pointer to the route's body type.
type prepareFunc func(ctx context.Context, body any) (operation.Spec, operation.Func, error)

// keepPrepare keeps a route's prepare function under its operation id.
func keepPrepare[B any](s *Server, id string, prepare func(ctx context.Context, body *B) (operation.Spec, operation.Func, error)) {
	if s.prepares == nil {
		s.prepares = map[string]prepareFunc{}
	}
	s.prepares[id] = func(ctx context.Context, body any) (operation.Spec, operation.Func, error) {
		b, ok := body.(*B)
		if !ok {
			return operation.Spec{}, nil, fountain.Errorf(fountain.EINTERNAL, "%s takes a %T, not a %T", id, new(B), body)
		}
		return prepare(ctx, b)
	}
}

// prepared prepares the route id's call with body, as the route would.
func (s *Server) prepared(ctx context.Context, id string, body any) (operation.Spec, operation.Func, error) {
	p, ok := s.prepares[id]
	if !ok {
		return operation.Spec{}, nil, fmt.Errorf("no mutating route %s", id)
	}
	return p(ctx, body)
}
