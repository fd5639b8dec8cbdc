package ghcr_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/github"
	"github.com/fountainai/fountain/github/ghcr"
)

// ghcrLike wraps a registry with GHCR's token flow: every /v2/ request
// needs a bearer token, which /token issues for a pull scope, to anyone for
// public repositories and with Basic credentials for private ones.
type ghcrLike struct {
	next    http.Handler
	realm   string // http://HOST/token, set once the server listens
	user    string
	pass    string
	private map[string]bool // repository path -> private

	mu      sync.Mutex
	tokens  map[string]string // token -> scope it was issued for
	issued  atomic.Int64
	limited atomic.Bool
}

func (g *ghcrLike) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/token" {
		g.token(w, r)
		return
	}
	if g.limited.Load() {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprint(w, `{"errors":[{"code":"TOOMANYREQUESTS","message":"rate limited"}]}`)
		return
	}
	repo := ""
	if rest, ok := strings.CutPrefix(r.URL.Path, "/v2/"); ok && rest != "" {
		for _, sep := range []string{"/tags/", "/manifests/", "/blobs/"} {
			if i := strings.Index(rest, sep); i >= 0 {
				repo = rest[:i]
				break
			}
		}
	}
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	g.mu.Lock()
	scope, ok := g.tokens[tok]
	g.mu.Unlock()
	if !ok || (repo != "" && scope != "repository:"+repo+":pull") {
		challenge := fmt.Sprintf(`Bearer realm=%q,service="ghcr.io"`, g.realm)
		if repo != "" {
			challenge += fmt.Sprintf(`,scope="repository:%s:pull"`, repo)
		}
		w.Header().Set("WWW-Authenticate", challenge)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
		return
	}
	g.next.ServeHTTP(w, r)
}

func (g *ghcrLike) token(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	scope := q.Get("scope")
	repo := strings.TrimSuffix(strings.TrimPrefix(scope, "repository:"), ":pull")
	user, pass, basic := r.BasicAuth()
	switch {
	case q.Get("service") != "ghcr.io":
		http.Error(w, "bad service", http.StatusBadRequest)
		return
	case basic && (user != g.user || pass != g.pass):
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}`)
		return
	case g.private[repo] && !basic:
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
		return
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	tok := hex.EncodeToString(b)
	g.mu.Lock()
	if g.tokens == nil {
		g.tokens = map[string]string{}
	}
	g.tokens[tok] = scope
	g.mu.Unlock()
	g.issued.Add(1)
	_ = json.NewEncoder(w).Encode(map[string]string{"token": tok})
}

// fixture is a registry with images pushed under several tags.
type fixture struct {
	host    string // 127.0.0.1:PORT of the token-guarded registry
	gate    *ghcrLike
	digests map[string]string // tag -> digest
	created map[string]time.Time
}

var base = time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)

func newFixture(t *testing.T) *fixture {
	t.Helper()
	reg := registry.New()
	plain := httptest.NewServer(reg)
	t.Cleanup(plain.Close)
	gate := &ghcrLike{next: reg, user: "octocat", pass: "ghp_readpackages", private: map[string]bool{"acme/private": true}}
	guarded := httptest.NewServer(gate)
	t.Cleanup(guarded.Close)
	gate.realm = guarded.URL + "/token"
	f := &fixture{host: strings.TrimPrefix(guarded.URL, "http://"), gate: gate, digests: map[string]string{}, created: map[string]time.Time{}}

	push := strings.TrimPrefix(plain.URL, "http://")
	image := func(created time.Time) v1.Image {
		img, err := random.Image(256, 1)
		if err != nil {
			t.Fatal(err)
		}
		img, err = mutate.CreatedAt(img, v1.Time{Time: created})
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	write := func(repo, tag string, created time.Time) {
		img := image(created)
		ref, _ := name.NewTag(push + "/" + repo + ":" + tag)
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
		d, _ := img.Digest()
		f.digests[repo+":"+tag], f.created[repo+":"+tag] = d.String(), created
	}
	write("acme/app", "v1", base)
	write("acme/app", "v3", base.Add(48*time.Hour))
	write("acme/app", "v2", base.Add(24*time.Hour))
	// An index: an attestation manifest first, then the amd64 image.
	att, _ := random.Image(64, 1)
	amd := image(base.Add(72 * time.Hour))
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: att, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "unknown", Architecture: "unknown"}}},
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
	)
	ref, _ := name.NewTag(push + "/acme/app:latest")
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}
	d, _ := idx.Digest()
	f.digests["acme/app:latest"], f.created["acme/app:latest"] = d.String(), base.Add(72*time.Hour)
	write("acme/private", "v1", base)
	return f
}

func TestListTagsPublicNewestFirst(t *testing.T) {
	f := newFixture(t)
	c := ghcr.New(ghcr.Options{})
	list, err := c.ListTags(context.Background(), ghcr.ListInput{Image: f.host + "/acme/app:whatever"})
	if err != nil {
		t.Fatal(err)
	}
	if list.Image != f.host+"/acme/app" || list.Total != 4 || list.Truncated {
		t.Fatalf("list = %+v", list)
	}
	var order []string
	for _, tag := range list.Tags {
		order = append(order, tag.Name)
		if tag.Error != "" {
			t.Fatalf("%s: %s", tag.Name, tag.Error)
		}
		if tag.Digest != f.digests["acme/app:"+tag.Name] {
			t.Fatalf("%s: digest %s, want %s", tag.Name, tag.Digest, f.digests["acme/app:"+tag.Name])
		}
		if tag.Created == nil || !tag.Created.Equal(f.created["acme/app:"+tag.Name]) {
			t.Fatalf("%s: created %v, want %v", tag.Name, tag.Created, f.created["acme/app:"+tag.Name])
		}
	}
	if strings.Join(order, ",") != "latest,v3,v2,v1" {
		t.Fatalf("order = %v", order)
	}
	if !strings.Contains(list.Tags[0].MediaType, "index") && !strings.Contains(list.Tags[0].MediaType, "manifest.list") {
		t.Fatalf("latest media type = %s", list.Tags[0].MediaType)
	}
	if f.gate.issued.Load() == 0 {
		t.Fatal("no bearer token was asked for")
	}
}

func TestListTagsBounded(t *testing.T) {
	f := newFixture(t)
	list, err := ghcr.New(ghcr.Options{MaxTags: 2, Concurrency: 1}).ListTags(context.Background(), ghcr.ListInput{Image: f.host + "/acme/app"})
	if err != nil {
		t.Fatal(err)
	}
	if !list.Truncated || list.Total != 4 || len(list.Tags) != 2 {
		t.Fatalf("list = %+v", list)
	}
	list, err = ghcr.New(ghcr.Options{}).ListTags(context.Background(), ghcr.ListInput{Image: f.host + "/acme/app", Limit: 1})
	if err != nil || len(list.Tags) != 1 {
		t.Fatalf("limit 1: %+v, %v", list, err)
	}
}

func TestListTagsPrivate(t *testing.T) {
	f := newFixture(t)
	img := f.host + "/acme/private"
	_, err := ghcr.New(ghcr.Options{}).ListTags(context.Background(), ghcr.ListInput{Image: img})
	fe := wantCode(t, err, fountain.EUPSTREAM)
	if !strings.Contains(fe.Hint, "read:packages") {
		t.Fatalf("hint = %q", fe.Hint)
	}
	_, err = ghcr.New(ghcr.Options{Username: "octocat", Password: "wrong"}).ListTags(context.Background(), ghcr.ListInput{Image: img})
	wantCode(t, err, fountain.EUPSTREAM)

	list, err := ghcr.New(ghcr.Options{Username: "octocat", Password: "ghp_readpackages"}).ListTags(context.Background(), ghcr.ListInput{Image: img})
	if err != nil || len(list.Tags) != 1 || list.Tags[0].Digest != f.digests["acme/private:v1"] {
		t.Fatalf("with the client's credentials: %+v, %v", list, err)
	}
	c := ghcr.New(ghcr.Options{})
	list, err = c.ListTags(context.Background(), ghcr.ListInput{Image: img, Username: "octocat", Password: "ghp_readpackages"})
	if err != nil || len(list.Tags) != 1 {
		t.Fatalf("with the call's credentials: %+v, %v", list, err)
	}
	if _, err := c.ListTags(context.Background(), ghcr.ListInput{Image: img}); err == nil {
		t.Fatal("the call's credentials were kept")
	}
}

func TestListTagsErrors(t *testing.T) {
	f := newFixture(t)
	c := ghcr.New(ghcr.Options{})
	_, err := c.ListTags(context.Background(), ghcr.ListInput{Image: f.host + "/acme/missing"})
	wantCode(t, err, fountain.ENOTFOUND)

	f.gate.limited.Store(true)
	_, err = c.ListTags(context.Background(), ghcr.ListInput{Image: f.host + "/acme/app"})
	wantCode(t, err, fountain.ERATELIMITED)
	if d, ok := github.RetryAfter(err); !ok || d != time.Minute {
		t.Fatalf("retry after %v %v", d, ok)
	}
	f.gate.limited.Store(false)

	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	t.Cleanup(hang.Close)
	start := time.Now()
	u, _ := url.Parse(hang.URL)
	_, err = ghcr.New(ghcr.Options{Timeout: 300 * time.Millisecond}).ListTags(context.Background(), ghcr.ListInput{Image: u.Host + "/acme/app"})
	wantCode(t, err, fountain.EUNAVAILABLE)
	if time.Since(start) > 3*time.Second {
		t.Fatalf("the timeout did not bound the call: %s", time.Since(start))
	}
}

func TestParseRepository(t *testing.T) {
	for in, want := range map[string]string{
		"ghcr.io/user/repo/my-app":                             "ghcr.io/user/repo/my-app",
		"ghcr.io/user/app:latest":                              "ghcr.io/user/app",
		"127.0.0.1:5000/a/b@sha256:" + strings.Repeat("a", 64): "127.0.0.1:5000/a/b",
		"localhost/x": "localhost/x",
	} {
		r, err := ghcr.ParseRepository("image", in)
		if err != nil || r.Name() != want {
			t.Errorf("ParseRepository(%q) = %v, %v; want %s", in, r, err, want)
		}
	}
	for _, in := range []string{"", "app", "user/app", "ghcr.io/User/App", "ghcr.io/user/app:bad tag", "https://ghcr.io/a/b"} {
		_, err := ghcr.ParseRepository("image", in)
		if fe := wantCode(t, err, fountain.EINVALID); fe.Field != "image" {
			t.Errorf("%q: field %q", in, fe.Field)
		}
	}
}

func wantCode(t *testing.T, err error, code string) *fountain.Error {
	t.Helper()
	var fe *fountain.Error
	if !errors.As(err, &fe) || fe.Code != code {
		t.Fatalf("err = %v, want code %s", err, code)
	}
	return fe
}
