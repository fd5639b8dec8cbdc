// Package ghcr lists the tags of a container image in GitHub Container
// Registry (or any OCI registry) with their digests and creation times,
// through the registry's token flow: anonymous for public images, Basic
// credentials (a GitHub user and a token with read:packages) exchanged for
// a bearer token for private ones. It wraps go-containerregistry's remote
// package.
//
// The work is bounded: at most MaxTags tags are described, with a few
// requests in flight, and the whole call has a timeout.
package ghcr

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/github"
)

// Defaults of Options.
const (
	DefaultMaxTags     = 100
	DefaultTimeout     = 30 * time.Second
	DefaultConcurrency = 4
)

// FieldImage is the request field named in validation errors.
const FieldImage = "image"

// Options configure a Client.
type Options struct {
	// Username and Password are the default credentials for the token
	// flow: for GHCR a GitHub user and a classic token with
	// read:packages. Empty: anonymous (public images only).
	Username string
	Password string
	// MaxTags bounds the tags described per call (default 100).
	MaxTags int
	// Timeout bounds a whole call (default 30 s).
	Timeout time.Duration
	// Concurrency is how many tags are described at once (default 4).
	Concurrency int
	// Transport sends the requests (default remote.DefaultTransport).
	Transport http.RoundTripper
	// Now returns the time (default time.Now).
	Now func() time.Time
}

// Client lists tags. It is safe for concurrent use.
type Client struct {
	opts Options
}

// New returns a Client.
func New(opts Options) *Client {
	if opts.MaxTags <= 0 {
		opts.MaxTags = DefaultMaxTags
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultConcurrency
	}
	if opts.Transport == nil {
		opts.Transport = remote.DefaultTransport
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Client{opts: opts}
}

// ListInput asks for the tags of an image.
type ListInput struct {
	// Image is the repository, e.g. ghcr.io/user/repo/my-app; a tag or
	// digest on it is ignored (the repository's tags are listed).
	Image string `json:"image"`
	// Limit, if positive and below the client's MaxTags, describes fewer.
	Limit int `json:"limit,omitempty"`
	// Username and Password, if set, replace the client's credentials for
	// this call only.
	Username string `json:"-"`
	Password string `json:"-"`
}

// Tag is one tag of an image.
type Tag struct {
	Name      string     `json:"tag" doc:"The tag."`
	Digest    string     `json:"digest,omitempty" doc:"The digest the tag points to (a manifest or an index): deploy by digest to be sure of what runs."`
	MediaType string     `json:"media_type,omitempty" doc:"The manifest's media type (an image, or an index of platforms)."`
	Created   *time.Time `json:"created,omitempty" doc:"When the image was built: the config's created, for an index that of its first platform image."`
	Error     string     `json:"error,omitempty" doc:"Why this tag could not be described, if it could not."`
}

// TagList is the answer of ListTags.
type TagList struct {
	Image     string `json:"image" doc:"The repository, in full (registry/path)."`
	Tags      []Tag  `json:"tags" doc:"The tags described, newest first; those without a creation time last."`
	Total     int    `json:"total" doc:"How many tags the registry has."`
	Truncated bool   `json:"truncated" doc:"Whether only some tags were described (at most the limit, in the registry's order)."`
}

// ParseRepository parses an image reference with go-containerregistry's
// parser and returns its repository. The registry must be named (ghcr.io/...,
// 127.0.0.1:5000/..., localhost/...): Fountain does not guess Docker Hub.
func ParseRepository(field, image string) (name.Repository, error) {
	if image == "" {
		return name.Repository{}, fountain.Invalid(field, "is empty; name the image, e.g. ghcr.io/user/repo/my-app")
	}
	first, _, ok := strings.Cut(image, "/")
	if !ok || (first != "localhost" && !strings.ContainsAny(first, ".:")) {
		return name.Repository{}, fountain.Invalid(field, "%q does not name its registry; write it in full, e.g. ghcr.io/%s", image, image)
	}
	ref, err := name.ParseReference(image)
	if err != nil {
		return name.Repository{}, fountain.Invalid(field, "%q is not an image reference: %v", image, err)
	}
	return ref.Context(), nil
}

// ListTags lists the tags of in.Image with their digests and creation
// times, newest first.
func (c *Client) ListTags(ctx context.Context, in ListInput) (*TagList, error) {
	repo, err := ParseRepository(FieldImage, in.Image)
	if err != nil {
		return nil, err
	}
	limit := c.opts.MaxTags
	if in.Limit > 0 && in.Limit < limit {
		limit = in.Limit
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()

	var auth authn.Authenticator = authn.Anonymous
	user, pass := c.opts.Username, c.opts.Password
	if in.Username != "" || in.Password != "" {
		user, pass = in.Username, in.Password
	}
	if user != "" || pass != "" {
		auth = &authn.Basic{Username: user, Password: pass}
	}
	puller, err := remote.NewPuller(
		remote.WithAuth(auth),
		remote.WithTransport(c.opts.Transport),
		remote.WithContext(ctx),
		remote.WithUserAgent("fountain"),
		// One quick retry of transient failures; a rate limit goes back to
		// the caller at once.
		remote.WithRetryBackoff(remote.Backoff{Duration: 250 * time.Millisecond, Factor: 2, Steps: 2}),
		remote.WithRetryStatusCodes(http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout),
	)
	if err != nil {
		return nil, fmt.Errorf("registry client: %w", err)
	}
	names, err := puller.List(ctx, repo)
	if err != nil {
		return nil, c.registryError(ctx, repo, user != "" || pass != "", err)
	}
	out := &TagList{Image: repo.Name(), Total: len(names), Tags: []Tag{}}
	if len(names) > limit {
		names, out.Truncated = names[:limit], true
	}
	tags := make([]Tag, len(names))
	sem := make(chan struct{}, c.opts.Concurrency)
	var wg sync.WaitGroup
	for i, tag := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				tags[i] = Tag{Name: tag, Error: "not described: " + ctx.Err().Error()}
				return
			}
			defer func() { <-sem }()
			tags[i] = describe(ctx, puller, repo.Tag(tag))
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, c.registryError(ctx, repo, false, err)
	}
	sort.SliceStable(tags, func(i, j int) bool {
		a, b := tags[i].Created, tags[j].Created
		switch {
		case a != nil && b != nil && !a.Equal(*b):
			return a.After(*b)
		case (a == nil) != (b == nil):
			return a != nil
		}
		return tags[i].Name < tags[j].Name
	})
	out.Tags = tags
	return out, nil
}

// describe fetches a tag's descriptor and its image config's creation time.
func describe(ctx context.Context, p *remote.Puller, ref name.Tag) Tag {
	t := Tag{Name: ref.TagStr()}
	desc, err := p.Get(ctx, ref)
	if err != nil {
		t.Error = "describe: " + err.Error()
		return t
	}
	t.Digest, t.MediaType = desc.Digest.String(), string(desc.MediaType)
	var img v1.Image
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err == nil {
			img, err = firstImage(idx)
		}
		if err != nil {
			t.Error = "read index: " + err.Error()
			return t
		}
	} else {
		if img, err = desc.Image(); err != nil {
			t.Error = "read image: " + err.Error()
			return t
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Error = "read config: " + err.Error()
		return t
	}
	if !cf.Created.IsZero() {
		created := cf.Created.UTC()
		t.Created = &created
	}
	return t
}

// firstImage returns the index's first platform image, skipping
// attestation manifests (platform unknown/unknown).
func firstImage(idx v1.ImageIndex) (v1.Image, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	for _, m := range im.Manifests {
		if !m.MediaType.IsImage() {
			continue
		}
		if m.Platform != nil && m.Platform.OS == "unknown" {
			continue
		}
		return idx.Image(m.Digest)
	}
	return nil, errors.New("the index holds no platform image")
}

// registryError maps an error of the registry to a *fountain.Error.
func (c *Client) registryError(ctx context.Context, repo name.Repository, withCreds bool, err error) error {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &fountain.Error{Code: fountain.EUNAVAILABLE,
			Message: fmt.Sprintf("listing the tags of %s took longer than %s", repo.Name(), c.opts.Timeout), Err: err}
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	var te *transport.Error
	if !errors.As(err, &te) {
		return &fountain.Error{Code: fountain.EUNAVAILABLE, Message: fmt.Sprintf("cannot reach the registry %s", repo.RegistryStr()), Err: err}
	}
	codes := map[transport.ErrorCode]bool{}
	for _, d := range te.Errors {
		codes[d.Code] = true
	}
	private := "if the image is private, configure a GHCR user and a token with read:packages"
	if withCreds {
		private = "check the registry user and token (for GHCR a classic token with read:packages)"
	}
	switch {
	case te.StatusCode == http.StatusTooManyRequests || codes[transport.TooManyRequestsErrorCode]:
		return github.NewRateLimited("the registry "+repo.RegistryStr(), c.opts.Now(), time.Minute, err)
	case te.StatusCode == http.StatusUnauthorized || codes[transport.UnauthorizedErrorCode]:
		return &fountain.Error{Code: fountain.EUPSTREAM, Message: fmt.Sprintf("the registry %s refused the credentials for %s", repo.RegistryStr(), repo.Name()),
			Hint: private, Err: err}
	case te.StatusCode == http.StatusForbidden || codes[transport.DeniedErrorCode]:
		return &fountain.Error{Code: fountain.EFORBIDDEN, Message: fmt.Sprintf("the registry %s denied access to %s", repo.RegistryStr(), repo.Name()),
			Hint: private, Err: err}
	case te.StatusCode == http.StatusNotFound || codes[transport.NameUnknownErrorCode]:
		return &fountain.Error{Code: fountain.ENOTFOUND, Message: fmt.Sprintf("image %s not found", repo.Name()),
			Hint: "registries answer so also for private images the credentials cannot see; " + private, Err: err}
	}
	return &fountain.Error{Code: fountain.EUPSTREAM, Message: fmt.Sprintf("the registry %s answered %d for %s", repo.RegistryStr(), te.StatusCode, repo.Name()), Err: err}
}
