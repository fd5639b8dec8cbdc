package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/api"
)

// sseEvent is one Server-Sent Event.
type sseEvent struct {
	ID    string // "" when the event has none (pings)
	Event string // "message" when the stream names none
	Data  []byte
}

// maxResumes bounds how often a dropped event stream is resumed.
const maxResumes = 10

// maxSSELine bounds one line of the stream; an operation's end event holds
// the whole operation.
const maxSSELine = 16 << 20

// readSSE reads a text/event-stream and calls fn for each event until the
// stream ends, fn returns stop, or fn fails.
func readSSE(r io.Reader, fn func(sseEvent) (stop bool, err error)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxSSELine)
	var (
		id, event string
		data      bytes.Buffer
		has       bool
	)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			if has {
				ev := sseEvent{ID: id, Event: event, Data: bytes.Clone(data.Bytes())}
				if ev.Event == "" {
					ev.Event = "message"
				}
				if stop, err := fn(ev); stop || err != nil {
					return err
				}
			}
			id, event, has = "", "", false
			data.Reset()
			continue
		}
		if strings.HasPrefix(line, ":") {
			continue // a comment, e.g. a keep-alive
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "id":
			id = value
		case "event":
			event = value
		case "data":
			if has {
				data.WriteByte('\n')
			}
			data.WriteString(value)
			has = true
		}
	}
	return sc.Err()
}

// followOperation streams an operation's events until it ends, printing
// steps as they start and end and output lines as they come, then how it
// ended. It fails with exit 1 unless the operation succeeded.
func (a *app) followOperation(cmd *cobra.Command, c *Client, o *opsLogsOptions) error {
	end, err := a.streamOperation(cmd.Context(), c, o.ID, o.JSON)
	if err != nil {
		return err
	}
	if !o.JSON {
		printOperationEnd(a.io.Out, end)
	}
	if end.Status != fountain.StatusSucceeded {
		msg := fmt.Sprintf("operation %s %s", end.ID, end.Status)
		if end.Error != "" {
			msg += ": " + end.Error
		}
		return &exitError{code: ExitError, msg: msg}
	}
	return nil
}

// streamOperation prints an operation's events until it ends (steps as
// they start and end, output lines as they come; with jsonOut, one JSON
// object per event) and returns the operation as it ended. A dropped
// stream is resumed from the last event received (Last-Event-ID), so no
// line is lost or printed twice.
func (a *app) streamOperation(ctx context.Context, c *Client, id string, jsonOut bool) (*fountain.Operation, error) {
	w := a.io.Out
	o := struct {
		ID   string
		JSON bool
	}{id, jsonOut}
	var end *fountain.Operation
	lastID := ""
	logged := false // output lines were printed for the step under way
	handle := func(ev sseEvent) (bool, error) {
		if ev.ID != "" {
			lastID = ev.ID
		}
		if o.JSON {
			line, err := json.Marshal(struct {
				Event string          `json:"event"`
				Data  json.RawMessage `json:"data"`
			}{ev.Event, ev.Data})
			if err != nil {
				return true, fmt.Errorf("event %s: %w", ev.Event, err)
			}
			fmt.Fprintf(w, "%s\n", line)
		}
		switch ev.Event {
		case "step":
			var st fountain.Step
			if err := json.Unmarshal(ev.Data, &st); err != nil {
				return true, fmt.Errorf("decode step event: %w", err)
			}
			if o.JSON {
				return false, nil
			}
			if st.Status == fountain.StepRunning {
				fmt.Fprintf(w, "%s  %s\n", stepMark(st.Status), st.Name)
			} else {
				printStepEnd(w, st, !logged)
			}
			logged = false
		case "log":
			var l api.LogEvent
			if err := json.Unmarshal(ev.Data, &l); err != nil {
				return true, fmt.Errorf("decode log event: %w", err)
			}
			if !o.JSON {
				printIndented(w, l.Line)
			}
			logged = true
		case "end":
			end = &fountain.Operation{}
			if err := json.Unmarshal(ev.Data, end); err != nil {
				return true, fmt.Errorf("decode end event: %w", err)
			}
			return true, nil
		}
		return false, nil
	}
	var err error
	for attempt := 0; end == nil && attempt < maxResumes; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(time.Duration(attempt) * 500 * time.Millisecond):
			}
		}
		var resp *http.Response
		req := request{method: http.MethodGet, path: "/operations/" + url.PathEscape(o.ID) + "/events", accept: "text/event-stream"}
		if lastID != "" {
			req.header = http.Header{"Last-Event-ID": {lastID}}
		}
		resp, err = c.send(ctx, req)
		if err != nil {
			var apiErr *APIError
			if errors.As(err, &apiErr) || ctx.Err() != nil {
				return nil, err // an answer, not a dropped connection
			}
			continue
		}
		err = readSSE(resp.Body, handle)
		resp.Body.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if err != nil {
		return nil, err
	}
	if end == nil {
		return nil, fmt.Errorf("follow operation %s: the event stream ended before the operation did; see `fountain ops show %s`", o.ID, o.ID)
	}
	return end, nil
}
