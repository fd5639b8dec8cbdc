package server

import (
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
)

// Modes of everything in the data directory: it holds the API token, the
// database (operations, the audit log, host keys), the sandbox's SSH key and
// the emulator's credentials, so none of it is for other users.
const (
	privateFile fs.FileMode = 0o600
	privateDir  fs.FileMode = 0o700
)

// tightenDataDir makes every file in dir (dir included) private: files
// 0600, directories 0700, whatever an older version or a umask left. It
// says which it changed in one log line. Symbolic links are left alone (a
// chmod would follow them out of the directory), and so is what cannot be
// changed (owned by someone else), with a warning.
func tightenDataDir(dir string, log *slog.Logger) {
	var changed []string
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			log.Warn("data directory: cannot check the mode", "path", p, "err", err)
			return nil
		}
		want := privateFile
		switch {
		case d.IsDir():
			want = privateDir
		case !d.Type().IsRegular():
			return nil
		}
		fi, err := d.Info()
		if err != nil || fi.Mode().Perm()&^want == 0 {
			return nil
		}
		if err := os.Chmod(p, want); err != nil {
			log.Warn("data directory: cannot make private", "path", p, "mode", fi.Mode().Perm().String(), "err", err)
			return nil
		}
		changed = append(changed, p)
		return nil
	})
	if len(changed) > 0 {
		shown := changed[:min(len(changed), 5)]
		log.Warn("data directory: made files others could read private (0600, directories 0700)", "count", len(changed), "paths", shown)
	}
}
