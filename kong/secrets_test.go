package kong

import (
	"slices"
	"testing"
)

func TestSecretValues(t *testing.T) {
	c, err := Parse([]byte(`_format_version: "3.0"
services:
- name: s
  url: http://127.0.0.1:8080
  plugins:
  - name: rate-limiting
    config: {policy: redis, redis_password: redis-pw-1234, minute: 5}
consumers:
- username: alice
  keyauth_credentials:
  - key: alice-key-5678
  basicauth_credentials:
  - username: alice
    password: alice-pw-9012
  jwt_secrets:
  - key: iss-alice
    secret: jwt-secret-3456
plugins:
- name: key-auth
  config: {key_names: [apikey], hide_credentials: true}
`))
	if err != nil {
		t.Fatal(err)
	}
	got := c.SecretValues()
	want := []string{"alice-key-5678", "alice-pw-9012", "iss-alice", "jwt-secret-3456", "redis-pw-1234"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}
