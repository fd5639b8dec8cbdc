package operation

import (
	"encoding/json"
	"strings"
)

// secretKeys are JSON member names whose values are never stored or shown.
var secretKeys = []string{"password", "secret", "token", "private_key", "privatekey", "secret_value", "credentials", "api_key", "authorization"}

// Redacted replaces a secret value in a stored request.
const Redacted = "[redacted]"

// Redact returns v as JSON with the value of every member whose name marks
// it as secret replaced by Redacted, at any depth.
func Redact(v any) json.RawMessage {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var tree any
	if err := json.Unmarshal(b, &tree); err != nil {
		return nil
	}
	out, err := json.Marshal(redactTree(tree))
	if err != nil {
		return nil
	}
	return out
}

func redactTree(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, val := range t {
			if isSecretKey(k) {
				if val != nil && val != "" {
					t[k] = Redacted
				}
				continue
			}
			t[k] = redactTree(val)
		}
	case []any:
		for i := range t {
			t[i] = redactTree(t[i])
		}
	}
	return v
}

func isSecretKey(k string) bool {
	k = strings.ToLower(k)
	for _, s := range secretKeys {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}
