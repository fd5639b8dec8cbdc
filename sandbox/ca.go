package sandbox

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// CA is the sandbox's certificate authority. Sandbox hosts trust it (their
// system store and Docker's certs.d), so the sandbox can serve names such
// as ghcr.io over TLS from this machine. It is made once per data directory
// and kept: hosts created earlier keep trusting it.
type CA struct {
	// CertPath is the CA certificate (PEM), DataDir/sandbox/ca/ca.crt.
	CertPath string
	// CertPEM is the CA certificate in PEM form, as hosts install it.
	CertPEM []byte
	// Cert is the parsed CA certificate.
	Cert *x509.Certificate

	key *ecdsa.PrivateKey
}

// CA file names inside the CA directory.
const (
	caCertFile = "ca.crt"
	caKeyFile  = "ca.key"
)

// caValidity is how long the sandbox CA is valid: long enough never to
// matter for a development machine.
const caValidity = 20 * 365 * 24 * time.Hour

// LeafValidity is how long a certificate issued by the CA is valid. The
// gateway issues a fresh one well before it expires.
const LeafValidity = 90 * 24 * time.Hour

// CADir is where the sandbox CA is kept under Fountain's data directory.
func CADir(dataDir string) string { return filepath.Join(dataDir, "sandbox", "ca") }

// LoadOrCreateCA returns the CA kept in dir (made by CADir), generating an
// ECDSA P-256 CA on first use. Both files are private (0600, in a 0700
// directory) like everything in the data directory. Creation is atomic and
// safe against concurrent callers in other processes: the certificate and
// key are written into a temporary directory that is renamed into place,
// so the first one to finish wins and everyone reads a matching pair.
func LoadOrCreateCA(dir string) (*CA, error) {
	if _, err := os.Stat(filepath.Join(dir, caKeyFile)); errors.Is(err, fs.ErrNotExist) {
		if err := writeNewCA(dir); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, fmt.Errorf("sandbox CA: %w", err)
	}
	return readCA(dir)
}

func writeNewCA(dir string) error {
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return fmt.Errorf("sandbox CA: %w", err)
	}
	certPEM, keyPEM, err := newCA(time.Now())
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, ".ca-*")
	if err != nil {
		return fmt.Errorf("sandbox CA: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := os.WriteFile(filepath.Join(tmp, caKeyFile), keyPEM, 0o600); err != nil {
		return fmt.Errorf("sandbox CA: write key: %w", err)
	}
	if err := os.WriteFile(filepath.Join(tmp, caCertFile), certPEM, 0o600); err != nil {
		return fmt.Errorf("sandbox CA: write certificate: %w", err)
	}
	// An empty directory left by someone is replaced; a populated one
	// (another process won) makes the rename fail, and its CA is used.
	if err := os.Rename(tmp, dir); err != nil {
		if _, serr := os.Stat(filepath.Join(dir, caKeyFile)); serr == nil {
			return nil
		}
		return fmt.Errorf("sandbox CA: install %s: %w", dir, err)
	}
	return nil
}

// newCA generates a CA certificate and key, both PEM.
func newCA(now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("sandbox CA: generate: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"Fountain sandbox"}, CommonName: "Fountain sandbox CA " + serial.Text(16)[:8]},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("sandbox CA: self-sign: %w", err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("sandbox CA: marshal key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), nil
}

func randomSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("sandbox CA: serial: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}

func readCA(dir string) (*CA, error) {
	certPath := filepath.Join(dir, caCertFile)
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, fmt.Errorf("sandbox CA: %w", err)
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, caKeyFile))
	if err != nil {
		return nil, fmt.Errorf("sandbox CA: %w", err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("sandbox CA: %s: %w", dir, err)
	}
	key, ok := pair.PrivateKey.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("sandbox CA: %s: the key is not ECDSA", dir)
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("sandbox CA: %w", err)
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("sandbox CA: %s is not a CA certificate", certPath)
	}
	return &CA{CertPath: certPath, CertPEM: certPEM, Cert: cert, key: key}, nil
}

// Issue makes a server certificate for names (DNS names), signed by the
// CA, with a fresh ECDSA P-256 key that never leaves memory.
func (c *CA) Issue(names []string, now time.Time) (*tls.Certificate, error) {
	if len(names) == 0 {
		return nil, errors.New("sandbox CA: issue: no names")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("sandbox CA: issue: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{Organization: []string{"Fountain sandbox"}, CommonName: names[0]},
		DNSNames:     names,
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(LeafValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.Cert, &key.PublicKey, c.key)
	if err != nil {
		return nil, fmt.Errorf("sandbox CA: issue %v: %w", names, err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("sandbox CA: issue: %w", err)
	}
	return &tls.Certificate{Certificate: [][]byte{der, c.Cert.Raw}, PrivateKey: key, Leaf: leaf}, nil
}

// Pool returns a certificate pool holding only the CA, for clients.
func (c *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c.Cert)
	return p
}
