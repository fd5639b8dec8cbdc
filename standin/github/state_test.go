package github_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	gh "github.com/google/go-github/v75/github"
)

// State changes with every write and with nothing else, and never shows a
// value in clear.
func TestState(t *testing.T) {
	s, srv := start(t)
	c := client(t, srv, token)
	ctx := context.Background()
	before := s.State()
	if len(before) != 2 || !strings.HasPrefix(before[0], "repo octocat/hello environment prod ") || !strings.HasPrefix(before[1], "repo octocat/hello id ") {
		t.Fatalf("state = %q", before)
	}
	key, _, err := c.Actions.GetRepoPublicKey(ctx, "octocat", "hello")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Actions.GetRepoSecret(ctx, "octocat", "hello", "X"); err == nil {
		t.Fatal("a secret that does not exist")
	}
	if after := s.State(); !slices.Equal(after, before) {
		t.Fatalf("reads changed the state: %q", after)
	}
	const value = "state-Canary-Value-77"
	if _, err := c.Actions.CreateOrUpdateRepoSecret(ctx, "octocat", "hello",
		&gh.EncryptedSecret{Name: "X", KeyID: key.GetKeyID(), EncryptedValue: seal(t, key, value)}); err != nil {
		t.Fatal(err)
	}
	after := s.State()
	if len(after) != 3 || !strings.Contains(after[2], "secret X created ") || !strings.Contains(after[2], " value sha256:") ||
		strings.Contains(strings.Join(after, "\n"), value) {
		t.Fatalf("state after a write = %q", after)
	}
	if err := s.PutFile("octocat/hello", "a.yml", []byte("a: 1\n")); err != nil {
		t.Fatal(err)
	}
	if again := s.State(); len(again) != 4 || slices.Equal(again[:3], after) {
		t.Fatalf("state after a file = %q", again)
	}
}
