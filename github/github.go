// Package github is Fountain's GitHub adapter: Actions secrets of a
// repository or of one of its environments (sealed with the repository's
// public key before they leave Fountain), and the docker-ci.yml workflow
// Fountain renders for an app and commits through the contents API. It wraps
// go-github; the registry side of GitHub (GHCR tags) is in github/ghcr.
//
// Every call validates its input first (pure functions, *fountain.Error with
// code EINVALID and the field), then observes GitHub and Fountain's record
// into facts, plans (pure functions: plan.go) and applies the plan, in
// steps recorded on a fountain.Recorder (an *operation.Run); a dry run only
// plans. It maps GitHub's answers to Fountain's error
// codes: a bad token is EUPSTREAM with a hint, a refused permission
// EFORBIDDEN, a missing repository ENOTFOUND, a rate limit ERATELIMITED with
// the time to retry (see RetryAfter).
//
// The client has a default token (the server's GITHUB_TOKEN) and base URL
// (GITHUB_API_URL, default https://api.github.com/). A token passed with a
// call is used for that call only: it is never stored, logged or put in an
// error.
package github

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	gh "github.com/google/go-github/v75/github"

	"github.com/fountainai/fountain"
)

// DefaultBaseURL is GitHub's REST API root.
const DefaultBaseURL = "https://api.github.com/"

// Options configure a Client.
type Options struct {
	// BaseURL is the REST API's root: GITHUB_API_URL, e.g.
	// https://ghe.example.com/api/v3 (default DefaultBaseURL).
	BaseURL string
	// Token is the default token (the server's GITHUB_TOKEN), used when a
	// call brings none. Classic tokens need the repo scope (and workflow to
	// install a workflow); fine-grained tokens need Secrets: read and write
	// (and Contents and Workflows: write to install a workflow).
	Token string
	// HTTPClient sends the requests (nil: one with a 30 s timeout).
	HTTPClient *http.Client
	// Store remembers Fountain's own writes of secrets, so that sending the
	// same value again changes nothing. Nil: every SetSecret writes.
	Store SecretStore
	// MACKey keys the HMAC-SHA256 of secret values that Store keeps instead
	// of the values (at least 32 bytes; required with Store). Keep it with
	// Fountain's other secrets; changing it makes the next SetSecret of
	// every secret write once.
	MACKey []byte
	// Now returns the time (default time.Now).
	Now func() time.Time
}

// Client talks to one GitHub API (github.com or an Enterprise server).
// It is safe for concurrent use.
type Client struct {
	opts Options
	base *url.URL
}

// New returns a Client for opts.
func New(opts Options) (*Client, error) {
	if opts.BaseURL == "" {
		opts.BaseURL = DefaultBaseURL
	}
	base, err := url.Parse(opts.BaseURL)
	if err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" {
		return nil, fmt.Errorf("github: base URL %q is not an http(s) URL", opts.BaseURL)
	}
	if !strings.HasSuffix(base.Path, "/") {
		base.Path += "/"
	}
	base.RawQuery, base.Fragment = "", ""
	if opts.Store != nil && len(opts.MACKey) < 32 {
		return nil, errors.New("github: a secret store needs a MAC key of at least 32 bytes")
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Client{opts: opts, base: base}, nil
}

// BaseURL returns the API root the client talks to, with a trailing slash.
func (c *Client) BaseURL() string { return c.base.String() }

// api returns a go-github client authenticated with token, or with the
// default token when token is "". The token lives only in the returned
// client's transport.
func (c *Client) api(token string) (*gh.Client, error) {
	if token == "" {
		token = c.opts.Token
	}
	if token == "" {
		return nil, &fountain.Error{Code: fountain.EUNAVAILABLE,
			Message: "no GitHub token: the server has no GITHUB_TOKEN and the call brought none",
			Hint:    "set GITHUB_TOKEN where Fountain runs, or send github_token with the call"}
	}
	api := gh.NewClient(c.opts.HTTPClient).WithAuthToken(token)
	u := *c.base
	api.BaseURL = &u
	api.UploadURL = &u
	return api, nil
}

// where names a secret's location for messages: "owner/repo" or
// "owner/repo environment prod".
func where(repo, env string) string {
	if env == "" {
		return repo
	}
	return fmt.Sprintf("%s environment %q", repo, env)
}
