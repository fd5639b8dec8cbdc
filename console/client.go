package console

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// client calls the API's own handler in process, with the server's
// token: every read and change the console makes is an API request, so
// validation, operations, the audit log and masking are the API's.
type client struct {
	api   http.Handler
	token string
}

// answer is a buffered API response.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// problem is an API error answer (RFC 9457), as the console shows it.
type problem struct {
	Status      int           `json:"status"`
	Title       string        `json:"title"`
	Detail      string        `json:"detail"`
	Code        string        `json:"code"`
	Hint        string        `json:"hint"`
	OperationID string        `json:"operation_id"`
	Operation   *operation    `json:"operation"`
	Errors      []fieldDetail `json:"errors"`
}

// fieldDetail is one field's error in a problem.
type fieldDetail struct {
	Message  string `json:"message"`
	Location string `json:"location"`
}

func (p *problem) Error() string {
	if p.Detail != "" {
		return p.Detail
	}
	return fmt.Sprintf("the API answered %d", p.Status)
}

// call sends one request to the API. body, if not nil, is sent as JSON.
func (c *client) call(ctx context.Context, method, path string, query url.Values, body any, header http.Header) (*answer, error) {
	var rd *bytes.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode the request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	r, err := c.request(ctx, method, path, query, rd)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		r.Header[k] = v
	}
	w := &bufferWriter{header: http.Header{}}
	c.api.ServeHTTP(w, r)
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return &answer{status: w.status, header: w.header, body: w.buf.Bytes()}, nil
}

// request builds an API request carrying the server's token.
func (c *client) request(ctx context.Context, method, path string, query url.Values, body *bytes.Reader) (*http.Request, error) {
	u := &url.URL{Path: path}
	if len(query) > 0 {
		u.RawQuery = query.Encode()
	}
	var r *http.Request
	var err error
	if body != nil {
		r, err = http.NewRequestWithContext(ctx, method, u.String(), body)
		r.Header.Set("Content-Type", "application/json")
	} else {
		r, err = http.NewRequestWithContext(ctx, method, u.String(), nil)
	}
	if err != nil {
		return nil, fmt.Errorf("build the API request: %w", err)
	}
	r.RequestURI = u.RequestURI()
	r.RemoteAddr = "console"
	r.Header.Set("Authorization", "Bearer "+c.token)
	r.Header.Set("Accept", "application/json")
	return r, nil
}

// get reads a route and decodes its JSON answer into out; an error
// answer is a *problem.
func (c *client) get(ctx context.Context, path string, query url.Values, out any) error {
	a, err := c.call(ctx, http.MethodGet, path, query, nil, nil)
	if err != nil {
		return err
	}
	return a.decode(out)
}

// decode decodes a success into out, or returns the problem.
func (a *answer) decode(out any) error {
	if a.status >= 300 {
		return a.problem()
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(a.body, out); err != nil {
		return fmt.Errorf("read the API's answer: %w", err)
	}
	return nil
}

// problem is the answer as a problem.
func (a *answer) problem() *problem {
	p := &problem{}
	if err := json.Unmarshal(a.body, p); err != nil || p.Status == 0 {
		p.Status = a.status
		if p.Detail == "" {
			p.Detail = strings.TrimSpace(string(a.body))
		}
	}
	return p
}

// bufferWriter is a ResponseWriter that keeps the answer in memory.
type bufferWriter struct {
	header http.Header
	status int
	buf    bytes.Buffer
}

func (b *bufferWriter) Header() http.Header { return b.header }

func (b *bufferWriter) WriteHeader(status int) {
	if b.status == 0 {
		b.status = status
	}
}

func (b *bufferWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.buf.Write(p)
}
