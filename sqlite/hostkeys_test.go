package sqlite_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"path/filepath"
	"testing"
	"time"

	"github.com/fountainai/fountain"
)

// ed25519Key returns a fresh ed25519 public key blob, base64 (the SSH wire
// format: string "ssh-ed25519", string key).
func ed25519Key(t *testing.T) string {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var blob []byte
	for _, f := range [][]byte{[]byte("ssh-ed25519"), pub} {
		blob = binary.BigEndian.AppendUint32(blob, uint32(len(f)))
		blob = append(blob, f...)
	}
	return base64.StdEncoding.EncodeToString(blob)
}

func TestHostKeys(t *testing.T) {
	ctx := context.Background()
	db := open(t, filepath.Join(t.TempDir(), "f.db"))
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	db.Now = func() time.Time { return now }
	host := "127.0.0.3:22"
	if keys, err := db.HostKeys(ctx, host); err != nil || keys != nil {
		t.Fatalf("empty store: %v %v", keys, err)
	}
	k := fountain.HostKey{Host: host, Algorithm: "ssh-ed25519", PublicKey: ed25519Key(t), Source: fountain.HostKeySourceTOFU,
		CreatedAt: now.Add(-time.Hour), FingerprintSHA256: "ignored"}
	if err := db.TrustHostKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	// The same key again: a no-op that keeps the first source and date.
	now = now.Add(time.Minute)
	again := k
	again.Source = fountain.HostKeySourceLightsail
	if err := db.TrustHostKey(ctx, again); err != nil {
		t.Fatal(err)
	}
	keys, err := db.HostKeys(ctx, host)
	if err != nil || len(keys) != 1 {
		t.Fatalf("%v %v", keys, err)
	}
	got := keys[0]
	if got.Host != host || got.Algorithm != "ssh-ed25519" || got.PublicKey != k.PublicKey || got.Source != "tofu" ||
		!got.CreatedAt.Equal(now.Add(-time.Minute)) || len(got.FingerprintSHA256) != len("SHA256:")+43 {
		t.Fatalf("stored %+v", got)
	}
	// Another key of the same algorithm is refused.
	other := k
	other.PublicKey = ed25519Key(t)
	if err := db.TrustHostKey(ctx, other); fountain.ErrorCode(err) != fountain.ECONFLICT {
		t.Fatalf("other key: %v", err)
	}
	// Malformed keys are refused.
	for _, bad := range []fountain.HostKey{
		{Host: host, Algorithm: "ssh-ed25519", PublicKey: "%%%", Source: "tofu"},
		{Host: host, Algorithm: "ssh-rsa", PublicKey: k.PublicKey, Source: "tofu"},
		{Host: "", Algorithm: "ssh-ed25519", PublicKey: k.PublicKey, Source: "tofu"},
		{Host: host, Algorithm: "ssh-ed25519", PublicKey: base64.StdEncoding.EncodeToString([]byte{0xff, 0xff, 0xff, 0xff}), Source: "tofu"},
	} {
		if err := db.TrustHostKey(ctx, bad); fountain.ErrorCode(err) != fountain.EINVALID {
			t.Errorf("%+v: %v", bad, err)
		}
	}
	// Another host is independent; the list holds both, by host.
	if err := db.TrustHostKey(ctx, fountain.HostKey{Host: "127.0.0.2:22", Algorithm: "ssh-ed25519", PublicKey: other.PublicKey, Source: "lightsail"}); err != nil {
		t.Fatal(err)
	}
	all, err := db.ListHostKeys(ctx)
	if err != nil || len(all) != 2 || all[0].Host != "127.0.0.2:22" || all[1].Host != host {
		t.Fatalf("list %+v %v", all, err)
	}
	// Forget removes the host's keys only; then a new key is welcome.
	if n, err := db.ForgetHostKeys(ctx, host); err != nil || n != 1 {
		t.Fatalf("forget: %d %v", n, err)
	}
	if n, _ := db.ForgetHostKeys(ctx, host); n != 0 {
		t.Fatalf("forget again: %d", n)
	}
	if err := db.TrustHostKey(ctx, other); err != nil {
		t.Fatal(err)
	}
	if all, _ := db.ListHostKeys(ctx); len(all) != 2 {
		t.Fatalf("list after forget and trust %+v", all)
	}
}
