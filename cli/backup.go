package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/fountainai/fountain/api"
	"github.com/fountainai/fountain/backup"
)

// maxPassphrase bounds a backup passphrase, as POST /backup does.
const maxPassphrase = 1024

// backupOptions are the flags of `fountain backup`.
type backupOptions struct {
	Out             string
	PassphraseStdin bool
	Force           bool
	JSON            bool
}

func (a *app) newBackupCmd() *cobra.Command {
	o := &backupOptions{}
	cmd := &cobra.Command{
		Use:   "backup --out FILE --passphrase-stdin",
		Short: "Back up the server's data directory, encrypted (POST /backup)",
		Long: "Ask the running server for a backup of its data directory and write it to FILE (mode 0600): a consistent\n" +
			"copy of the store taken while it runs (operations still running are restored as interrupted), with the vault\n" +
			"key, the GitHub MAC key, the API token file, the Lightsail key pairs, the secret files and the sandbox's keys,\n" +
			"encrypted with a passphrase (age, scrypt). The passphrase, at least 12 bytes, is read from stdin with\n" +
			"--passphrase-stdin (a trailing newline is dropped), or asked twice on a terminal; never from the command line.\n\n" +
			"The file is checked before it is kept: it opens with the passphrase and every file matches the manifest's\n" +
			"SHA-256. Restore it with `fountain restore`, which needs no server.",
		Example: "  printf %s \"$BACKUP_PASSPHRASE\" | fountain backup --out fountain.age --passphrase-stdin",
		Args:    cobra.NoArgs,
	}
	f := cmd.Flags()
	f.StringVar(&o.Out, "out", "", "write the backup to this `file` (required)")
	f.BoolVar(&o.PassphraseStdin, "passphrase-stdin", false, "read the passphrase from stdin")
	f.BoolVar(&o.Force, "force", false, "replace --out if it exists")
	f.BoolVar(&o.JSON, "json", false, "print the backup's manifest as JSON")
	a.addClientFlags(cmd)
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		if o.Out == "" {
			return usagef(cmd, "--out is required: the file to write the backup to")
		}
		if _, err := os.Lstat(o.Out); err == nil && !o.Force {
			return usagef(cmd, "--out %s exists: choose another file, or pass --force to replace it", o.Out)
		}
		pass, err := a.readPassphrase(o.PassphraseStdin, true)
		if err != nil {
			return usagef(cmd, "%v", err)
		}
		c, err := a.newClient()
		if err != nil {
			return err
		}
		m, err := a.downloadBackup(cmd, c, o, pass)
		if err != nil {
			return err
		}
		if o.JSON {
			b, err := json.Marshal(struct {
				File     string           `json:"file"`
				Manifest *backup.Manifest `json:"manifest"`
			}{o.Out, m})
			if err != nil {
				return err
			}
			return writeJSON(a.io.Out, b)
		}
		fmt.Fprintf(a.io.Out, "Backup written to %s: %d files, %s, taken at %s (Fountain %s).\n", o.Out, len(m.Files), fmtSize(m.Size()),
			fmtTime(m.CreatedAt), m.FountainVersion)
		fmt.Fprintln(a.io.Out, "Checked: it opens with the passphrase and every file matches its SHA-256.")
		fmt.Fprintln(a.io.ErrOut, "Keep the passphrase apart from the file: without it the backup cannot be restored.")
		return nil
	})
	return cmd
}

// downloadBackup streams POST /backup into a private temporary file beside
// o.Out, checks it, and renames it into place.
func (a *app) downloadBackup(cmd *cobra.Command, c *Client, o *backupOptions, pass string) (*backup.Manifest, error) {
	dir := filepath.Dir(o.Out)
	tmp, err := os.CreateTemp(dir, ".fountain-backup-*")
	if err != nil {
		return nil, fmt.Errorf("create the backup file: %w", err)
	}
	defer os.Remove(tmp.Name()) // gone once renamed
	defer tmp.Close()
	if err := tmp.Chmod(0o600); err != nil {
		return nil, err
	}
	resp, err := c.send(cmd.Context(), request{method: "POST", path: "/backup", body: api.BackupBody{Passphrase: pass},
		accept: "application/octet-stream, application/problem+json"})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(tmp, resp.Body); err != nil {
		return nil, fmt.Errorf("download the backup: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return nil, fmt.Errorf("write the backup: %w", err)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	m, err := backup.Verify(tmp, pass)
	if err != nil {
		return nil, fmt.Errorf("the backup the server sent does not check out, so it was not kept: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("write the backup: %w", err)
	}
	if err := os.Rename(tmp.Name(), o.Out); err != nil {
		return nil, fmt.Errorf("write the backup: %w", err)
	}
	return m, nil
}

// restoreOptions are the flags of `fountain restore`.
type restoreOptions struct {
	In              string
	DataDir         string
	PassphraseStdin bool
	JSON            bool
}

func (a *app) newRestoreCmd() *cobra.Command {
	o := &restoreOptions{}
	cmd := &cobra.Command{
		Use:   "restore --in FILE --data-dir DIR --passphrase-stdin",
		Short: "Restore a backup into an empty data directory (no server needed)",
		Long: "Restore a backup made by `fountain backup` into DIR, which must be empty or not exist yet. Nothing is written\n" +
			"to DIR until the whole backup checks out: the passphrase opens it, no byte is missing or changed (age\n" +
			"authenticates every chunk and the end), every file matches the manifest's SHA-256, and the store passes\n" +
			"SQLite's integrity check. Operations that were running when the backup was taken are recorded as\n" +
			"interrupted, as after a crash. Files are written 0600, directories 0700.\n\n" +
			"The passphrase is read from stdin with --passphrase-stdin (a trailing newline is dropped), or asked on a\n" +
			"terminal; never from the command line. Then start Fountain on DIR: fountain serve --data-dir DIR.",
		Example: "  printf %s \"$BACKUP_PASSPHRASE\" | fountain restore --in fountain.age --data-dir /var/lib/fountain --passphrase-stdin",
		Args:    cobra.NoArgs,
	}
	f := cmd.Flags()
	f.StringVar(&o.In, "in", "", "the backup `file` (required)")
	f.StringVar(&o.DataDir, "data-dir", "", "the data `directory` to restore into, empty or absent (required)")
	f.BoolVar(&o.PassphraseStdin, "passphrase-stdin", false, "read the passphrase from stdin")
	f.BoolVar(&o.JSON, "json", false, "print what was restored as JSON")
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		switch {
		case o.In == "":
			return usagef(cmd, "--in is required: the backup file")
		case o.DataDir == "":
			return usagef(cmd, "--data-dir is required: the empty or new directory to restore into")
		}
		in, err := os.Open(o.In)
		if err != nil {
			return usagef(cmd, "--in: %v", err)
		}
		defer in.Close()
		// Refused before the passphrase is asked for.
		if err := backup.CheckTarget(o.DataDir); err != nil {
			return usagef(cmd, "--data-dir: %v", err)
		}
		pass, err := a.readPassphrase(o.PassphraseStdin, false)
		if err != nil {
			return usagef(cmd, "%v", err)
		}
		res, err := backup.Restore(cmd.Context(), in, pass, o.DataDir)
		if errors.Is(err, backup.ErrTargetNotEmpty) {
			return usagef(cmd, "--data-dir: %v", err)
		} else if err != nil {
			return fmt.Errorf("nothing was restored: %w", err)
		}
		if o.JSON {
			b, err := json.Marshal(res)
			if err != nil {
				return err
			}
			return writeJSON(a.io.Out, b)
		}
		m := res.Manifest
		fmt.Fprintf(a.io.Out, "Restored the backup taken at %s (Fountain %s) into %s: %d files, %s.\n", fmtTime(m.CreatedAt),
			m.FountainVersion, o.DataDir, len(m.Files), fmtSize(m.Size()))
		fmt.Fprintf(a.io.Out, "The store holds %d operations and %d audit entries; %d operations were running when it was taken and are now interrupted.\n",
			res.Operations, res.AuditEntries, res.Interrupted)
		fmt.Fprintf(a.io.Out, "Start Fountain on it: fountain serve --data-dir %s\n", o.DataDir)
		return nil
	})
	return cmd
}

// readPassphrase reads a backup passphrase: all of stdin without its
// trailing newline (fromStdin), or at a terminal without echo, twice when
// confirm. Never from the command line.
func (a *app) readPassphrase(fromStdin, confirm bool) (string, error) {
	if fromStdin {
		b, err := io.ReadAll(io.LimitReader(a.io.In, maxPassphrase+3))
		if err != nil {
			return "", fmt.Errorf("read the passphrase from stdin: %w", err)
		}
		return checkPassphrase(bytes.TrimRight(b, "\r\n"), confirm)
	}
	f, ok := a.io.In.(*os.File)
	if !ok || !a.io.StdinTTY || !term.IsTerminal(int(f.Fd())) {
		return "", errors.New("no passphrase: pipe it to stdin with --passphrase-stdin (it is never taken from the command line)")
	}
	ask := func(prompt string) ([]byte, error) {
		fmt.Fprint(a.io.ErrOut, prompt)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(a.io.ErrOut)
		if err != nil {
			return nil, fmt.Errorf("read the passphrase: %w", err)
		}
		return b, nil
	}
	b, err := ask("Passphrase (not shown): ")
	if err != nil {
		return "", err
	}
	if confirm {
		again, err := ask("Again: ")
		if err != nil {
			return "", err
		}
		if !bytes.Equal(b, again) {
			return "", errors.New("the passphrases differ")
		}
	}
	return checkPassphrase(b, confirm)
}

// checkPassphrase checks a passphrase's length; a new one (for a backup)
// must be at least backup.MinPassphrase bytes.
func checkPassphrase(b []byte, isNew bool) (string, error) {
	switch {
	case len(b) == 0:
		return "", errors.New("no passphrase on stdin")
	case len(b) > maxPassphrase:
		return "", fmt.Errorf("the passphrase is longer than %d bytes", maxPassphrase)
	case isNew && len(b) < backup.MinPassphrase:
		return "", fmt.Errorf("the passphrase is shorter than %d bytes: it guards every key in the backup", backup.MinPassphrase)
	}
	return string(b), nil
}

// fmtSize formats a byte count: 512 B, 3.4 KiB, 12.0 MiB.
func fmtSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
