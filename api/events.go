package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/sse"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/operation"
)

// keepAlive is how often a quiet event stream sends a ping, so that
// proxies do not cut a long step's stream.
const keepAlive = 15 * time.Second

// LogEvent is a line of output from the step under way.
type LogEvent struct {
	Line string `json:"line" doc:"One line of output."`
}

// PingEvent keeps a quiet stream open.
type PingEvent struct {
	Time time.Time `json:"time" doc:"When the ping was sent."`
}

func (s *Server) registerEvents() {
	sse.Register(s.api, huma.Operation{
		OperationID: "operation-events", Method: http.MethodGet, Path: "/operations/{id}/events", Tags: []string{"Operations"},
		Summary: "Follow an operation (Server-Sent Events)",
		Description: "Streams the operation live: first each step recorded so far (event: step), then each step as it starts and ends (step), " +
			"each output line (log), a ping every 15 s while nothing happens, and last the whole operation (end). " +
			"For an operation that already ended, its steps and the end come at once. An unknown id answers 404 before any stream starts.",
		Middlewares: huma.Middlewares{s.operationMustExist},
	}, map[string]any{
		"step": fountain.Step{},
		"log":  LogEvent{},
		"ping": PingEvent{},
		"end":  fountain.Operation{},
	}, func(ctx context.Context, in *operationIDInput, send sse.Sender) {
		op, events, stop, err := s.deps.Runner.Watch(ctx, in.ID)
		if err != nil {
			s.deps.Logger.Warn("operation events", "id", in.ID, "err", err)
			return
		}
		defer stop()
		for _, st := range op.Steps {
			if err := send.Data(st); err != nil {
				return
			}
		}
		if events == nil {
			_ = send.Data(*op)
			return
		}
		tick := time.NewTicker(keepAlive)
		defer tick.Stop()
		for {
			var err error
			select {
			case <-ctx.Done():
				return
			case t := <-tick.C:
				err = send.Data(PingEvent{Time: t.UTC()})
			case ev, ok := <-events:
				if !ok {
					return
				}
				switch ev.Type {
				case operation.EventStep:
					err = send.Data(ev.Step)
				case operation.EventLog:
					err = send.Data(LogEvent{Line: ev.Line})
				case operation.EventEnd:
					_ = send.Data(*ev.Operation)
					return
				}
			}
			if err != nil {
				return
			}
		}
	})
}

// operationMustExist answers a problem, not an empty stream, for an
// operation that does not exist.
func (s *Server) operationMustExist(ctx huma.Context, next func(huma.Context)) {
	if _, err := s.deps.Runner.Get(ctx.Context(), ctx.Param("id")); err != nil {
		p, _ := problemFrom(err).(*Problem)
		_ = huma.WriteErr(s.api, ctx, p.Status, p.Detail)
		return
	}
	next(ctx)
}
