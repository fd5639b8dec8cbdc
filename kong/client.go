package kong

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/fountainai/fountain"
)

// Client speaks to a Kong node's Admin API.
type Client struct {
	// HTTP sends the requests (Fountain's reaches the host's 127.0.0.1:8001
	// through SSH); nil is http.DefaultClient.
	HTTP *http.Client
	// BaseURL is the Admin API's address, like http://127.0.0.1:8001.
	BaseURL string

	// maxWait bounds one wait on 429 (0: maxRetryWait); tests shorten it.
	maxWait time.Duration
}

// Bounds of Load's waiting while Kong loads another configuration (429).
const (
	// loadAttempts is how many times Load posts a configuration.
	loadAttempts = 4
	// maxRetryWait bounds one wait (Kong asks for at most 10 s).
	maxRetryWait = 10 * time.Second
)

// Limits on the answers read.
const (
	maxAnswer       = 1 << 20
	maxConfigAnswer = 64 << 20
)

// Status is GET /status: the running configuration's hash and the
// server's connection counters.
type Status struct {
	// ConfigurationHash is the running configuration's hash (Kong's md5 of
	// its text; EmptyHash when it has no entities).
	ConfigurationHash string `json:"configuration_hash"`
	// Server holds nginx's counters.
	Server ServerStatus `json:"server"`
}

// ServerStatus is the "server" object of GET /status.
type ServerStatus struct {
	// Connection counters, as nginx's stub_status gives them, and the
	// requests served.
	ConnectionsAccepted int64 `json:"connections_accepted"`
	ConnectionsActive   int64 `json:"connections_active"`
	ConnectionsHandled  int64 `json:"connections_handled"`
	ConnectionsReading  int64 `json:"connections_reading"`
	ConnectionsWaiting  int64 `json:"connections_waiting"`
	ConnectionsWriting  int64 `json:"connections_writing"`
	TotalRequests       int64 `json:"total_requests"`
}

// Info is what GET / says about the node.
type Info struct {
	// Version is Kong's version, like 3.9.1.
	Version string `json:"version"`
	// Tagline is Kong's greeting ("Welcome to kong"); Fountain's stand-in
	// names itself there.
	Tagline string `json:"tagline"`
	// Edition is "community" or "enterprise" (empty before 3.x).
	Edition string `json:"edition,omitempty"`
	// Hostname and NodeID identify the node.
	Hostname string `json:"hostname"`
	NodeID   string `json:"node_id"`
	// Database is the configured database: "off" in DB-less mode.
	Database string `json:"database"`
	// Standin is true when the node is Fountain's sandbox stand-in for
	// Kong, not Kong.
	Standin bool `json:"standin,omitempty"`
}

// Status asks GET /status.
func (c *Client) Status(ctx context.Context) (*Status, error) {
	var s Status
	if _, err := c.getJSON(ctx, "/status", &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// Info asks GET /.
func (c *Client) Info(ctx context.Context) (*Info, error) {
	var body struct {
		Info
		Configuration struct {
			Database        string `json:"database"`
			FountainStandin bool   `json:"fountain_standin"`
		} `json:"configuration"`
	}
	h, err := c.getJSON(ctx, "/", &body)
	if err != nil {
		return nil, err
	}
	info := body.Info
	info.Database = body.Configuration.Database
	info.Standin = body.Configuration.FountainStandin || h.Get("X-Fountain-Standin") != ""
	return &info, nil
}

// Config asks GET /config for the running configuration, as the YAML
// Kong exports (entities with their ids and every field).
func (c *Client) Config(ctx context.Context) (string, error) {
	var body struct {
		Config *string `json:"config"`
	}
	if _, err := c.getJSON(ctx, "/config", &body); err != nil {
		return "", err
	}
	if body.Config == nil {
		return "", fountain.Errorf(fountain.EUPSTREAM, "Kong's GET /config answered without a config")
	}
	return *body.Config, nil
}

// Load makes Kong run the configuration yamlText (POST /config with
// flatten_errors and check_hash, the text in a JSON body's "config"
// field). It reports false when Kong already ran that very text (304) and
// true when Kong loaded it (201). A configuration Kong refuses (400) is a
// *ConfigError (EINVALID), and Kong keeps running the previous one. While
// Kong loads another configuration (429) Load waits as Kong asks (at most
// 10 s each time, and not past ctx) and tries again, 4 times in all, then
// gives up with ERATELIMITED. Other failures are EUPSTREAM.
func (c *Client) Load(ctx context.Context, yamlText string) (changed bool, err error) {
	body, err := json.Marshal(map[string]string{"config": yamlText})
	if err != nil {
		return false, &fountain.Error{Code: fountain.EINTERNAL, Message: "encode the configuration", Err: err}
	}
	for attempt := 1; ; attempt++ {
		req, err := c.request(ctx, http.MethodPost, "/config?flatten_errors=1&check_hash=1", bytes.NewReader(body))
		if err != nil {
			return false, err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.do(ctx, req, "POST /config")
		if err != nil {
			return false, err
		}
		switch resp.StatusCode {
		case http.StatusCreated, http.StatusOK:
			drain(resp)
			return true, nil
		case http.StatusNotModified:
			drain(resp)
			return false, nil
		case http.StatusBadRequest:
			raw, rerr := read(resp, maxConfigAnswer)
			if rerr != nil {
				return false, readError(ctx, "POST /config", rerr)
			}
			if ce := parseConfigError(raw); ce != nil {
				return false, ce
			}
			return false, answerError("POST /config", resp.StatusCode, raw)
		case http.StatusTooManyRequests:
			wait := retryAfter(resp.Header.Get("Retry-After"), time.Now())
			if c.maxWait > 0 {
				wait = min(wait, c.maxWait)
			}
			raw, _ := read(resp, maxAnswer)
			if attempt >= loadAttempts {
				return false, &fountain.Error{Code: fountain.ERATELIMITED,
					Message: fmt.Sprintf("Kong is still loading another configuration after %d tries: %s", attempt, kongMessage(raw)),
					Hint:    "try again in a few seconds"}
			}
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return false, ctxError(ctx, "POST /config")
			case <-t.C:
			}
		default:
			raw, _ := read(resp, maxAnswer)
			return false, answerError("POST /config", resp.StatusCode, raw)
		}
	}
}

// retryAfter reads a Retry-After header (seconds or an HTTP date), within
// 1 s (also when missing) and maxRetryWait.
func retryAfter(h string, now time.Time) time.Duration {
	d := time.Second
	if s, err := strconv.Atoi(strings.TrimSpace(h)); err == nil {
		d = time.Duration(s) * time.Second
	} else if t, err := http.ParseTime(h); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, time.Second), maxRetryWait)
}

// getJSON GETs path and decodes a 200 answer into v; it returns the
// answer's headers.
func (c *Client) getJSON(ctx context.Context, path string, v any) (http.Header, error) {
	req, err := c.request(ctx, http.MethodGet, path, nil)
	if err != nil {
		return nil, err
	}
	what := "GET " + path
	resp, err := c.do(ctx, req, what)
	if err != nil {
		return nil, err
	}
	limit := int64(maxAnswer)
	if path == "/config" {
		limit = maxConfigAnswer
	}
	raw, err := read(resp, limit)
	if err != nil {
		return nil, readError(ctx, what, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, answerError(what, resp.StatusCode, raw)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return nil, &fountain.Error{Code: fountain.EUPSTREAM, Message: what + ": Kong's answer is not the JSON expected", Err: err}
	}
	return resp.Header, nil
}

// request makes a request to the Admin API.
func (c *Client) request(ctx context.Context, method, path string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.BaseURL, "/")+path, body)
	if err != nil {
		return nil, &fountain.Error{Code: fountain.EINTERNAL, Message: "Kong Admin API address " + strconv.Quote(c.BaseURL), Err: err}
	}
	req.Header.Set("Accept", "application/json")
	return req, nil
}

// do sends req.
func (c *Client) do(ctx context.Context, req *http.Request, what string) (*http.Response, error) {
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctxError(ctx, what)
		}
		return nil, &fountain.Error{Code: fountain.EUPSTREAM, Message: what + ": Kong's Admin API does not answer", Err: err}
	}
	return resp, nil
}

// read reads at most limit bytes of an answer and closes it.
func read(resp *http.Response, limit int64) ([]byte, error) {
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err == nil && int64(len(b)) > limit {
		err = fmt.Errorf("answer larger than %d bytes", limit)
	}
	return b, err
}

// drain discards a little of an answer, so the connection can be reused,
// and closes it.
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswer))
	resp.Body.Close()
}

// readError is the error of an answer that could not be read.
func readError(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil {
		return ctxError(ctx, what)
	}
	return &fountain.Error{Code: fountain.EUPSTREAM, Message: what + ": reading Kong's answer failed", Err: err}
}

// answerError is EUPSTREAM for an unexpected answer, with Kong's message.
func answerError(what string, status int, raw []byte) error {
	return &fountain.Error{Code: fountain.EUPSTREAM,
		Message: fmt.Sprintf("%s: Kong answered %d %s: %s", what, status, http.StatusText(status), kongMessage(raw))}
}

// kongMessage is the "message" of a Kong answer, or a short excerpt of it.
func kongMessage(raw []byte) string {
	var body struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(raw, &body) == nil && body.Message != "" {
		return clip(body.Message, 300)
	}
	s := strings.TrimSpace(string(raw))
	if s == "" {
		return "no message"
	}
	return clip(strings.ToValidUTF8(s, "?"), 200)
}

// clip cuts s to n bytes.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "..."
}

// ctxError is the error of a request stopped by its context: ECANCELLED
// if it was cancelled, EUPSTREAM if its deadline passed.
func ctxError(ctx context.Context, what string) error {
	err := context.Cause(ctx)
	if errors.Is(ctx.Err(), context.Canceled) {
		return &fountain.Error{Code: fountain.ECANCELLED, Message: what + ": cancelled", Err: err}
	}
	return &fountain.Error{Code: fountain.EUPSTREAM, Message: what + ": timed out", Err: err}
}

// TargetHealth is one target of an upstream as a node's balancer sees it
// (GET /upstreams/{name}/health).
type TargetHealth struct {
	Target string `json:"target" doc:"address:port"`
	Weight int    `json:"weight" doc:"Its weight (0: it receives nothing)."`
	// Health is HEALTHY, UNHEALTHY, DNS_ERROR or HEALTHCHECKS_OFF.
	Health string `json:"health" doc:"HEALTHY, UNHEALTHY, DNS_ERROR or HEALTHCHECKS_OFF (no active check on it)."`
}

// UpstreamHealth asks GET /upstreams/{name}/health.
func (c *Client) UpstreamHealth(ctx context.Context, name string) ([]TargetHealth, error) {
	var body struct {
		Data []TargetHealth `json:"data"`
	}
	if _, err := c.getJSON(ctx, "/upstreams/"+url.PathEscape(name)+"/health", &body); err != nil {
		return nil, err
	}
	return body.Data, nil
}
