package kong

import (
	"slices"
	"strings"
)

// secretKeys are the fields of Kong 3.9's entities and bundled plugins
// that hold credentials: key-auth keys, basic-auth passwords, JWT, HMAC
// and OAuth2 secrets, certificates' private keys, and plugin settings
// such as redis_password or aws_secret.
var secretKeys = []string{"key", "password", "secret", "client_secret", "private_key", "token", "api_key", "access_token", "cert_key"}

// SecretValues returns the configuration's credential values: every
// string under a field named like a credential (see secretKeys, or one
// containing password, secret or token), at any depth. A caller masks
// them in what it logs and records; shorter values than 4 characters
// are left out, as nothing could mask them without masking everything.
func (c *Config) SecretValues() []string {
	if c == nil {
		return nil
	}
	var out []string
	var walk func(key string, v any)
	walk = func(key string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				walk(k, x)
			}
		case []any:
			for _, x := range v {
				walk(key, x)
			}
		case string:
			if isSecretKey(key) && len(v) >= 4 && !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
	}
	walk("", c.doc)
	slices.Sort(out)
	return out
}

func isSecretKey(k string) bool {
	k = strings.ToLower(k)
	if slices.Contains(secretKeys, k) {
		return true
	}
	for _, w := range []string{"password", "secret", "token"} {
		if strings.Contains(k, w) && !strings.HasSuffix(k, "_name") && !strings.HasSuffix(k, "_names") {
			return true
		}
	}
	return false
}
