package github

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"sync"
	"time"
)

// SecretKey locates one secret: the API it lives behind (Client.BaseURL),
// the repository and the environment ("" for a repository secret) in lower
// case (GitHub ignores their case), and the secret's name in upper case.
type SecretKey struct {
	API         string
	Repo        string
	Environment string
	Name        string
}

// SecretRecord is what Fountain remembers of its last write of a secret:
// never the value, only a keyed hash of it, and GitHub's updated_at right
// after the write.
type SecretRecord struct {
	SecretKey
	// MAC is HMAC-SHA256, under the server's MAC key, of the secret's key
	// and value.
	MAC []byte
	// UpdatedAt is GitHub's updated_at of the secret after Fountain wrote it.
	UpdatedAt time.Time
}

// SecretStore keeps SecretRecords. The sqlite package implements it for the
// server; MemoryStore is the one for tests.
type SecretStore interface {
	// GetSecretRecord returns the record of key; ok is false when there is
	// none.
	GetSecretRecord(ctx context.Context, key SecretKey) (rec SecretRecord, ok bool, err error)
	// PutSecretRecord creates or replaces the record of rec.SecretKey.
	PutSecretRecord(ctx context.Context, rec SecretRecord) error
	// DeleteSecretRecord removes the record of key, if any.
	DeleteSecretRecord(ctx context.Context, key SecretKey) error
}

// MemoryStore is a SecretStore in memory. The zero value is ready to use.
type MemoryStore struct {
	mu   sync.Mutex
	recs map[SecretKey]SecretRecord
}

// GetSecretRecord implements SecretStore.
func (m *MemoryStore) GetSecretRecord(_ context.Context, key SecretKey) (SecretRecord, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rec, ok := m.recs[key]
	rec.MAC = append([]byte(nil), rec.MAC...)
	return rec, ok, nil
}

// PutSecretRecord implements SecretStore.
func (m *MemoryStore) PutSecretRecord(_ context.Context, rec SecretRecord) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.recs == nil {
		m.recs = map[SecretKey]SecretRecord{}
	}
	rec.MAC = append([]byte(nil), rec.MAC...)
	m.recs[rec.SecretKey] = rec
	return nil
}

// DeleteSecretRecord implements SecretStore.
func (m *MemoryStore) DeleteSecretRecord(_ context.Context, key SecretKey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.recs, key)
	return nil
}

// SecretMAC returns HMAC-SHA256 under macKey of the secret's key and value,
// each field length-prefixed so that no two (key, value) pairs collide.
func SecretMAC(macKey []byte, key SecretKey, value string) []byte {
	m := hmac.New(sha256.New, macKey)
	for _, s := range []string{"fountain github secret v1", key.API, key.Repo, key.Environment, key.Name, value} {
		m.Write(binary.BigEndian.AppendUint64(nil, uint64(len(s))))
		m.Write([]byte(s))
	}
	return m.Sum(nil)
}
