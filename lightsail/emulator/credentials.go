package emulator

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Credentials are an access key pair the emulator accepts.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
}

// Map returns the pair as Options.Credentials wants it.
func (c Credentials) Map() map[string]string {
	return map[string]string{c.AccessKeyID: c.SecretAccessKey}
}

// NewCredentials returns a random pair shaped like AWS's: an access key ID
// of "AKIA" and 16 base32 characters, and a 40-character secret.
func NewCredentials() (Credentials, error) {
	var id [10]byte
	var secret [30]byte
	if _, err := rand.Read(id[:]); err != nil {
		return Credentials{}, fmt.Errorf("generate emulator credentials: %w", err)
	}
	if _, err := rand.Read(secret[:]); err != nil {
		return Credentials{}, fmt.Errorf("generate emulator credentials: %w", err)
	}
	return Credentials{
		AccessKeyID:     "AKIA" + base32.StdEncoding.EncodeToString(id[:]),
		SecretAccessKey: base64.RawURLEncoding.EncodeToString(secret[:]),
	}, nil
}

// LoadOrCreateCredentials returns the pair kept in the file at path,
// generating it on first use. The file is an AWS shared credentials file
// with a [default] profile, so the AWS CLI and SDKs read it as is
// (AWS_SHARED_CREDENTIALS_FILE=path). It is created with mode 0600 in a
// 0700 directory, written whole before it appears, and safe against
// concurrent callers: the first file written wins and everyone reads it.
// A file left readable by others is made private again.
func LoadOrCreateCredentials(path string) (Credentials, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Credentials{}, fmt.Errorf("emulator credentials: %w", err)
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		if err := writeNewCredentials(dir, path); err != nil {
			return Credentials{}, err
		}
	} else if err != nil {
		return Credentials{}, fmt.Errorf("emulator credentials: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		return Credentials{}, fmt.Errorf("emulator credentials: %w", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return Credentials{}, fmt.Errorf("emulator credentials: %w", err)
	}
	c, err := parseCredentials(data)
	if err != nil {
		return Credentials{}, fmt.Errorf("emulator credentials in %s: %w", path, err)
	}
	return c, nil
}

func writeNewCredentials(dir, path string) error {
	c, err := NewCredentials()
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".emulator-credentials-*") // mode 0600
	if err != nil {
		return fmt.Errorf("emulator credentials: %w", err)
	}
	defer os.Remove(tmp.Name())
	body := fmt.Sprintf("# Credentials of Fountain's Lightsail emulator (sandbox only; they open nothing on AWS).\n"+
		"[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n", c.AccessKeyID, c.SecretAccessKey)
	if _, err := tmp.WriteString(body); err != nil {
		tmp.Close()
		return fmt.Errorf("emulator credentials: write: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("emulator credentials: write: %w", err)
	}
	// Link fails if another process got there first; its pair then wins.
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("emulator credentials: install %s: %w", path, err)
	}
	return nil
}

// parseCredentials reads the [default] profile of a shared credentials file.
func parseCredentials(data []byte) (Credentials, error) {
	var c Credentials
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
			continue
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = strings.TrimSpace(line[1 : len(line)-1])
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || section != "default" {
			continue
		}
		switch strings.TrimSpace(k) {
		case "aws_access_key_id":
			c.AccessKeyID = strings.TrimSpace(v)
		case "aws_secret_access_key":
			c.SecretAccessKey = strings.TrimSpace(v)
		}
	}
	if c.AccessKeyID == "" || c.SecretAccessKey == "" {
		return Credentials{}, errors.New("no aws_access_key_id and aws_secret_access_key in a [default] profile")
	}
	return c, nil
}
