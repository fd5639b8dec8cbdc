package server

import (
	"context"
	"sync"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/api"
	"github.com/fountainai/fountain/backup"
	"github.com/fountainai/fountain/sqlite"
)

// BackupSkip are what a backup of the data directory leaves out: caches
// that are rebuilt (the sandbox registry's images, pushed again; the
// stand-ins' builds, made again at the next deploy that needs them).
// Everything else is in it: the store, the vault key (without it the
// vault's secrets are lost), the GitHub MAC key (without it Fountain no
// longer knows which secret values it wrote), the API token file, the
// Lightsail key pairs (keys/), the secret files, and the sandbox's SSH
// key, CA and credentials (its hosts trust that CA and that key).
var BackupSkip = []string{"sandbox/registry", StandInsDir}

// BackupSource is the backup source of a data directory whose store is db.
func BackupSource(dataDir string, db *sqlite.DB) backup.Source {
	return backup.Source{DataDir: dataDir, Snapshot: db.Snapshot, Skip: BackupSkip, Version: api.Version}
}

// Backups takes the API's backups (POST /backup), one at a time: each
// stages a copy of the data directory on its disk.
type Backups struct {
	Source backup.Source
	mu     sync.Mutex
	busy   bool
}

// NewBackups returns the backups of a data directory whose store is db.
func NewBackups(dataDir string, db *sqlite.DB) *Backups {
	return &Backups{Source: BackupSource(dataDir, db)}
}

// Stage takes a consistent copy of the data directory, or answers
// ECONFLICT while another backup is being taken.
func (b *Backups) Stage(ctx context.Context) (api.StagedBackup, error) {
	b.mu.Lock()
	if b.busy {
		b.mu.Unlock()
		return nil, &fountain.Error{Code: fountain.ECONFLICT, Message: "a backup is being taken", Hint: "retry once it is done"}
	}
	b.busy = true
	b.mu.Unlock()
	st, err := b.Source.Stage(ctx)
	if err != nil {
		b.done()
		return nil, err
	}
	return &stagedBackup{Staged: st, done: b.done}, nil
}

func (b *Backups) done() {
	b.mu.Lock()
	b.busy = false
	b.mu.Unlock()
}

// stagedBackup ends the backup when its copy is removed.
type stagedBackup struct {
	*backup.Staged
	done func()
	once sync.Once
}

func (s *stagedBackup) Close() error {
	err := s.Staged.Close()
	s.once.Do(s.done)
	return err
}
