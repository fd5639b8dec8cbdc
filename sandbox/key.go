package sandbox

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/ssh"
)

// Key is the sandbox SSH key pair: the default key of every sandbox host.
type Key struct {
	// Path is the OpenSSH private key file (mode 0600, in a 0700 directory).
	Path string
	// PrivatePEM is the private key in OpenSSH PEM format.
	PrivatePEM []byte
	// AuthorizedKey is the public key as one authorized_keys line, without
	// a trailing newline.
	AuthorizedKey string
	// Signer signs with the private key.
	Signer ssh.Signer
}

const keyFile = "id_ed25519"

// LoadOrCreateKey returns the ed25519 key pair kept in dir, generating it
// on first use. It is safe against concurrent callers in other processes:
// the first key written wins and everyone reads that one.
func LoadOrCreateKey(dir string) (*Key, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("sandbox key: create %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("sandbox key: chmod %s: %w", dir, err)
	}
	path := filepath.Join(dir, keyFile)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		if err := writeNewKey(dir, path); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, fmt.Errorf("sandbox key: %w", err)
	}
	return readKey(path)
}

func writeNewKey(dir, path string) error {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return fmt.Errorf("sandbox key: generate: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "fountain-sandbox")
	if err != nil {
		return fmt.Errorf("sandbox key: marshal: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".key-*")
	if err != nil {
		return fmt.Errorf("sandbox key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("sandbox key: %w", err)
	}
	if _, err := tmp.Write(pem.EncodeToMemory(block)); err != nil {
		tmp.Close()
		return fmt.Errorf("sandbox key: write: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("sandbox key: write: %w", err)
	}
	// Link fails if another process got there first; its key then wins.
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("sandbox key: install %s: %w", path, err)
	}
	return nil
}

func readKey(path string) (*Key, error) {
	pemBytes, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("sandbox key: %w", err)
	}
	signer, err := ssh.ParsePrivateKey(pemBytes)
	if err != nil {
		return nil, fmt.Errorf("sandbox key: parse %s: %w", path, err)
	}
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey()))) + " fountain-sandbox"
	pub := path + ".pub"
	// The public half is private too: every file in the data directory is
	// its owner's only.
	if old, err := os.ReadFile(pub); err != nil || strings.TrimSpace(string(old)) != line {
		if err := os.WriteFile(pub, []byte(line+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("sandbox key: write %s: %w", pub, err)
		}
	}
	if err := os.Chmod(pub, 0o600); err != nil {
		return nil, fmt.Errorf("sandbox key: %w", err)
	}
	return &Key{Path: path, PrivatePEM: pemBytes, AuthorizedKey: line, Signer: signer}, nil
}
