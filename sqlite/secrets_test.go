package sqlite_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fountainai/fountain/github"
	standin "github.com/fountainai/fountain/standin/github"
)

func TestSecretRecords(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "f.db")
	db := open(t, path)
	key := github.SecretKey{API: "https://api.github.com/", Repo: "octocat/hello", Name: "DEPLOY_KEY"}
	if _, ok, err := db.GetSecretRecord(ctx, key); ok || err != nil {
		t.Fatalf("empty store: %v %v", ok, err)
	}
	at := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	mac := bytes.Repeat([]byte{7}, 32)
	if err := db.PutSecretRecord(ctx, github.SecretRecord{SecretKey: key, MAC: mac, UpdatedAt: at}); err != nil {
		t.Fatal(err)
	}
	// Another environment, API or name is another record.
	for _, other := range []github.SecretKey{
		{API: key.API, Repo: key.Repo, Environment: "prod", Name: key.Name},
		{API: "http://127.0.0.1:9/", Repo: key.Repo, Name: key.Name},
		{API: key.API, Repo: key.Repo, Name: "OTHER"},
	} {
		if _, ok, _ := db.GetSecretRecord(ctx, other); ok {
			t.Fatalf("%+v found", other)
		}
	}
	later := at.Add(time.Minute)
	mac2 := bytes.Repeat([]byte{9}, 32)
	if err := db.PutSecretRecord(ctx, github.SecretRecord{SecretKey: key, MAC: mac2, UpdatedAt: later}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db = open(t, path)
	rec, ok, err := db.GetSecretRecord(ctx, key)
	if err != nil || !ok || !bytes.Equal(rec.MAC, mac2) || !rec.UpdatedAt.Equal(later) || rec.SecretKey != key {
		t.Fatalf("after reopen: %+v %v %v", rec, ok, err)
	}
	if err := db.DeleteSecretRecord(ctx, key); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteSecretRecord(ctx, key); err != nil {
		t.Fatalf("deleting again: %v", err)
	}
	if _, ok, _ := db.GetSecretRecord(ctx, key); ok {
		t.Fatal("record still there")
	}
	if err := db.PutSecretRecord(ctx, github.SecretRecord{SecretKey: key}); err == nil {
		t.Fatal("a record without a MAC was stored")
	}
}

// The store as github.Client uses it: re-sending a value after a restart
// of Fountain sends nothing, and the database never holds the value.
func TestSecretStoreWithClient(t *testing.T) {
	ctx := context.Background()
	const tok, value = "ghp_sqliteTestToken0000000000000000000", "canary-Value-Sqlite-5d1e"
	gh := standin.New()
	gh.AddToken(tok, standin.Write)
	if err := gh.AddRepo("octocat/hello"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gh)
	defer srv.Close()
	dir := t.TempDir()
	path := filepath.Join(dir, "f.db")
	macKey := bytes.Repeat([]byte{1}, 32)
	set := func() *github.SecretResult {
		db := open(t, path)
		defer db.Close()
		c, err := github.New(github.Options{BaseURL: srv.URL, Token: tok, Store: db, MACKey: macKey})
		if err != nil {
			t.Fatal(err)
		}
		res, err := c.SetSecret(ctx, nil, github.SetSecretInput{SecretRef: github.SecretRef{Repo: "octocat/hello", Name: "api_key"}, Value: value})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if res := set(); res.Action != github.ActionCreated {
		t.Fatalf("first: %+v", res)
	}
	puts := 0
	for _, c := range gh.Calls() {
		if c.Method == http.MethodPut {
			puts++
		}
	}
	if res := set(); res.Action != github.ActionUnchanged || res.Changed {
		t.Fatalf("again after reopening: %+v", res)
	}
	for _, c := range gh.Calls() {
		if c.Method == http.MethodPut {
			puts--
		}
	}
	if puts != 0 {
		t.Fatal("the second set wrote")
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		if bytes.Contains(b, []byte(value)) {
			t.Fatalf("%s holds the secret value", e.Name())
		}
	}
}
