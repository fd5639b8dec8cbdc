package github

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/fountainai/fountain"
)

// Limits GitHub puts on Actions secrets.
const (
	// MaxSecretValue is the largest secret value GitHub stores: 48 KB.
	MaxSecretValue = 48 * 1024
	// MaxEnvironmentName is the longest environment name GitHub accepts.
	MaxEnvironmentName = 255
)

// Repo is a repository named owner/name.
type Repo struct {
	Owner string
	Name  string
}

// String returns "owner/name".
func (r Repo) String() string { return r.Owner + "/" + r.Name }

// ParseRepo validates "owner/name" by GitHub's rules and splits it. Owners
// (users and organisations) are 1 to 39 letters, digits and hyphens, not
// starting or ending with a hyphen; repository names are 1 to 100 letters,
// digits, '.', '-' and '_', and not "." or "..". field names the request
// field in the error.
func ParseRepo(field, s string) (Repo, error) {
	owner, name, ok := strings.Cut(s, "/")
	if !ok || strings.Contains(name, "/") {
		return Repo{}, fountain.Invalid(field, "%q is not owner/name (e.g. octocat/hello-world)", s)
	}
	if err := validOwner(owner); err != "" {
		return Repo{}, fountain.Invalid(field, "owner %q %s", owner, err)
	}
	if err := validRepoName(name); err != "" {
		return Repo{}, fountain.Invalid(field, "repository name %q %s", name, err)
	}
	return Repo{Owner: owner, Name: name}, nil
}

func validOwner(s string) string {
	switch {
	case s == "":
		return "is empty"
	case len(s) > 39:
		return "is longer than 39 characters"
	case s[0] == '-' || s[len(s)-1] == '-':
		return "may not start or end with a hyphen"
	}
	for _, r := range s {
		if !isASCIIAlnum(r) && r != '-' {
			return "may hold only letters, digits and hyphens"
		}
	}
	return ""
}

func validRepoName(s string) string {
	switch {
	case s == "":
		return "is empty"
	case len(s) > 100:
		return "is longer than 100 characters"
	case s == "." || s == "..":
		return "is reserved"
	}
	for _, r := range s {
		if !isASCIIAlnum(r) && r != '.' && r != '-' && r != '_' {
			return "may hold only letters, digits, '.', '-' and '_'"
		}
	}
	return ""
}

// NormalizeSecretName validates an Actions secret name and returns it as
// GitHub stores it, in upper case: only letters, digits and '_', not
// starting with a digit, not starting with GITHUB_ (in any case).
func NormalizeSecretName(field, s string) (string, error) {
	if s == "" {
		return "", fountain.Invalid(field, "is empty")
	}
	for _, r := range s {
		if !isASCIIAlnum(r) && r != '_' {
			return "", fountain.Invalid(field, "%q may hold only letters, digits and '_'", s)
		}
	}
	if s[0] >= '0' && s[0] <= '9' {
		return "", fountain.Invalid(field, "%q may not start with a digit", s)
	}
	up := strings.ToUpper(s)
	if strings.HasPrefix(up, "GITHUB_") {
		return "", fountain.Invalid(field, "%q may not start with GITHUB_ (GitHub reserves it)", s)
	}
	return up, nil
}

// ValidateSecretValue checks a secret value: not empty and at most
// MaxSecretValue bytes. The value never appears in the error.
func ValidateSecretValue(field, v string) error {
	switch {
	case v == "":
		return fountain.Invalid(field, "is empty")
	case len(v) > MaxSecretValue:
		return fountain.Invalid(field, "is %d bytes; GitHub stores at most %d (48 KB)", len(v), MaxSecretValue)
	}
	return nil
}

// ValidateEnvironment checks a deployment environment name: 1 to 255
// characters of valid UTF-8, no control characters, no leading or trailing
// space. It is a single path segment of the API's URLs, so it may not be
// "." or ".." (which would name another resource once the path is
// resolved), nor hold '/' or '%' (which an intermediary may decode).
func ValidateEnvironment(field, s string) error {
	switch {
	case s == "":
		return fountain.Invalid(field, "is empty")
	case !utf8.ValidString(s):
		return fountain.Invalid(field, "is not valid UTF-8")
	case utf8.RuneCountInString(s) > MaxEnvironmentName:
		return fountain.Invalid(field, "is longer than %d characters", MaxEnvironmentName)
	case strings.TrimSpace(s) != s:
		return fountain.Invalid(field, "%q starts or ends with a space", s)
	case s == "." || s == "..":
		return fountain.Invalid(field, "%q is not an environment name", s)
	case strings.ContainsAny(s, "/%"):
		return fountain.Invalid(field, "%q may not contain '/' or '%%'", s)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fountain.Invalid(field, "%q holds a control character", s)
		}
	}
	return nil
}

func isASCIIAlnum(r rune) bool {
	return (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
}

// MaxToken bounds a GitHub token sent with a call (GitHub's are at most
// 255 characters today).
const MaxToken = 1024

// ValidateToken checks a token sent with a call, if any: printable ASCII
// without spaces, at most MaxToken bytes. The token never appears in the
// error.
func ValidateToken(field, token string) error {
	if len(token) > MaxToken {
		return fountain.Invalid(field, "is longer than %d characters", MaxToken)
	}
	for i := 0; i < len(token); i++ {
		if c := token[i]; c <= ' ' || c >= 0x7f {
			return fountain.Invalid(field, "may hold only printable ASCII characters without spaces")
		}
	}
	return nil
}
