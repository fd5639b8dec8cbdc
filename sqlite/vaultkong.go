package sqlite

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/fountainai/fountain"
)

// sealedPrefix marks a Kong config text kept encrypted: a config can hold
// consumers' credentials (key-auth keys, basic-auth passwords, JWT
// secrets), so the vault seals the text the way it seals service secrets.
// A text without it was written in clear by an older Fountain.
const sealedPrefix = "fountain-sealed:v1:"

func kongAAD(host string) []byte { return aad("kong-config", host) }

func (v *Vault) seal(host, text string) (string, error) {
	nonce := make([]byte, v.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	return sealedPrefix + base64.StdEncoding.EncodeToString(v.aead.Seal(nonce, nonce, []byte(text), kongAAD(host))), nil
}

func (v *Vault) open(host, text string) (string, error) {
	rest, ok := strings.CutPrefix(text, sealedPrefix)
	if !ok {
		return text, nil
	}
	raw, err := base64.StdEncoding.DecodeString(rest)
	if err != nil || len(raw) < v.aead.NonceSize() {
		return "", fmt.Errorf("the kong config of %s is damaged", host)
	}
	n := v.aead.NonceSize()
	pt, err := v.aead.Open(nil, raw[:n], raw[n:], kongAAD(host))
	if err != nil {
		return "", fmt.Errorf("decrypt the kong config of %s (was the data directory's key replaced?): %w", host, err)
	}
	return string(pt), nil
}

// LatestKongConfig is DB.LatestKongConfig, decrypted.
func (v *Vault) LatestKongConfig(ctx context.Context, host string) (string, int, error) {
	text, n, err := v.db.LatestKongConfig(ctx, host)
	if err != nil || n == 0 {
		return text, n, err
	}
	text, err = v.open(host, text)
	return text, n, err
}

// AddKongConfig is DB.AddKongConfig with the text encrypted.
func (v *Vault) AddKongConfig(ctx context.Context, host string, c fountain.ConfigVersion) (int, error) {
	sealed, err := v.seal(host, c.Text)
	if err != nil {
		return 0, err
	}
	c.Text = sealed
	return v.db.AddKongConfig(ctx, host, c)
}

// KongConfigHistory is DB.KongConfigHistory (it holds no text).
func (v *Vault) KongConfigHistory(ctx context.Context, host string) ([]fountain.ConfigVersion, error) {
	return v.db.KongConfigHistory(ctx, host)
}

// KongConfig is DB.KongConfig, decrypted.
func (v *Vault) KongConfig(ctx context.Context, host string, version int) (fountain.ConfigVersion, error) {
	c, err := v.db.KongConfig(ctx, host, version)
	if err != nil {
		return c, err
	}
	c.Text, err = v.open(host, c.Text)
	return c, err
}
