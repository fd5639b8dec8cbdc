package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/sse"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/operation"
)

// LogEvent is a line of output from the step under way.
type LogEvent struct {
	Line string `json:"line" doc:"One line of output."`
}

// ErrorEvent ends a stream that could not be served.
type ErrorEvent struct {
	Detail string `json:"detail" doc:"What went wrong."`
}

func (s *Server) registerEvents() {
	sse.Register(s.api, huma.Operation{
		OperationID: "operation-events", Method: http.MethodGet, Path: "/operations/{id}/events", Tags: []string{"Operations"},
		Summary: "Follow an operation (Server-Sent Events)",
		Description: "Streams the operation live: first each step recorded so far (event: step), then each step as it starts and ends (step), " +
			"each output line (log), and last the whole operation (end). For an operation that already ended, its steps and the end come at once.",
	}, map[string]any{
		"step":  fountain.Step{},
		"log":   LogEvent{},
		"end":   fountain.Operation{},
		"error": ErrorEvent{},
	}, func(ctx context.Context, in *operationIDInput, send sse.Sender) {
		op, events, stop, err := s.deps.Runner.Watch(ctx, in.ID)
		if err != nil {
			_ = send.Data(ErrorEvent{Detail: fountainMessage(err)})
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
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-events:
				if !ok {
					return
				}
				var err error
				switch ev.Type {
				case operation.EventStep:
					err = send.Data(*ev.Step)
				case operation.EventLog:
					err = send.Data(LogEvent{Line: ev.Line})
				case operation.EventEnd:
					_ = send.Data(*ev.Operation)
					return
				}
				if err != nil {
					return
				}
			}
		}
	})
}

func fountainMessage(err error) string { return fountain.ErrorMessage(err) }
