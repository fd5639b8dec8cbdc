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
	Line string `json:"line" doc:"One line of output (secrets redacted)."`
	Step int    `json:"step" doc:"The index of the step it belongs to (-1: none)."`
}

// PingEvent keeps a quiet stream open.
type PingEvent struct {
	Time time.Time `json:"time" doc:"When the ping was sent."`
}

type eventsInput struct {
	ID          string `path:"id" maxLength:"64" doc:"Operation id."`
	LastEventID int64  `header:"Last-Event-ID" minimum:"0" required:"false" doc:"Resume after this event: the id of the last event received (browsers send it on reconnect)."`
	After       int64  `query:"after" minimum:"0" doc:"Resume after this event id (for clients that cannot set Last-Event-ID)."`
}

func (s *Server) registerEvents() {
	sse.Register(s.api, huma.Operation{
		OperationID: "operation-events", Method: http.MethodGet, Path: "/operations/{id}/events", Tags: []string{"Operations"},
		Summary: "Follow an operation (Server-Sent Events)",
		Description: "Streams the operation: every event so far, then each as it happens: a step starting or ending (event: step), " +
			"a line of output (log), a ping every 15 s while nothing happens, and last the whole operation (end). " +
			"Every event but ping has an id; reconnect with Last-Event-ID (or ?after=) to resume without losing or repeating one. " +
			"For an operation that already ended, its events and the end come at once. An unknown id answers 404 before any stream starts.",
		Middlewares: huma.Middlewares{s.operationMustExist},
	}, map[string]any{
		"step": fountain.Step{},
		"log":  LogEvent{},
		"ping": PingEvent{},
		"end":  fountain.Operation{},
	}, func(ctx context.Context, in *eventsInput, send sse.Sender) {
		after := max(in.LastEventID, in.After)
		tick := time.NewTicker(keepAlive)
		defer tick.Stop()
		for {
			op, replay, events, stop, err := s.deps.Runner.Watch(ctx, in.ID, after)
			if err != nil {
				s.deps.Logger.Warn("operation events", "id", in.ID, "err", err)
				return
			}
			for _, ev := range replay {
				if err := sendEvent(send, ev); err != nil {
					stop()
					return
				}
				after = ev.Seq
			}
			if events == nil { // the operation has ended
				_ = send(sse.Message{ID: int(after + 1), Data: *op})
				return
			}
			resume, done := s.stream(ctx, send, events, tick, &after)
			stop()
			if done || !resume {
				return
			}
		}
	})
}

// stream sends live events until the end event (done), the client goes
// away, or the watcher fell behind and its channel closed (resume: watch
// again from the last event sent).
func (s *Server) stream(ctx context.Context, send sse.Sender, events <-chan operation.Event, tick *time.Ticker, after *int64) (resume, done bool) {
	for {
		select {
		case <-ctx.Done():
			return false, false
		case t := <-tick.C:
			if send.Data(PingEvent{Time: t.UTC()}) != nil {
				return false, false
			}
		case ev, ok := <-events:
			if !ok {
				return true, false
			}
			if ev.Seq <= *after {
				continue
			}
			if sendEvent(send, ev) != nil {
				return false, false
			}
			*after = ev.Seq
			if ev.Type == operation.EventEnd {
				return false, true
			}
		}
	}
}

func sendEvent(send sse.Sender, ev operation.Event) error {
	switch ev.Type {
	case operation.EventStep:
		return send(sse.Message{ID: int(ev.Seq), Data: ev.Step})
	case operation.EventLog:
		return send(sse.Message{ID: int(ev.Seq), Data: LogEvent{Line: ev.Line, Step: ev.StepIndex}})
	case operation.EventEnd:
		return send(sse.Message{ID: int(ev.Seq), Data: *ev.Operation})
	}
	return nil
}

// operationMustExist answers a problem, not an empty stream, for an
// operation that does not exist, or that has all the watchers it takes.
func (s *Server) operationMustExist(ctx huma.Context, next func(huma.Context)) {
	_, err := s.deps.Runner.Get(ctx.Context(), ctx.Param("id"))
	if err == nil {
		err = s.deps.Runner.CanWatch(ctx.Param("id"))
	}
	if err != nil {
		p, _ := problemFrom(err).(*Problem)
		_ = huma.WriteErr(s.api, ctx, p.Status, p.Detail)
		return
	}
	next(ctx)
}
