package kong

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// KONG_NGINX_ADMIN_ALLOW and _DENY are read as Kong injects them: allow
// before deny (Kong sorts injected directives by name), by nginx's rule
// for their values.
func TestAdminAccessFromEnv(t *testing.T) {
	env := map[string]string{"KONG_DATABASE": "off", "KONG_NGINX_ADMIN_DENY": "all", "KONG_NGINX_ADMIN_ALLOW": "172.19.0.1"}
	s, err := SettingsFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	want := []AccessRule{{Allow: true, Block: netip.MustParsePrefix("172.19.0.1/32")}, {All: true}}
	if !reflect.DeepEqual(s.AdminAccess, want) || s.AdminAccess[0].String() != "allow 172.19.0.1" || s.AdminAccess[1].String() != "deny all" {
		t.Fatalf("%#v", s.AdminAccess)
	}
	if s.Prefix != "/usr/local/kong" {
		t.Fatalf("prefix %q", s.Prefix)
	}
	for _, bad := range []string{"172.19.0.999", "everyone", "10.0.0.0/33", "fe80::1%eth0"} {
		env["KONG_NGINX_ADMIN_ALLOW"] = bad
		if _, err := SettingsFromEnv(func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "nginx_admin_allow: invalid parameter") {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if r, err := ParseAccessRule("deny", "10.1.2.3/8"); err != nil || r.String() != "deny 10.0.0.0/8" {
		t.Errorf("a CIDR with low bits: %v %v", r, err)
	}
}

func TestAdmits(t *testing.T) {
	gw := []AccessRule{{Allow: true, Block: netip.MustParsePrefix("172.19.0.1/32")}, {All: true}}
	for addr, want := range map[string]bool{"172.19.0.1": true, "::ffff:172.19.0.1": true, "172.19.0.2": false, "127.0.0.1": false, "::1": false} {
		if got := Admits(gw, netip.MustParseAddr(addr)); got != want {
			t.Errorf("%s: %t", addr, got)
		}
	}
	if !Admits(nil, netip.MustParseAddr("203.0.113.7")) {
		t.Error("no rules: refused")
	}
	deny := []AccessRule{{Block: netip.MustParsePrefix("10.0.0.0/8")}, {Allow: true, Unix: true}}
	if Admits(deny, netip.MustParseAddr("10.9.9.9")) || !Admits(deny, netip.MustParseAddr("192.0.2.1")) {
		t.Error("deny a block")
	}
}

// The Admin API answers a client its rules admit, and nginx's 403 page to
// one they do not: its own proxy too, with a route whose upstream is the
// Admin API itself (Kong's own address), which reaches it from an address
// the rules do not admit.
func TestAdminAccessByRules(t *testing.T) {
	_, open, _ := newGateway(t, Options{Settings: Settings{AdminAccess: []AccessRule{
		{Allow: true, Block: netip.MustParsePrefix("127.0.0.1/32")}, {All: true}}}})
	if resp, body := do(t, "GET", open.URL+"/status", "", ""); resp.StatusCode != 200 || !strings.Contains(body, "configuration_hash") {
		t.Fatalf("an admitted client: %d %s", resp.StatusCode, body)
	}
	g, closed, proxy := newGateway(t, Options{Settings: Settings{AdminAccess: []AccessRule{
		{Allow: true, Block: netip.MustParsePrefix("192.0.2.1/32")}, {All: true}}}})
	resp, body := do(t, "GET", closed.URL+"/config", "", "")
	if resp.StatusCode != 403 || body != forbiddenPage || resp.Header.Get("Content-Type") != "text/html" {
		t.Fatalf("a refused client: %d %q", resp.StatusCode, body)
	}
	// The proxy, routed to the Admin API: refused too, so nothing of the
	// config (its credentials) goes out through the proxy.
	cfg, ferr := ParseConfig([]byte(strings.Replace("_format_version: \"3.0\"\nservices:\n- name: self\n  url: %s\n  routes:\n  - name: self\n    paths: [/self]\n"+
		"consumers:\n- username: alice\n  keyauth_credentials:\n  - key: canary-Admin-Key-19c\n", "%s", closed.URL, 1)), false, g.opts.Now())
	if ferr != nil {
		t.Fatal(ferr)
	}
	g.install(cfg)
	resp, body = do(t, "GET", proxy.URL+"/self/config", "", "")
	if resp.StatusCode != 403 || strings.Contains(body, "canary-Admin-Key-19c") {
		t.Fatalf("the Admin API through the proxy: %d %s", resp.StatusCode, body)
	}
}

// kong health: the node whose pid the prefix keeps runs; it asks nothing
// of the Admin API.
func TestHealthy(t *testing.T) {
	prefix := t.TempDir()
	if err := Healthy(prefix); err == nil || err.Error() != "Kong is not running at "+prefix {
		t.Fatalf("no pid file: %v", err)
	}
	if err := WritePID(prefix, os.Getpid()); err != nil {
		t.Fatal(err)
	}
	if err := Healthy(prefix); err != nil {
		t.Fatalf("running: %v", err)
	}
	if err := os.WriteFile(filepath.Join(prefix, "pids", "nginx.pid"), []byte("2147483646\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Healthy(prefix); err == nil {
		t.Fatal("a dead pid is healthy")
	}
}
