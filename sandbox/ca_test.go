package sandbox

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func TestLoadOrCreateCA(t *testing.T) {
	dir := CADir(t.TempDir())
	ca, err := LoadOrCreateCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	again, err := LoadOrCreateCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ca.CertPEM, again.CertPEM) {
		t.Fatal("the CA changed between loads")
	}
	c := ca.Cert
	if !c.IsCA || !c.BasicConstraintsValid || c.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Fatalf("not a CA: %+v", c)
	}
	if pub, ok := c.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
		t.Fatalf("key %T, want ECDSA P-256", c.PublicKey)
	}
	if c.NotAfter.Before(time.Now().Add(10 * 365 * 24 * time.Hour)) {
		t.Fatalf("CA expires %s: want long-lived", c.NotAfter)
	}
	for p, want := range map[string]os.FileMode{dir: 0o700, ca.CertPath: 0o600, filepath.Join(dir, caKeyFile): 0o600} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s mode %o, want %o", p, fi.Mode().Perm(), want)
		}
	}
	if ca.CertPath != filepath.Join(dir, "ca.crt") {
		t.Errorf("cert path %s", ca.CertPath)
	}
}

// Processes that start at once agree on one CA: the first complete pair
// wins, nobody sees a certificate without its key.
func TestLoadOrCreateCAConcurrently(t *testing.T) {
	dir := CADir(t.TempDir())
	const n = 8
	pems := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ca, err := LoadOrCreateCA(dir)
			if err == nil {
				pems[i] = ca.CertPEM
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if !bytes.Equal(pems[i], pems[0]) {
			t.Fatal("callers got different CAs")
		}
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(dir), ".ca-*"))
	if len(left) != 0 {
		t.Fatalf("temporary directories left: %v", left)
	}
}

// A certificate issued for a name verifies against the CA for that name
// only, as a server certificate.
func TestCAIssue(t *testing.T) {
	ca, err := LoadOrCreateCA(CADir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	cert, err := ca.Issue([]string{"ghcr.io"}, now)
	if err != nil {
		t.Fatal(err)
	}
	leaf := cert.Leaf
	opts := x509.VerifyOptions{Roots: ca.Pool(), DNSName: "ghcr.io", KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	if _, err := leaf.Verify(opts); err != nil {
		t.Fatalf("verify: %v", err)
	}
	opts.DNSName = "example.com"
	if _, err := leaf.Verify(opts); err == nil {
		t.Fatal("verified for a name it was not issued for")
	}
	if d := leaf.NotAfter.Sub(now) - LeafValidity; leaf.IsCA || d > time.Second || d < -time.Second {
		t.Fatalf("leaf: CA %v, valid until %s", leaf.IsCA, leaf.NotAfter)
	}
	if len(cert.Certificate) != 2 {
		t.Fatalf("chain of %d, want leaf and CA", len(cert.Certificate))
	}
	if _, err := ca.Issue(nil, now); err == nil {
		t.Fatal("issued a certificate for no name")
	}
}
