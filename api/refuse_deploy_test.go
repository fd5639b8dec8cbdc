package api_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	xssh "golang.org/x/crypto/ssh"

	"github.com/fountainai/fountain/api"
	"github.com/fountainai/fountain/deploy"
	"github.com/fountainai/fountain/operation"
	"github.com/fountainai/fountain/sqlite"
	"github.com/fountainai/fountain/ssh"
)

// deployEnv is the API with a real deploy engine behind it whose every
// SSH connection is counted and none made: the engine asks Reachable
// before each dial (Engine.connect, its only dial), and Reachable here
// counts and refuses. Names resolve through a fixed table; Lightsail is
// not configured, so nothing reaches a cloud either.
type deployEnv struct {
	*env
	key   string       // an allowed private key
	dials atomic.Int64 // connections the engine tried to open
}

func newDeployEnv(t *testing.T, policy deploy.Policy, names map[string][]string) *deployEnv {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "f.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	keys := t.TempDir()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	block, err := xssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	key, err := ssh.WriteKey(keys, "id_ed25519", pem.EncodeToMemory(block))
	if err != nil {
		t.Fatal(err)
	}
	e := &deployEnv{key: key}
	engine := &deploy.Engine{
		Dialer:  ssh.Dialer{HostKeys: db, ConnectTimeout: time.Second},
		KeyDirs: []string{keys}, Sandbox: policy.Sandbox, AllowHostBinds: policy.AllowHostBinds,
		LookupHost: func(ctx context.Context, host string) ([]netip.Addr, error) {
			var out []netip.Addr
			for _, a := range names[host] {
				out = append(out, netip.MustParseAddr(a))
			}
			if out == nil {
				return nil, errors.New("no such host")
			}
			return out, nil
		},
		Reachable: func(ctx context.Context, address string) error {
			e.dials.Add(1)
			return errors.New("test: no connection is made")
		},
	}
	runner := operation.New(db, nil)
	srv := api.New(api.Deps{Store: db, Runner: runner, Token: token, Deploy: engine, OpenSearch: engine.OpenSearch(), Apps: engine.DockerApps(), Kong: engine.Gateway(), HostKeys: db})
	runner.OnFinish = srv.OnOperationFinished
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		hs.Close()
		_ = runner.Shutdown(context.Background(), 0)
	})
	e.env = &env{t: t, url: hs.URL, db: db, handler: srv}
	return e
}

// body is a JSON object of fields, with the allowed key.
func (e *deployEnv) body(fields map[string]any) string {
	m := map[string]any{"ssh_key_path": e.key}
	for k, v := range fields {
		m[k] = v
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// refused checks a 422 naming location, with no connection tried.
func (e *deployEnv) refused(t *testing.T, what string, r resp, location string) {
	t.Helper()
	if r.status != 422 || !r.errorAt(location) {
		t.Errorf("%s: %d %.400s; want 422 at %s", what, r.status, r.raw, location)
	}
	if n := e.dials.Load(); n != 0 {
		t.Fatalf("%s: %d SSH connections tried", what, n)
	}
}

// Outside sandbox mode, loopback, link-local, unspecified and multicast
// addresses (IPv4-mapped ones too, and names that resolve to them) are
// refused on instance_ip by every route that reaches a host, and on
// app.instance_ip by a Kong route, before any connection.
func TestNonHostAddressesAreRefusedBeforeAnyConnection(t *testing.T) {
	e := newDeployEnv(t, deploy.Policy{}, map[string][]string{
		"loop.example":  {"127.0.0.1"},
		"mixed.example": {"203.0.113.7", "127.0.0.2"},
		"meta.example":  {"::ffff:169.254.169.254"},
		"web.example":   {"203.0.113.7"},
	})
	for _, addr := range []string{"127.0.0.1", "127.0.0.3", "::1", "::ffff:127.0.0.1", "169.254.169.254", "::ffff:169.254.169.254",
		"fe80::1", "0.0.0.0", "::", "224.0.0.1", "ff02::1", "loop.example", "mixed.example", "meta.example"} {
		host := map[string]any{"instance_ip": addr}
		with := func(extra map[string]any) string {
			m := map[string]any{"instance_ip": addr}
			for k, v := range extra {
				m[k] = v
			}
			return e.body(m)
		}
		e.refused(t, addr+" deploy-docker-app", e.do("POST", "/services/deploy-docker-app", with(map[string]any{"docker_image": "ghcr.io/u/r/app:1"})), "body.instance_ip")
		e.refused(t, addr+" deploy-opensearch", e.do("POST", "/services/deploy-opensearch", e.body(host)), "body.instance_ip")
		e.refused(t, addr+" deploy-kong", e.do("POST", "/services/deploy-kong", e.body(host)), "body.instance_ip")
		e.refused(t, addr+" rollback", e.do("POST", "/services/rollback-docker-app", with(map[string]any{"container_name": "my-app"})), "body.instance_ip")
		e.refused(t, addr+" admin-password", e.do("POST", "/services/opensearch/admin-password", e.body(host)), "body.instance_ip")
		e.refused(t, addr+" put kong config", e.do("PUT", "/services/kong/config", with(map[string]any{"config": "_format_version: \"3.0\"\n"})), "body.instance_ip")
		e.refused(t, addr+" kong route", e.do("POST", "/services/kong/routes", with(map[string]any{"name": "r1", "upstream_url": "http://10.0.0.5:8080", "paths": []string{"/"}})), "body.instance_ip")
		q := "?instance_ip=" + url.QueryEscape(addr) + "&ssh_key_path=" + url.QueryEscape(e.key)
		for _, path := range []string{"/services/docker-apps", "/services/opensearch/health", "/services/kong/config", "/services/kong/config/history",
			"/services/docker-app-logs?container_name=my-app&" + q[1:]} {
			if !strings.Contains(path, "?") {
				path += q
			}
			e.refused(t, addr+" GET "+path, e.do("GET", path, ""), "query.instance_ip")
		}
		// The gateway is fine; the app's host is not. (A name there is
		// resolved when the route runs, after the gateway's connection,
		// and before the app host's.)
		if !strings.HasSuffix(addr, ".example") {
			route := e.body(map[string]any{"instance_ip": "web.example", "name": "r1", "paths": []string{"/"},
				"app": map[string]any{"container_name": "my-app", "instance_ip": addr}})
			e.refused(t, addr+" kong route app", e.do("POST", "/services/kong/routes", route), "body.app.instance_ip")
		}
	}
	// A host address is dialled: the count above could see a connection.
	r := e.do("POST", "/services/deploy-docker-app", e.body(map[string]any{"instance_ip": "web.example", "docker_image": "ghcr.io/u/r/app:1"}))
	if r.status < 500 || e.dials.Load() != 1 {
		t.Fatalf("a host address: %d %s (%d dials)", r.status, r.raw, e.dials.Load())
	}
}

// In sandbox mode loopback addresses are hosts (the sandbox's live
// there); the other refusals stand.
func TestSandboxAllowsLoopbackOnly(t *testing.T) {
	e := newDeployEnv(t, deploy.Policy{Sandbox: true}, nil)
	for _, addr := range []string{"169.254.169.254", "0.0.0.0", "224.0.0.1", "fe80::1"} {
		e.refused(t, addr, e.do("POST", "/services/deploy-kong", e.body(map[string]any{"instance_ip": addr})), "body.instance_ip")
	}
	r := e.do("POST", "/services/deploy-kong", e.body(map[string]any{"instance_ip": "127.0.0.3"}))
	if r.status < 500 || e.dials.Load() != 1 {
		t.Fatalf("a sandbox host on loopback: %d %s (%d dials)", r.status, r.raw, e.dials.Load())
	}
}

// Every field of a deploy is checked by the rule of the engine that will
// receive it, and the host's system paths are not bind-mounted unless the
// server allows it: 422 naming the field, and no connection.
func TestDeployFieldsAreRefusedBeforeAnyConnection(t *testing.T) {
	e := newDeployEnv(t, deploy.Policy{Sandbox: true}, nil)
	app := func(extra map[string]any) string {
		m := map[string]any{"instance_ip": "127.0.0.3", "docker_image": "ghcr.io/u/r/app:1"}
		for k, v := range extra {
			m[k] = v
		}
		return e.body(m)
	}
	for _, c := range []struct {
		extra map[string]any
		at    string
	}{
		{map[string]any{"container_name": "f"}, "body.container_name"},
		{map[string]any{"container_name": "-app"}, "body.container_name"},
		{map[string]any{"docker_image": "ghcr.io/U/r/app:1"}, "body.docker_image"},
		{map[string]any{"ports": []string{"80"}}, "body.ports"},
		{map[string]any{"ports": []string{"0:80"}}, "body.ports"},
		{map[string]any{"ports": []string{"8000-8001:80"}}, "body.ports"},
		{map[string]any{"ports": []string{"8080:80", "8080:81"}}, "body.ports"},
		{map[string]any{"env": map[string]string{"A=B": "x"}}, "body.env"},
		{map[string]any{"volumes": []string{"/:/host"}}, "body.volumes"},
		{map[string]any{"volumes": []string{"/var/run/docker.sock:/var/run/docker.sock"}}, "body.volumes"},
		{map[string]any{"volumes": []string{"/home/ubuntu/.ssh/:/keys"}}, "body.volumes"},
		{map[string]any{"volumes": []string{"/var:/v"}}, "body.volumes"},
		{map[string]any{"volumes": []string{"a:/data"}}, "body.volumes"},
		{map[string]any{"volumes": []string{"data:/"}}, "body.volumes"},
		{map[string]any{"volumes": []string{"d1:/data", "d2:/data/"}}, "body.volumes"},
		{map[string]any{"volumes": []string{"data:/data:ro,rw"}}, "body.volumes"},
		{map[string]any{"restart_policy": "always:3"}, "body.restart_policy"},
		{map[string]any{"restart_policy": "sometimes"}, "body.restart_policy"},
		{map[string]any{"health_check": map[string]any{"path": "/%zz", "port": 80}}, "body.health_check.path"},
	} {
		e.refused(t, strings.Trim(app(c.extra), "{}"), e.do("POST", "/services/deploy-docker-app", app(c.extra)), c.at)
	}
	for _, c := range []struct {
		extra map[string]any
		at    string
	}{
		{map[string]any{"network_host": "..."}, "body.network_host"},
		{map[string]any{"network_host": "1.2.3.999"}, "body.network_host"},
		{map[string]any{"version": "2.019.1"}, "body.version"},
		{map[string]any{"cluster_name": "a:b"}, "body.cluster_name"},
	} {
		m := map[string]any{"instance_ip": "127.0.0.3"}
		for k, v := range c.extra {
			m[k] = v
		}
		e.refused(t, c.at, e.do("POST", "/services/deploy-opensearch", e.body(m)), c.at)
	}
	// Named volumes and on-failure:N go through to the host.
	r := e.do("POST", "/services/deploy-docker-app", app(map[string]any{"volumes": []string{"data:/var/lib/app"}, "restart_policy": "on-failure:3",
		"ports": []string{"8000-8001:9000-9001/udp"}}))
	if r.status < 500 || e.dials.Load() != 1 {
		t.Fatalf("a valid app: %d %s (%d dials)", r.status, r.raw, e.dials.Load())
	}
}

// A server run with --allow-host-binds lets host system paths through.
func TestAllowHostBindsLetsThemThrough(t *testing.T) {
	e := newDeployEnv(t, deploy.Policy{Sandbox: true, AllowHostBinds: true}, nil)
	r := e.do("POST", "/services/deploy-docker-app", e.body(map[string]any{"instance_ip": "127.0.0.3", "docker_image": "ghcr.io/u/r/app:1",
		"volumes": []string{"/:/host", "/var/run/docker.sock:/var/run/docker.sock"}}))
	if r.status < 500 || e.dials.Load() != 1 {
		t.Fatalf("host binds allowed: %d %s (%d dials)", r.status, r.raw, e.dials.Load())
	}
}
