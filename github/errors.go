package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	gh "github.com/google/go-github/v75/github"

	"github.com/fountainai/fountain"
)

// Hints given with GitHub's refusals.
const (
	hintBadToken = "GitHub did not accept the token: check GITHUB_TOKEN (or the github_token sent with the call) " +
		"is current; a classic token needs the repo scope, a fine-grained token Secrets: read and write on the repository"
	hintForbidden = "the token may not do this: a classic token needs the repo scope (and workflow to change files " +
		"under .github/workflows); a fine-grained token needs Secrets: read and write (Contents and Workflows: write " +
		"to install a workflow) on this repository"
	hintRateLimited = "wait until the time given, or use another token"
)

// RateLimitError is the cause inside an ERATELIMITED *fountain.Error: when
// GitHub will take calls again. The API turns it into Retry-After.
type RateLimitError struct {
	// Until is when the limit lifts.
	Until time.Time
	// RetryAfter is how long that was from when the answer came.
	RetryAfter time.Duration
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("rate limited until %s", e.Until.UTC().Format(time.RFC3339))
}

// RetryAfter returns how long to wait before retrying, when err is (or
// wraps) a rate limit from GitHub or a registry.
func RetryAfter(err error) (time.Duration, bool) {
	var rl *RateLimitError
	if errors.As(err, &rl) {
		return rl.RetryAfter, true
	}
	return 0, false
}

// NewRateLimited returns the ERATELIMITED error of a refusal by service
// (e.g. "GitHub") that lifts after d, measured from now.
func NewRateLimited(service string, now time.Time, d time.Duration, cause error) error {
	if d < 0 {
		d = 0
	}
	d = d.Round(time.Second)
	until := now.Add(d)
	return &fountain.Error{Code: fountain.ERATELIMITED,
		Message: fmt.Sprintf("%s's rate limit is exhausted: retry after %s (in %s)", service, until.UTC().Format(time.RFC3339), d),
		Hint:    hintRateLimited,
		Err:     errors.Join(&RateLimitError{Until: until, RetryAfter: d}, cause)}
}

// apiError maps an error of a go-github call to a *fountain.Error. what says
// what was being done ("get the public key of o/r"); notFound is the message
// for a 404 (GitHub answers 404 both for what does not exist and for what
// the token may not see).
func (c *Client) apiError(what, notFound string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	now := c.opts.Now()
	var (
		rl *gh.RateLimitError
		ab *gh.AbuseRateLimitError
		er *gh.ErrorResponse
	)
	switch {
	case errors.As(err, &rl):
		return NewRateLimited("GitHub", now, rl.Rate.Reset.Sub(now), err)
	case errors.As(err, &ab):
		d := time.Minute
		if ab.RetryAfter != nil {
			d = *ab.RetryAfter
		}
		return NewRateLimited("GitHub", now, d, err)
	case errors.As(err, &er) && er.Response != nil:
		status := er.Response.StatusCode
		msg := er.Message
		if msg == "" {
			msg = http.StatusText(status)
		}
		switch status {
		case http.StatusUnauthorized:
			return &fountain.Error{Code: fountain.EUPSTREAM, Message: fmt.Sprintf("%s: GitHub rejected the token (401 %s)", what, msg), Hint: hintBadToken, Err: err}
		case http.StatusForbidden:
			return &fountain.Error{Code: fountain.EFORBIDDEN, Message: fmt.Sprintf("%s: GitHub refused (403 %s)", what, msg), Hint: hintForbidden, Err: err}
		case http.StatusNotFound:
			return &fountain.Error{Code: fountain.ENOTFOUND, Message: notFound,
				Hint: "GitHub answers 404 also when the token cannot see a private repository", Err: err}
		case http.StatusTooManyRequests:
			return NewRateLimited("GitHub", now, retryDelay(er.Response.Header, now), err)
		case http.StatusUnprocessableEntity, http.StatusConflict:
			return &fountain.Error{Code: fountain.EUPSTREAM, Message: fmt.Sprintf("%s: GitHub rejected the request (%d %s)", what, status, msg), Err: err}
		}
		return &fountain.Error{Code: fountain.EUPSTREAM, Message: fmt.Sprintf("%s: GitHub answered %d %s", what, status, msg), Err: err}
	}
	return &fountain.Error{Code: fountain.EUNAVAILABLE, Message: fmt.Sprintf("%s: cannot reach GitHub at %s", what, c.base.Host), Err: err}
}

// retryDelay reads how long to wait from a rate-limited answer's headers:
// Retry-After (seconds), else x-ratelimit-reset (Unix time), else a minute.
func retryDelay(h http.Header, now time.Time) time.Duration {
	if s := h.Get("Retry-After"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n >= 0 {
			return time.Duration(n) * time.Second
		}
		if t, err := http.ParseTime(s); err == nil {
			return t.Sub(now)
		}
	}
	if s := h.Get("X-Ratelimit-Reset"); s != "" {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return time.Unix(n, 0).Sub(now)
		}
	}
	return time.Minute
}

// isNotFound reports whether err is GitHub's 404.
func isNotFound(err error) bool {
	var er *gh.ErrorResponse
	return errors.As(err, &er) && er.Response != nil && er.Response.StatusCode == http.StatusNotFound
}
