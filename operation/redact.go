package operation

import (
	"encoding/json"
	"sort"
	"strings"
)

// secretKeys are JSON member names whose values are never stored or shown.
var secretKeys = []string{"password", "secret", "token", "private_key", "privatekey", "secret_value", "credentials", "api_key", "authorization", "registry_auth"}

// Redacted replaces a secret value wherever Fountain writes.
const Redacted = "[redacted]"

// minSecret is the shortest value masked by value: shorter ones would mask
// ordinary words in every line of output.
const minSecret = 4

// Masker masks an operation's secret values wherever they would be written:
// step output, log lines, errors, the stored request, the audit log. It is
// safe for concurrent use once built; Add is not.
type Masker struct {
	secrets []string
	r       *strings.Replacer
}

// NewMasker returns a masker for the given secret values.
func NewMasker(secrets ...string) *Masker {
	m := &Masker{}
	m.Add(secrets...)
	return m
}

// Add adds secret values. A value with several lines is also masked line by
// line, since output arrives one line at a time; its JSON-escaped form is
// masked too, since requests and answers are stored as JSON.
func (m *Masker) Add(secrets ...string) {
	seen := map[string]bool{}
	for _, s := range m.secrets {
		seen[s] = true
	}
	add := func(s string) {
		s = strings.TrimSpace(s)
		if len(s) >= minSecret && !seen[s] {
			seen[s] = true
			m.secrets = append(m.secrets, s)
		}
	}
	for _, s := range secrets {
		add(s)
		if b, err := json.Marshal(s); err == nil {
			add(strings.Trim(string(b), `"`))
		}
		if strings.ContainsAny(s, "\r\n") {
			for _, line := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' }) {
				if len(strings.TrimSpace(line)) >= 8 {
					add(line)
				}
			}
		}
	}
	// Longest first, so that a secret containing another is masked whole.
	sort.Slice(m.secrets, func(i, j int) bool { return len(m.secrets[i]) > len(m.secrets[j]) })
	pairs := make([]string, 0, 2*len(m.secrets))
	for _, s := range m.secrets {
		pairs = append(pairs, s, Redacted)
	}
	m.r = nil
	if len(pairs) > 0 {
		m.r = strings.NewReplacer(pairs...)
	}
}

// String masks every secret value in s.
func (m *Masker) String(s string) string {
	if m == nil || m.r == nil || s == "" {
		return s
	}
	return m.r.Replace(s)
}

// Redact returns v as JSON with the value of every member whose name marks
// it as secret replaced by Redacted, at any depth, and every secret value
// masked wherever it appears in a string.
func (m *Masker) Redact(v any) json.RawMessage {
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
	out, err := json.Marshal(m.redactTree(tree))
	if err != nil {
		return nil
	}
	return out
}

// Redact is NewMasker().Redact: redaction by member name only.
func Redact(v any) json.RawMessage { return NewMasker().Redact(v) }

func (m *Masker) redactTree(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, val := range t {
			if isSecretKey(k) {
				switch sv := val.(type) {
				case map[string]any: // e.g. secret_env: keep the names, hide the values
					for name := range sv {
						sv[name] = Redacted
					}
				case nil, bool:
				case string:
					if sv != "" {
						t[k] = Redacted
					}
				default:
					t[k] = Redacted
				}
				continue
			}
			t[k] = m.redactTree(val)
		}
	case []any:
		for i := range t {
			t[i] = m.redactTree(t[i])
		}
	case string:
		return m.String(t)
	}
	return v
}

// namingSuffixes mark members that name a secret or where it is, rather
// than hold it: secret_name, secret_from_file.
var namingSuffixes = []string{"_name", "_from_file"}

func isSecretKey(k string) bool {
	k = strings.ToLower(k)
	for _, s := range namingSuffixes {
		if strings.HasSuffix(k, s) {
			return false
		}
	}
	for _, s := range secretKeys {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}
