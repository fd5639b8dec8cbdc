package github_test

import (
	"net"
	"strings"
	"testing"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/github"
)

func TestParseRepo(t *testing.T) {
	for _, s := range []string{"octocat/hello-world", "a/b", "my-org/repo.name_2", strings.Repeat("a", 39) + "/" + strings.Repeat("b", 100), "o/.github"} {
		r, err := github.ParseRepo("repo_name", s)
		if err != nil || r.String() != s {
			t.Errorf("ParseRepo(%q) = %v, %v", s, r, err)
		}
	}
	bad := map[string]string{
		"":                              `"" is not owner/name`,
		"octocat":                       `"octocat" is not owner/name`,
		"a/b/c":                         `"a/b/c" is not owner/name`,
		"-a/b":                          `owner "-a" may not start or end with a hyphen`,
		"a-/b":                          `owner "a-" may not start or end with a hyphen`,
		"a_b/c":                         `owner "a_b" may hold only letters, digits and hyphens`,
		strings.Repeat("a", 40) + "/b":  "is longer than 39 characters",
		"a/":                            `repository name "" is empty`,
		"a/..":                          `repository name ".." is reserved`,
		"a/b c":                         `repository name "b c" may hold only`,
		"a/" + strings.Repeat("b", 101): "is longer than 100 characters",
	}
	for s, want := range bad {
		_, err := github.ParseRepo("repo_name", s)
		var fe *fountain.Error
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseRepo(%q) = %v, want %q", s, err, want)
			continue
		}
		fe = err.(*fountain.Error)
		if fe.Code != fountain.EINVALID || fe.Field != "repo_name" {
			t.Errorf("ParseRepo(%q): code %s field %s", s, fe.Code, fe.Field)
		}
	}
}

func TestNormalizeSecretName(t *testing.T) {
	good := map[string]string{"deploy_key": "DEPLOY_KEY", "_x": "_X", "A1": "A1", "github": "GITHUB", "MY_GITHUB_TOKEN": "MY_GITHUB_TOKEN"}
	for in, want := range good {
		if got, err := github.NormalizeSecretName("secret_name", in); err != nil || got != want {
			t.Errorf("NormalizeSecretName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	bad := map[string]string{
		"":           "is empty",
		"1ABC":       "may not start with a digit",
		"github_pat": "may not start with GITHUB_",
		"GitHub_X":   "may not start with GITHUB_",
		"A-B":        "may hold only letters, digits and '_'",
		"A B":        "may hold only letters, digits and '_'",
		"ÄPFEL":      "may hold only letters, digits and '_'",
	}
	for in, want := range bad {
		_, err := github.NormalizeSecretName("secret_name", in)
		if err == nil || !strings.Contains(err.Error(), want) || fountain.ErrorCode(err) != fountain.EINVALID {
			t.Errorf("NormalizeSecretName(%q) = %v, want %q", in, err, want)
		}
	}
}

func TestValidateSecretValueNeverEchoes(t *testing.T) {
	if err := github.ValidateSecretValue("secret_value", strings.Repeat("x", 48*1024)); err != nil {
		t.Fatalf("48 KB refused: %v", err)
	}
	v := strings.Repeat("topsecret", 6000)
	err := github.ValidateSecretValue("secret_value", v)
	if err == nil || strings.Contains(err.Error(), "topsecret") {
		t.Fatalf("err = %v", err)
	}
	if err := github.ValidateSecretValue("secret_value", ""); err == nil {
		t.Fatal("empty accepted")
	}
}

func TestValidateEnvironment(t *testing.T) {
	for _, s := range []string{"production", "Staging EU", "github-pages", "ünïcode", strings.Repeat("e", 255)} {
		if err := github.ValidateEnvironment("environment", s); err != nil {
			t.Errorf("%q: %v", s, err)
		}
	}
	for _, s := range []string{"", " x", "x ", "a/b", "a\x00b", "tab\there", strings.Repeat("e", 256), "\xff",
		".", "..", "%2e%2e", "a%2Fb", "x\x7fy", "new\nline"} {
		if err := github.ValidateEnvironment("environment", s); fountain.ErrorCode(err) != fountain.EINVALID {
			t.Errorf("%q accepted", s)
		}
	}
}

// httptestClosedURL returns the URL of a port nothing listens on.
func httptestClosedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}
