package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/api"
)

// DefaultURL is the server client commands talk to when FOUNTAIN_URL is unset.
const DefaultURL = "http://127.0.0.1:8000"

// Client calls the Fountain HTTP API with a bearer token. Errors the API
// answers (problem+json) come back as *APIError.
type Client struct {
	BaseURL string // e.g. http://127.0.0.1:8000
	Token   string
	HTTP    *http.Client // nil: http.DefaultClient
}

// APIError is an error answer of the API: an RFC 9457 problem with
// Fountain's extensions.
type APIError struct {
	StatusCode  int                 `json:"-"`
	Title       string              `json:"title,omitempty"`
	Detail      string              `json:"detail,omitempty"`
	Code        string              `json:"code,omitempty"`
	Hint        string              `json:"hint,omitempty"`
	OperationID string              `json:"operation_id,omitempty"`
	Operation   *fountain.Operation `json:"operation,omitempty"`
	Errors      []FieldError        `json:"errors,omitempty"`
}

// FieldError is one per-field detail of an APIError.
type FieldError struct {
	Location string `json:"location,omitempty"`
	Message  string `json:"message,omitempty"`
	Value    any    `json:"value,omitempty"`
}

func (e *APIError) Error() string {
	if e.Detail != "" {
		return e.Detail
	}
	if e.Title != "" {
		return e.Title
	}
	return fmt.Sprintf("HTTP %d", e.StatusCode)
}

// request is one API call.
type request struct {
	method string
	path   string      // e.g. /aws/lightsail/instances
	query  url.Values  // may be nil
	body   any         // sent as JSON when not nil
	async  bool        // send Prefer: respond-async
	accept string      // default application/json
	header http.Header // extra headers
}

// send performs the request and returns the response when its status is
// below 400; otherwise the body is decoded into an *APIError.
func (c *Client) send(ctx context.Context, r request) (*http.Response, error) {
	u := strings.TrimRight(c.BaseURL, "/") + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	var body io.Reader
	if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, body)
	if err != nil {
		return nil, fmt.Errorf("bad server URL %q: %w", c.BaseURL, err)
	}
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	accept := r.accept
	if accept == "" {
		accept = "application/json"
	}
	req.Header.Set("Accept", accept)
	req.Header.Set("User-Agent", "fountain-cli/"+api.Version)
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	if r.async {
		req.Header.Set("Prefer", "respond-async")
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("cannot reach Fountain at %s (is `fountain serve` running? set FOUNTAIN_URL): %w", c.BaseURL, err)
	}
	if resp.StatusCode >= 400 {
		defer resp.Body.Close()
		return nil, decodeProblem(resp)
	}
	return resp, nil
}

// decodeProblem reads an error answer. Answers that are not problem
// documents (a proxy's HTML page, say) keep their status and a short detail.
func decodeProblem(resp *http.Response) *APIError {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	e := &APIError{}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if strings.HasSuffix(mt, "json") {
		if err := json.Unmarshal(b, e); err != nil {
			e = &APIError{}
		}
	}
	e.StatusCode = resp.StatusCode
	if e.Detail == "" && e.Title == "" {
		e.Detail = http.StatusText(resp.StatusCode)
		if s := strings.TrimSpace(string(b)); s != "" && len(s) <= 200 && !strings.HasPrefix(s, "{") {
			e.Detail += ": " + s
		}
	}
	return e
}

// do performs the request and decodes the JSON answer into out (if not
// nil). It returns the raw answer, which --json prints.
func (c *Client) do(ctx context.Context, r request, out any) ([]byte, error) {
	resp, err := c.send(ctx, r)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("read answer of %s %s: %w", r.method, r.path, err)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return nil, fmt.Errorf("decode answer of %s %s: %w", r.method, r.path, err)
		}
	}
	return raw, nil
}

// get calls GET path with query and decodes the answer into out.
func (c *Client) get(ctx context.Context, path string, query url.Values, out any) ([]byte, error) {
	return c.do(ctx, request{method: http.MethodGet, path: path, query: query}, out)
}

// mutate calls a mutating route with body. With async, the API answers at
// once with an accepted OperationResult.
func (c *Client) mutate(ctx context.Context, path string, body any, async bool) (api.OperationResult, []byte, error) {
	return c.mutateWith(ctx, http.MethodPost, path, nil, body, async)
}

// mutateWith is mutate with another method (PUT, DELETE) and a query.
func (c *Client) mutateWith(ctx context.Context, method, path string, query url.Values, body any, async bool) (api.OperationResult, []byte, error) {
	var res api.OperationResult
	raw, err := c.do(ctx, request{method: method, path: path, query: query, body: body, async: async}, &res)
	if errors.Is(err, context.Canceled) && !async {
		return res, nil, fmt.Errorf("%w: the operation may still be running on the server; see `fountain ops list`", err)
	}
	if err != nil {
		return res, nil, err
	}
	if res.Operation == nil {
		return res, raw, fmt.Errorf("the server's answer to %s %s has no operation", method, path)
	}
	return res, raw, nil
}

// region returns a query with region set, or nil when region is empty (the
// server's default region).
func regionQuery(region string) url.Values {
	if region == "" {
		return nil
	}
	return url.Values{"region": {region}}
}
