package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	ggcrname "github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/moby/moby/client"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/api"
	"github.com/fountainai/fountain/github"
	"github.com/fountainai/fountain/lightsail"
	"github.com/fountainai/fountain/sandbox"
)

// checkAWS checks credentials, region and one read call.
func (d *Doctor) checkAWS(ctx context.Context) []api.Check {
	const name = "aws"
	if d.Lightsail == nil {
		return []api.Check{okCheck(name, d.LightsailNote)}
	}
	a, err := d.Lightsail.CheckAccess(ctx, "")
	var parts []string
	if d.LightsailNote != "" {
		parts = append(parts, d.LightsailNote)
	}
	if a.CredentialSource != "" || d.CredentialsFrom != "" {
		from := d.CredentialsFrom
		if from == "" {
			from = lightsail.DescribeCredentialSource(a.CredentialSource, d.getenv("AWS_PROFILE"))
		}
		parts = append(parts, "credentials from "+from)
	}
	if a.Region != "" {
		parts = append(parts, "region "+a.Region)
	}
	if err != nil {
		parts = append(parts, fountain.ErrorMessage(err))
		found := strings.Join(parts, "; ")
		switch fountain.ErrorCode(err) {
		case fountain.EINVALID:
			return []api.Check{failCheck(name, found, "set AWS_REGION to a Lightsail region, e.g. eu-central-1")}
		case fountain.EFORBIDDEN:
			return []api.Check{failCheck(name, found, fmt.Sprintf("attach the policy `fountain aws policy --region %s` prints to the IAM identity (it lacks %s)",
				a.Region, lightsail.MissingAction(err)))}
		}
		fix := fountain.ErrorHint(err)
		if fix == "" {
			fix = "check the network to Lightsail's endpoint, and the credentials"
		}
		return []api.Check{failCheck(name, found, fix)}
	}
	parts = append(parts, fmt.Sprintf("GetInstances answered: %s", plural(a.Instances, "instance")))
	return []api.Check{okCheck(name, strings.Join(parts, "; "))}
}

// httpClient is the client of the GitHub calls.
func (d *Doctor) httpClient() *http.Client {
	if d.HTTP != nil {
		return d.HTTP
	}
	return &http.Client{Timeout: 10 * time.Second}
}

// tokenInfo is what GitHub says about a token: whose it is and, for a
// classic token, its scopes.
type tokenInfo struct {
	login   string
	classic bool
	scopes  []string
}

// gitHubUser asks GET /user with token; GitHub answers X-OAuth-Scopes on
// it for a classic token, and nothing for a fine-grained one.
func (d *Doctor) gitHubUser(ctx context.Context, token string) (tokenInfo, error) {
	base := d.GitHubURL
	if base == "" {
		base = github.DefaultBaseURL
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+"/user", nil)
	if err != nil {
		return tokenInfo{}, fmt.Errorf("GitHub API root %q: %w", base, err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	resp, err := d.httpClient().Do(req)
	if err != nil {
		return tokenInfo{}, fmt.Errorf("GitHub's API at %s is not reachable: %w", base, errors.Unwrap(err))
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var answer struct {
		Login   string `json:"login"`
		Message string `json:"message"`
	}
	_ = json.Unmarshal(body, &answer)
	if resp.StatusCode != http.StatusOK {
		msg := answer.Message
		if msg == "" {
			msg = http.StatusText(resp.StatusCode)
		}
		return tokenInfo{}, &tokenRefused{status: resp.StatusCode, message: msg, rateLimited: resp.Header.Get("X-RateLimit-Remaining") == "0"}
	}
	info := tokenInfo{login: answer.Login}
	if v, ok := resp.Header[http.CanonicalHeaderKey("X-OAuth-Scopes")]; ok {
		info.classic = true
		for s := range strings.SplitSeq(strings.Join(v, ","), ",") {
			if s = strings.TrimSpace(s); s != "" {
				info.scopes = append(info.scopes, s)
			}
		}
	}
	return info, nil
}

// tokenRefused is GitHub's refusal of GET /user.
type tokenRefused struct {
	status      int
	message     string
	rateLimited bool
}

func (e *tokenRefused) Error() string {
	return fmt.Sprintf("GitHub answered %d %s", e.status, e.message)
}

// checkGitHub checks the server's GitHub token: GitHub accepts it, and
// its scopes (classic tokens) are those Fountain needs: repo for Actions
// secrets, workflow to install a workflow.
func (d *Doctor) checkGitHub(ctx context.Context) []api.Check {
	const name = "github-token"
	if d.GitHubNote != "" {
		return []api.Check{okCheck(name, d.GitHubNote)}
	}
	if d.GitHubToken == "" {
		return []api.Check{warnCheck(name, "no GITHUB_TOKEN: GitHub calls work only with a github_token of their own",
			"set GITHUB_TOKEN to a classic token with the repo and workflow scopes, or a fine-grained token with Secrets: read and write")}
	}
	what := d.GitHubTokenFrom
	if d.Standin {
		what = "the GitHub stand-in's token (" + d.GitHubTokenFrom + "; not GitHub)"
	}
	info, err := d.gitHubUser(ctx, d.GitHubToken)
	var refused *tokenRefused
	switch {
	case errors.As(err, &refused) && refused.rateLimited:
		return []api.Check{warnCheck(name, fmt.Sprintf("%s: GitHub's rate limit is spent (%v)", what, err), "try again after the limit resets")}
	case errors.As(err, &refused) && refused.status == http.StatusUnauthorized:
		return []api.Check{failCheck(name, fmt.Sprintf("%s: GitHub rejected it (%s)", what, refused.message),
			"the token is wrong, expired or revoked: create a new one and set it in "+d.GitHubTokenFrom)}
	case err != nil:
		return []api.Check{failCheck(name, fmt.Sprintf("%s: %v", what, err), "check GITHUB_API_URL and the network to GitHub")}
	}
	if !info.classic {
		return []api.Check{warnCheck(name, fmt.Sprintf("%s: a fine-grained token of %s; GitHub does not tell a fine-grained token's permissions", what, info.login),
			"check it has Secrets: read and write (and Contents and Workflows: read and write, for install-workflow) on the repositories")}
	}
	c := okCheck(name, fmt.Sprintf("%s: a classic token of %s with scopes %s", what, info.login, scopeList(info.scopes)))
	switch {
	case slices.Contains(info.scopes, "repo"):
	case slices.Contains(info.scopes, "public_repo"):
		c.Status, c.Fix = api.CheckWarn, "public_repo reaches public repositories only: add the repo scope for private ones"
	default:
		c.Status, c.Fix = api.CheckFail, "add the repo scope: without it Fountain cannot read or write Actions secrets"
	}
	if !slices.Contains(info.scopes, "workflow") {
		c.Status = worse(c.Status, api.CheckWarn)
		c.Fix = strings.TrimPrefix(c.Fix+"; add the workflow scope, which install-workflow needs", "; ")
	}
	return []api.Check{c}
}

func scopeList(scopes []string) string {
	if len(scopes) == 0 {
		return "(none)"
	}
	return strings.Join(scopes, ", ")
}

// GHCRLogin is the registry login the doctor checks.
type GHCRLogin struct {
	// Registry is the registry's host (default ghcr.io); in sandbox mode
	// the sandbox registry's address on this machine ("" when it does
	// not run).
	Registry string
	// Insecure speaks plain HTTP to it (the sandbox registry).
	Insecure bool
	// Sandbox says ghcr.io is the sandbox registry.
	Sandbox bool
	// Username and Password are FOUNTAIN_GHCR_USER and FOUNTAIN_GHCR_TOKEN.
	Username, Password string
	// Transport sends the registry requests (default remote.DefaultTransport).
	Transport http.RoundTripper
}

// ghcrLogin reads FOUNTAIN_GHCR_USER and FOUNTAIN_GHCR_TOKEN as the
// server does.
func ghcrLogin(getenv func(string) string) GHCRLogin {
	l := GHCRLogin{Registry: GHCRRegistry, Username: getenv("FOUNTAIN_GHCR_USER"), Password: getenv("FOUNTAIN_GHCR_TOKEN")}
	if l.Password != "" && l.Username == "" {
		l.Username = "fountain"
	}
	return l
}

// checkGHCR checks the registry login with a read: the registry's token
// flow (as `docker login` does), and, for ghcr.io, the token's scopes.
func (d *Doctor) checkGHCR(ctx context.Context) []api.Check {
	const name = "ghcr"
	l := d.GHCR
	if l.Sandbox && l.Registry == "" {
		if d.GitHubNote != "" { // a local check: the registry runs with the server
			return []api.Check{okCheck(name, "sandbox: ghcr.io is the sandbox registry (127.0.0.1:5000 on this machine) while `fountain serve --sandbox` runs")}
		}
		return []api.Check{warnCheck(name, "sandbox: the sandbox registry (ghcr.io for sandbox hosts) does not run", "start Docker, then restart `fountain serve --sandbox`")}
	}
	if l.Registry == "" {
		l.Registry = GHCRRegistry
	}
	if l.Transport == nil {
		l.Transport = remote.DefaultTransport
	}
	var opts []ggcrname.Option
	if l.Insecure {
		opts = append(opts, ggcrname.Insecure)
	}
	reg, err := ggcrname.NewRegistry(l.Registry, opts...)
	if err != nil {
		return []api.Check{failCheck(name, fmt.Sprintf("registry %q: %v", l.Registry, err), "")}
	}
	var auth authn.Authenticator = authn.Anonymous
	who := "anonymous (public images only)"
	if l.Password != "" {
		auth = &authn.Basic{Username: l.Username, Password: l.Password}
		who = fmt.Sprintf("FOUNTAIN_GHCR_TOKEN as %s", l.Username)
	}
	if l.Sandbox {
		who = "sandbox: ghcr.io is the sandbox registry at " + l.Registry
	}
	if _, err := transport.NewWithContext(ctx, reg, auth, l.Transport, nil); err != nil {
		var te *transport.Error
		if errors.As(err, &te) && (te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden) {
			return []api.Check{failCheck(name, fmt.Sprintf("%s: %s refused the login (%d)", who, l.Registry, te.StatusCode),
				"set FOUNTAIN_GHCR_USER to the GitHub user and FOUNTAIN_GHCR_TOKEN to a classic token of theirs with read:packages")}
		}
		return []api.Check{failCheck(name, fmt.Sprintf("%s: %s does not answer: %v", who, l.Registry, err), "check the network to "+l.Registry)}
	}
	c := okCheck(name, who+": the registry's token flow answered")
	if l.Sandbox || l.Password == "" {
		if !l.Sandbox {
			c.Fix = "for private images, set FOUNTAIN_GHCR_USER and FOUNTAIN_GHCR_TOKEN (a classic token with read:packages)"
		}
		return []api.Check{c}
	}
	// GHCR takes classic tokens only; their scopes are on GitHub's API.
	info, err := d.gitHubUser(ctx, l.Password)
	switch {
	case err != nil:
		c.Status, c.Found = api.CheckWarn, c.Found+fmt.Sprintf("; its scopes are unknown (%v)", err)
		c.Fix = "make sure the token has read:packages"
	case !info.classic:
		c.Status, c.Found = api.CheckWarn, c.Found+"; GitHub reports no scopes for it (not a classic token)"
		c.Fix = "GHCR takes classic tokens: use one with read:packages"
	case slices.ContainsFunc(info.scopes, func(s string) bool { return strings.HasSuffix(s, ":packages") }):
		c.Found += fmt.Sprintf("; a classic token of %s with scopes %s", info.login, scopeList(info.scopes))
	default:
		c.Status = api.CheckFail
		c.Found += fmt.Sprintf("; a classic token of %s with scopes %s, without read:packages", info.login, scopeList(info.scopes))
		c.Fix = "add the read:packages scope to the token: private images cannot be pulled without it"
	}
	return []api.Check{c}
}

// checkDocker checks the Docker Engine the sandbox's hosts run on, and
// whether their image is built.
func (d *Doctor) checkDocker(ctx context.Context) []api.Check {
	if d.HostsOff != "" {
		return []api.Check{okCheck("docker", d.HostsOff)}
	}
	if d.Docker == nil {
		return nil
	}
	cli, done, err := d.Docker(ctx)
	if err != nil {
		return []api.Check{failCheck("docker", fmt.Sprintf("Docker does not answer: %v", err),
			"install and start Docker (scripts/ensure-docker does on Debian, as root); without it sandbox instances are emulated only")}
	}
	defer done()
	v, err := cli.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		return []api.Check{failCheck("docker", fmt.Sprintf("Docker at %s does not answer: %v", cli.DaemonHost(), err),
			"start Docker (systemctl start docker), or set DOCKER_HOST")}
	}
	out := []api.Check{okCheck("docker", fmt.Sprintf("Docker %s (API %s) at %s", v.Version, v.APIVersion, cli.DaemonHost()))}
	f := client.Filters{}
	f.Add("label", sandbox.LabelImage)
	imgs, err := cli.ImageList(ctx, client.ImageListOptions{Filters: f})
	if err != nil {
		return append(out, warnCheck("sandbox-image", fmt.Sprintf("cannot list images: %v", err), ""))
	}
	var newest string
	var created int64
	for _, img := range imgs.Items {
		// Host images carry their flavour in the label (the debootstrap
		// base says "base"); the server's hosts are of the plain flavour.
		if img.Labels[sandbox.LabelImage] != string(sandbox.FlavourPlain) || len(img.RepoTags) == 0 || img.Created < created {
			continue
		}
		newest, created = img.RepoTags[0], img.Created
	}
	if newest == "" {
		return append(out, warnCheck("sandbox-image", "the sandbox host image is not built yet",
			"`fountain serve --sandbox` builds it at start (about 90 s), or `fountain sandbox build` ahead of time"))
	}
	return append(out, okCheck("sandbox-image", fmt.Sprintf("host image %s, built %s (a changed recipe or base is rebuilt at start)",
		newest, time.Unix(created, 0).UTC().Format(time.DateTime+" UTC"))))
}
