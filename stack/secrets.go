package stack

import (
	"cmp"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/fountainai/fountain"
)

// Vault names are how a stack file refers to secrets kept in Fountain's
// vault: 1 to 64 characters, lower-case letters, digits, '_', '.' and '-',
// starting with a letter or digit (e.g. db-password, prod.ssh_key). One
// case only, so that two spellings never name two secrets; safe in a URL
// path segment and a shell word as they are.
var vaultNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)

// MaxVaultName is the longest vault name.
const MaxVaultName = 64

// ValidateVaultName checks a vault name; the error names field.
func ValidateVaultName(field, name string) error {
	switch {
	case name == "":
		return fountain.Invalid(field, "is empty")
	case !vaultNameRE.MatchString(name):
		return fountain.Invalid(field, "%s is not a vault name: 1 to %d lower-case letters, digits, '_', '.' and '-', starting with a letter or digit", short(name), MaxVaultName)
	}
	return nil
}

// VaultRef is a vault secret the stack refers to, and where.
type VaultRef struct {
	Name string // the vault name
	Path string // the value that names it, e.g. apps.my-app.secret_env.DB_PASSWORD
}

// VaultRefs lists every reference to a vault secret, by path.
func (s *Stack) VaultRefs() []VaultRef {
	var refs []VaultRef
	if o := s.OpenSearch; o != nil && o.AdminPassword != "" {
		refs = append(refs, VaultRef{o.AdminPassword, "opensearch.admin_password"})
	}
	for name, app := range s.Apps {
		for k, ref := range app.SecretEnv {
			refs = append(refs, VaultRef{ref, join(join(join("apps", name), "secret_env"), k)})
		}
	}
	if g := s.GitHub; g != nil {
		for repo, r := range g.Repositories {
			base := join(join("github", "repositories"), repo)
			for k, ref := range r.Secrets {
				refs = append(refs, VaultRef{ref, join(join(base, "secrets"), k)})
			}
			for env, e := range r.Environments {
				for k, ref := range e.Secrets {
					refs = append(refs, VaultRef{ref, join(join(join(join(base, "environments"), env), "secrets"), k)})
				}
			}
		}
	}
	slices.SortFunc(refs, func(a, b VaultRef) int { return cmp.Compare(a.Path, b.Path) })
	return refs
}

// VaultNames lists the vault names the stack refers to, sorted, once each.
func (s *Stack) VaultNames() []string {
	set := map[string]bool{}
	for _, r := range s.VaultRefs() {
		set[r.Name] = true
	}
	return slices.Sorted(maps.Keys(set))
}

// MissingVaultNames lists the vault names the stack refers to that have
// reports missing, sorted.
func (s *Stack) MissingVaultNames(have func(name string) bool) []string {
	var out []string
	for _, n := range s.VaultNames() {
		if !have(n) {
			out = append(out, n)
		}
	}
	return out
}

// CheckVault reports, at each reference, the vault secrets that have
// reports missing: an ErrorList, or nil when every one is there.
func (s *Stack) CheckVault(have func(name string) bool) error {
	v := &validator{s: s, file: cmp.Or(s.file, "fountain.yml")}
	for _, r := range s.VaultRefs() {
		if !have(r.Name) {
			v.fail(r.Path, false, fmt.Sprintf("set it: fountain vault set %s (the value on stdin)", r.Name),
				"names vault secret %s, which is not set", r.Name)
		}
	}
	return v.errs.err()
}

// credentialWords are the words of an environment variable's name that
// say its value is a credential.
var credentialWords = map[string]bool{
	"PASSWORD": true, "PASSWD": true, "PASS": true, "PWD": true, "SECRET": true, "SECRETS": true, "TOKEN": true,
	"KEY": true, "APIKEY": true, "CREDENTIAL": true, "CREDENTIALS": true, "PRIVATE": true,
}

// notCredentialWords, last in a name, say the value is about a
// credential without being one (DB_PASSWORD_FILE, AWS_ACCESS_KEY_ID,
// SSH_KEY_PATH).
var notCredentialWords = map[string]bool{"FILE": true, "PATH": true, "DIR": true, "ID": true, "NAME": true}

// credentialPrefixes start values that are credentials whatever their
// variable: GitHub, GitLab, Slack, AWS, Stripe and OpenAI-style keys.
var credentialPrefixes = []string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-", "xoxb-", "xoxp-", "AKIA", "ASIA", "sk_live_", "sk-"}

// credential says why an env variable looks like it holds a credential,
// or "". By its name: a word (split at '_', '-' and '.') among PASSWORD,
// PASSWD, PASS, PWD, SECRET(S), TOKEN, KEY, APIKEY, CREDENTIAL(S), PRIVATE,
// unless the last word is FILE, PATH, DIR, ID or NAME or a word is
// PUBLIC; an empty value is fine. By its value: a known token prefix, a
// PEM private key, or a URL with a password.
func credential(name, value string) string {
	if value == "" {
		return ""
	}
	words := strings.FieldsFunc(strings.ToUpper(name), func(r rune) bool { return r == '_' || r == '-' || r == '.' })
	if len(words) > 0 && !notCredentialWords[words[len(words)-1]] && !slices.Contains(words, "PUBLIC") {
		for _, w := range words {
			if credentialWords[w] {
				return fmt.Sprintf("%s is named like a credential (%s)", name, w)
			}
		}
	}
	if strings.Contains(value, "PRIVATE KEY-----") {
		return fmt.Sprintf("the value of %s is a private key", name)
	}
	for _, p := range credentialPrefixes {
		if strings.HasPrefix(value, p) && len(value) >= len(p)+16 {
			return fmt.Sprintf("the value of %s looks like a token (%s...)", name, p)
		}
	}
	if u, err := url.Parse(value); err == nil && u.User != nil {
		if _, set := u.User.Password(); set {
			return fmt.Sprintf("the value of %s is a URL with a password", name)
		}
	}
	return ""
}
