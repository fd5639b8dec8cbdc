package api

import (
	"context"
	"io"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fountainai/fountain"
)

// Backups takes encrypted backups of the server's data directory (the
// server's is a *server.Backups over the backup package).
type Backups interface {
	// Stage takes a consistent copy of the data directory while the
	// server runs; an ECONFLICT error when a backup is being taken.
	Stage(ctx context.Context) (StagedBackup, error)
}

// StagedBackup is a consistent copy of the data directory, ready to be
// written encrypted.
type StagedBackup interface {
	// Name is a file name for the download.
	Name() string
	// Encrypt writes the backup encrypted with the passphrase.
	Encrypt(w io.Writer, passphrase string) error
	// Close removes the copy.
	Close() error
}

// BackupBody is the body of POST /backup.
type BackupBody struct {
	Passphrase string `json:"passphrase" minLength:"12" maxLength:"1024" doc:"The passphrase the backup is encrypted with (age, scrypt), at least 12 bytes: it opens every key in the backup, and a restore needs it. Never stored, logged or recorded."`
}

type backupInput struct {
	IdempotencyKey string `header:"Idempotency-Key" required:"false" maxLength:"255" doc:"Not taken here: a backup changes nothing, and its answer is never stored for replay; retry the call itself."`
	Body           BackupBody
}

type backupOutput struct {
	ContentType        string `header:"Content-Type"`
	ContentDisposition string `header:"Content-Disposition"`
	CacheControl       string `header:"Cache-Control"`
	Body               func(huma.Context)
}

// backupRoutes registers POST /backup.
func (s *Server) backupRoutes() {
	register(s, huma.Operation{OperationID: "create-backup", Method: http.MethodPost, Path: "/backup", Tags: []string{"System"},
		Summary: "Back up Fountain's data directory",
		Description: "Answers an encrypted backup of the data directory as a download, taken while the server runs: a consistent copy of the store " +
			"(every operation and audit entry recorded before the call; operations still running are restored as interrupted), the vault key, the GitHub MAC key, " +
			"the API token file, the Lightsail key pairs, the secret files and the sandbox's keys (not its registry's images or the stand-ins' builds, which are rebuilt). " +
			"A tar with a manifest of every file's SHA-256, gzip-compressed, encrypted with the passphrase by age (scrypt). " +
			"Restore it with `fountain restore --in FILE --data-dir DIR --passphrase-stdin`, which needs no server. One backup at a time (409 otherwise). " +
			"The call is in the audit log; the passphrase never is.",
		Responses: map[string]*huma.Response{"200": {Description: "The encrypted backup (an age file).", Content: map[string]*huma.MediaType{
			"application/octet-stream": {Schema: &huma.Schema{Type: huma.TypeString, Format: "binary"}}}}},
	}, s.backup)
}

func (s *Server) backup(ctx context.Context, in *backupInput) (*backupOutput, error) {
	setAuditTarget(ctx, "data directory")
	if s.deps.Backups == nil {
		return nil, fountain.Errorf(fountain.EUNAVAILABLE, "backups are not configured on this server")
	}
	if in.IdempotencyKey != "" {
		return nil, fountain.Invalid("Idempotency-Key", "is not taken by POST /backup: a backup changes nothing and its answer is never stored; send the call again as it is")
	}
	pass := in.Body.Passphrase
	staged, err := s.deps.Backups.Stage(ctx)
	if err != nil {
		return nil, err
	}
	return &backupOutput{ContentType: "application/octet-stream", CacheControl: "no-store",
		ContentDisposition: `attachment; filename="` + staged.Name() + `"`,
		Body: func(hc huma.Context) {
			defer staged.Close()
			hc.SetStatus(http.StatusOK)
			// A failure here (the client went away, mostly) cannot become a
			// problem answer any more: the download ends early, and age
			// refuses the truncated file at restore.
			if err := staged.Encrypt(hc.BodyWriter(), pass); err != nil {
				s.deps.Logger.Warn("backup ended early", "err", err)
			}
		}}, nil
}
