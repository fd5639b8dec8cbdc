package stack

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/fountainai/fountain"
)

func TestValidateErrors(t *testing.T) {
	for _, c := range []struct {
		name, in, want string
	}{
		{"version", replace(1, "version: 2"), `fountain.yml:1:10: version: is 2; this Fountain reads stack files of version 1`},
		{"region", replace(2, "region: mars-1"), `fountain.yml:2:9: region: "mars-1" is not a Lightsail region; Lightsail's regions are us-east-1, us-east-2, us-west-1, us-west-2, eu-west-1, eu-west-2, eu-west-3, eu-central-1, eu-north-1, eu-south-2, ca-central-1, ap-east-1, ap-south-1, ap-southeast-1, ap-southeast-2, ap-southeast-3, ap-southeast-5, ap-northeast-1, ap-northeast-2, sa-east-1`},
		{"instance name", replace(5, "  app_: {bundle: micro_3_0, blueprint: ubuntu_24_04, zone: eu-central-1a}"), `fountain.yml:5:3: instances.app_: "app_" is not a valid resource name: it must be 2 to 255 characters, start with a letter or digit, contain only letters, digits, '_', '.' and '-', and not end with '_', '.' or '-'` + "\n" +
			`fountain.yml:13:17: apps.my-app.instances[0]: names instance "app-1", which the file does not declare (instances: app_, web-1)`},
		{"zone of another region", replace(5, "  app-1: {bundle: micro_3_0, blueprint: ubuntu_24_04, zone: eu-west-1a}"), `fountain.yml:5:61: instances.app-1.zone: "eu-west-1a" is not in region eu-central-1`},
		{"bundle id", replace(5, "  app-1: {bundle: Micro, blueprint: ubuntu_24_04, zone: eu-central-1a}"), `fountain.yml:5:19: instances.app-1.bundle: "Micro" is not a valid id (lower-case letters, digits and '_')`},
		{"firewall ports", replace(4, `  web-1: {bundle: nano_3_0, blueprint: ubuntu_24_04, zone: eu-central-1a, ports: ["22", "70000", "22/icmp", "22/tcp", "80-70"]}`), `fountain.yml:4:89: instances.web-1.ports[1]: "70000": 70000 is not a port (0-65535)` + "\n" +
			`fountain.yml:4:98: instances.web-1.ports[2]: "22/icmp": the protocol must be tcp, udp or all` + "\n" +
			`fountain.yml:4:109: instances.web-1.ports[3]: "22/tcp" is given twice (also ports[0])` + "\n" +
			`fountain.yml:4:119: instances.web-1.ports[4]: "80-70": the range ends before it starts`},
		{"tags", replace(5, "  app-1: {bundle: micro_3_0, blueprint: ubuntu_24_04, zone: eu-central-1a, tags: {\"aws:x\": y}}"), `fountain.yml:5:82: instances.app-1.tags: tag key "aws:x" starts with "aws:", which AWS reserves for its own tags`},
		{"kong instance", replace(7, "  instance: web-9"), `fountain.yml:7:13: kong.instance: names instance "web-9", which the file does not declare (instances: app-1, web-1)`},
		{"kong instances", replace(7, "  instances: [web-1, web-9, web-1]"), `fountain.yml:7:22: kong.instances[1]: names instance "web-9", which the file does not declare (instances: app-1, web-1)` + "\n" +
			`fountain.yml:7:29: kong.instances[2]: "web-1" is given twice (also instances[0])`},
		{"kong instance and instances", replace(7, "  instance: web-1\n  instances: [web-1]"), `fountain.yml:8:14: kong.instances: give instance or instances, not both`},
		{"route to app and url", replace(9, "    my-app: {app: my-app, upstream_url: http://x:1, paths: [/app]}"), `fountain.yml:9:19: kong.routes.my-app.app: give app or upstream_url, not both`},
		{"route to nothing", replace(9, "    my-app: {paths: [/app]}"), `fountain.yml:9:13: kong.routes.my-app: needs app (an app of this file) or upstream_url`},
		{"route to a missing app", replace(9, "    my-app: {app: my-ap, paths: [/app]}"), `fountain.yml:9:19: kong.routes.my-app.app: names app "my-ap", which the file does not declare (apps: my-app)`},
		{"route path", replace(9, "    my-app: {app: my-app, paths: [app]}"), `fountain.yml:9:35: kong.routes.my-app.paths[0]: "app" must start with "/" (a prefix) or "~/" (a regular expression)`},
		{"route name", replace(9, "    my app: {app: my-app, paths: [/app]}"), `fountain.yml:9:5: kong.routes["my app"]: "my app" has the character ' ': Kong takes letters, digits, '.', '-', '_' and '~'`},
		{"route port", replace(9, "    my-app: {app: my-app, port: 9090, paths: [/app]}"), `fountain.yml:9:33: kong.routes.my-app.port: app my-app does not publish port 9090 (it publishes 8080)`},
		{"route port without app", replace(9, "    my-app: {upstream_url: http://x:1, port: 9090, paths: [/app]}"), `fountain.yml:9:46: kong.routes.my-app.port: is the port of an app; with upstream_url, put the port in the URL`},
		{"route url credentials", replace(9, "    my-app: {upstream_url: http://u:p@x:1, paths: [/app]}"), `fountain.yml:9:28: kong.routes.my-app.upstream_url: must not hold credentials: Kong would store them in its configuration`},
		{"app instances", replace(13, "    instances: [app-1, app-2, app-1]"), `fountain.yml:13:24: apps.my-app.instances[1]: names instance "app-2", which the file does not declare (instances: app-1, web-1)` + "\n" +
			`fountain.yml:13:31: apps.my-app.instances[2]: "app-1" is given twice (also instances[0])`},
		{"app name", replace(11, "  m:"), `fountain.yml:9:19: kong.routes.my-app.app: names app "my-app", which the file does not declare (apps: m)` + "\n" +
			`fountain.yml:11:3: apps.m: the app's name is its container's name: "m" is not a container name (2 to 128 letters, digits, '_', '.', '-', starting with a letter or digit; not ending in .previous, .old, .rollback or .next, which Fountain uses)`},
		{"image", replace(12, "    image: ghcr.io/User/App"), `fountain.yml:12:12: apps.my-app.image: "ghcr.io/User/App" is not an image reference (like ghcr.io/user/repo/app:tag or ...@sha256:digest): invalid reference format: repository name (User/App) must be lowercase`},
		{"ports", replace(14, `    ports: ["8080:8080", "80", "8080:9090"]`), `fountain.yml:14:26: apps.my-app.ports[1]: "80": want HOST:CONTAINER, e.g. 8080:80 (Fountain publishes fixed host ports)`},
		{"port taken by kong", strings.NewReplacer("instances: [app-1]", "instances: [web-1]", `ports: ["8080:8080"]`, `ports: ["8080:8080", "80:8080"]`, "app: my-app,", "app: my-app, port: 8080,").Replace(base), `fountain.yml:14:26: apps.my-app.ports[1]: host port 80/tcp of instance web-1 is taken by Kong's proxy`},
		{"volumes", replace(14, `    ports: ["8080:8080"]`, `    volumes: ["data:/d", "x:y", "other:/d"]`), `fountain.yml:15:26: apps.my-app.volumes[1]: "x:y": the target "y" must be an absolute path`},
		{"restart policy", replace(14, `    ports: ["8080:8080"]`, "    restart_policy: sometimes"), `fountain.yml:15:21: apps.my-app.restart_policy: "sometimes": not a restart policy (no, always, unless-stopped, on-failure[:MAX_RETRIES])`},
		{"health check", replace(14, `    ports: ["8080:8080"]`, "    health_check: {path: healthz, port: 8080}"), `fountain.yml:15:26: apps.my-app.health_check.path: "healthz" must be an absolute URL path, without spaces or control characters`},
		{"env name", replace(15, "    env: {LOG_LEVEL: info, 1X: y}"), `fountain.yml:15:28: apps.my-app.env.1X: "1X" is not an environment variable name`},
		{"env credential by name", replace(15, "    env: {LOG_LEVEL: info, DB_PASSWORD: hunter22, DB_PASSWORD_FILE: /run/secrets/db, PUBLIC_KEY: abc}"), `fountain.yml:15:28: apps.my-app.env.DB_PASSWORD: DB_PASSWORD is named like a credential (PASSWORD); a stack file never holds a secret value` + "\n" +
			`fountain.yml:16:18: apps.my-app.secret_env.DB_PASSWORD: DB_PASSWORD is in env too; give it once`},
		{"env credential by value", replace(15, "    env: {GH: ghp_0123456789abcdefghij, DSN: \"postgres://app:pw@db/app\"}"), `fountain.yml:15:41: apps.my-app.env.DSN: the value of DSN is a URL with a password; a stack file never holds a secret value` + "\n" +
			`fountain.yml:15:11: apps.my-app.env.GH: the value of GH looks like a token (ghp_...); a stack file never holds a secret value`},
		{"secret env value", replace(16, "    secret_env: {DB_PASSWORD: Hunter2!}"), `fountain.yml:16:31: apps.my-app.secret_env.DB_PASSWORD: names a vault secret, never the value itself: "Hunter2!" is not a vault name: 1 to 64 lower-case letters, digits, '_', '.' and '-', starting with a letter or digit`},
		{"secret env in env too", replace(16, "    secret_env: {LOG_LEVEL: log-level}"), `fountain.yml:16:18: apps.my-app.secret_env.LOG_LEVEL: LOG_LEVEL is in env too; give it once`},
		{"opensearch", base + "opensearch: {instance: app-1, heap_mb: 100, admin_password: Admin-Pa55!, version: \"3.0\"}\n", `fountain.yml:17:83: opensearch.version: "3.0" is not an OpenSearch 2.x version as its apt repository names them (like 2.19.1)` + "\n" +
			`fountain.yml:17:61: opensearch.admin_password: names a vault secret, never the value itself: "Admin-Pa55!" is not a vault name: 1 to 64 lower-case letters, digits, '_', '.' and '-', starting with a letter or digit`},
		{"github", base + `github:
  repositories:
    user/re po: {secrets: {A: a}}
    user/repo:
      secrets: {GITHUB_X: a, DEPLOY_KEY: deploy-key, deploy_key: deploy-key}
      environments: {"a/b": {secrets: {X: x}}, prod: {secrets: {}}, PROD: {}}
      workflow: {image: docker.io/user/app, test_command: pytest}
`, `fountain.yml:19:5: github.repositories["user/re po"]: repository name "re po" may hold only letters, digits, '.', '-' and '_'` + "\n" +
			`fountain.yml:21:17: github.repositories.user/repo.secrets.GITHUB_X: "GITHUB_X" may not start with GITHUB_ (GitHub reserves it)` + "\n" +
			`fountain.yml:21:54: github.repositories.user/repo.secrets.deploy_key: is secret DEPLOY_KEY again (GitHub stores names in upper case)` + "\n" +
			`fountain.yml:22:22: github.repositories.user/repo.environments.a/b: "a/b" may not contain '/' or '%'` + "\n" +
			`fountain.yml:22:48: github.repositories.user/repo.environments.prod: is environment PROD again (GitHub's names are case-insensitive)` + "\n" +
			`fountain.yml:23:25: github.repositories.user/repo.workflow.image: "docker.io/user/app" is not under ghcr.io`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("", []byte(c.in))
			if err == nil || err.Error() != c.want {
				t.Errorf("got\n%v\nwant\n%s", err, c.want)
			}
		})
	}
}

// A Stack built in Go has no positions: its errors name the file and path.
func TestValidateWithoutPositions(t *testing.T) {
	s := &Stack{Version: 1, Region: "eu-central-1", Apps: map[string]App{"web": {Image: "nginx", Instances: []string{"web-1"}}}}
	err := s.Validate()
	want := `fountain.yml: apps.web.instances[0]: names instance "web-1", but the file declares no instances`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
	var fe *fountain.Error
	if !errors.As(err, &fe) || fe.Code != fountain.EINVALID || fe.Hint != "declare it under instances" {
		t.Errorf("as a fountain.Error: %#v", fe)
	}
}

func TestVaultReferences(t *testing.T) {
	s, err := Parse("", []byte(base+"opensearch: {instance: app-1, admin_password: os-admin}\n"+`github:
  repositories:
    user/repo:
      secrets: {DEPLOY_KEY: deploy-key}
      environments: {prod: {secrets: {SSH_KEY: db-password}}}
`))
	if err != nil {
		t.Fatal(err)
	}
	wantRefs := []VaultRef{
		{"db-password", "apps.my-app.secret_env.DB_PASSWORD"},
		{"db-password", "github.repositories.user/repo.environments.prod.secrets.SSH_KEY"},
		{"deploy-key", "github.repositories.user/repo.secrets.DEPLOY_KEY"},
		{"os-admin", "opensearch.admin_password"},
	}
	if got := s.VaultRefs(); !reflect.DeepEqual(got, wantRefs) {
		t.Errorf("refs: %v", got)
	}
	if got := s.VaultNames(); !reflect.DeepEqual(got, []string{"db-password", "deploy-key", "os-admin"}) {
		t.Errorf("names: %v", got)
	}
	have := func(n string) bool { return n == "deploy-key" }
	if got := s.MissingVaultNames(have); !reflect.DeepEqual(got, []string{"db-password", "os-admin"}) {
		t.Errorf("missing: %v", got)
	}
	err = s.CheckVault(have)
	want := "fountain.yml:16:31: apps.my-app.secret_env.DB_PASSWORD: names vault secret db-password, which is not set\n" +
		"fountain.yml:22:48: github.repositories.user/repo.environments.prod.secrets.SSH_KEY: names vault secret db-password, which is not set\n" +
		"fountain.yml:17:47: opensearch.admin_password: names vault secret os-admin, which is not set"
	if err == nil || err.Error() != want {
		t.Errorf("check: got\n%v\nwant\n%s", err, want)
	}
	var l ErrorList
	if !errors.As(err, &l) || l[0].Hint != "set it: fountain vault set db-password (the value on stdin)" {
		t.Errorf("hint: %#v", l)
	}
	if err := s.CheckVault(func(string) bool { return true }); err != nil {
		t.Errorf("all set: %v", err)
	}
}

func TestValidateVaultName(t *testing.T) {
	for name, ok := range map[string]bool{"db-password": true, "a": true, "prod.ssh_key": true, "0": true, strings.Repeat("a", 64): true,
		"": false, "-a": false, "DB": false, "a b": false, "a/b": false, strings.Repeat("a", 65): false, "é": false} {
		if err := ValidateVaultName("name", name); (err == nil) != ok {
			t.Errorf("%q: %v", name, err)
		}
	}
}

func TestCredential(t *testing.T) {
	for _, c := range []struct{ name, value, want string }{
		{"LOG_LEVEL", "info", ""},
		{"DB_PASSWORD", "", ""},
		{"DB_PASSWORD", "x", "DB_PASSWORD is named like a credential (PASSWORD)"},
		{"api-key", "x", "api-key is named like a credential (KEY)"},
		{"GITHUB_TOKEN", "x", "GITHUB_TOKEN is named like a credential (TOKEN)"},
		{"DB_PASSWORD_FILE", "/run/secrets/db", ""},
		{"AWS_ACCESS_KEY_ID", "AKIAEXAMPLE", ""},
		{"SSH_PUBLIC_KEY", "ssh-ed25519 AAAA", ""},
		{"MONKEY", "banana", ""},
		{"CERT", "-----BEGIN RSA PRIVATE KEY-----", "the value of CERT is a private key"},
		{"X", "AKIA0123456789ABCDEF", "the value of X looks like a token (AKIA...)"},
		{"DATABASE_URL", "postgres://u:p@db/x", "the value of DATABASE_URL is a URL with a password"},
		{"DATABASE_URL", "postgres://u@db/x", ""},
	} {
		if got := credential(c.name, c.value); got != c.want {
			t.Errorf("credential(%s, %s) = %q, want %q", c.name, c.value, got, c.want)
		}
	}
}

// What the file removes: valid names, nothing it also declares.
func TestValidateRemove(t *testing.T) {
	st := &Stack{Version: 1, Region: "eu-central-1",
		Instances: map[string]Instance{"web-1": {Bundle: "nano_3_0", Blueprint: "ubuntu_24_04", Zone: "eu-central-1a"}},
		Remove: &Remove{Instances: []string{"web-1", "old-1"}, Apps: []string{"x"}, Routes: []string{"r"},
			Secrets: []string{"user/repo/DEPLOY_KEY", "user/repo/production/SSH_KEY", "user/DEPLOY_KEY", "user/repo/GITHUB_X"}}}
	err := st.Validate()
	var got []string
	for _, e := range err.(ErrorList) {
		got = append(got, e.Path+": "+e.Message)
	}
	want := []string{
		"remove.instances[0]: instance web-1 is declared in instances: it cannot also be removed",
		`remove.apps[0]: "x" is not a container name`,
		"remove.routes[0]: there is no kong in this file",
		`remove.secrets[2]: "user/DEPLOY_KEY" is not OWNER/REPO/NAME or OWNER/REPO/ENVIRONMENT/NAME`,
	}
	if len(got) != 5 || !slices.Equal(got[:4], want) || !strings.HasPrefix(got[4], `remove.secrets[3]: "user/repo/GITHUB_X": `) {
		t.Fatalf("errors\n%s", strings.Join(got, "\n"))
	}
	repo, env, name, err := SplitSecretRef("user/repo/production/ssh_key")
	if err != nil || repo != "user/repo" || env != "production" || name != "SSH_KEY" {
		t.Fatalf("split: %q %q %q %v", repo, env, name, err)
	}
}
