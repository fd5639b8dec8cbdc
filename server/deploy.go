package server

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/fountainai/fountain/deploy"
	"github.com/fountainai/fountain/lightsail"
	"github.com/fountainai/fountain/sqlite"
	"github.com/fountainai/fountain/ssh"
)

// KeysDir is the data directory's key directory: the default allowed
// directory for ssh_key_path, and where Lightsail's default key pairs
// are kept.
const KeysDir = "keys"

// deployEngine configures the deploy engine: host keys in the store, the
// Lightsail instances behind addresses, the allowed key directories
// (FOUNTAIN_SSH_KEY_DIRS, colon-separated; default <data dir>/keys and
// ~/.ssh, plus the sandbox key directory in sandbox mode), whether apps
// may bind-mount the host's system paths (AllowHostBinds), the GHCR login
// (FOUNTAIN_GHCR_USER, FOUNTAIN_GHCR_TOKEN), the vault for service secrets,
// and OpenSearch's apt mirror (FOUNTAIN_OPENSEARCH_APT_REPO and _KEY).
func deployEngine(cfg Config, db *sqlite.DB, ls *lightsail.Client, sandboxKeyDir string) (*deploy.Engine, error) {
	keyDir := filepath.Join(cfg.DataDir, KeysDir)
	if err := os.MkdirAll(keyDir, 0o700); err != nil {
		return nil, err
	}
	dirs, _ := keyDirs(cfg.DataDir, cfg.Getenv, sandboxKeyDir)
	key, err := vaultKey(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	vault, err := db.Vault(key)
	if err != nil {
		return nil, err
	}
	e := &deploy.Engine{
		Dialer:         ssh.Dialer{HostKeys: db},
		Instances:      &lightsailInstances{ls: ls},
		Snapshots:      lightsailSnapshots{ls: ls},
		KeyDirs:        dirs,
		KeyDir:         keyDir,
		Sandbox:        cfg.Sandbox,
		AllowHostBinds: cfg.AllowHostBinds,
		Keeper:         vault,
		KongConfigs:    vault, // texts sealed: a config can hold credentials
		Legacy:         vault,
		OpenSearchRepo: cfg.Getenv("FOUNTAIN_OPENSEARCH_APT_REPO"),
		OpenSearchKey:  cfg.Getenv("FOUNTAIN_OPENSEARCH_APT_KEY"),
	}
	if tok := cfg.Getenv("FOUNTAIN_GHCR_TOKEN"); tok != "" {
		user := cfg.Getenv("FOUNTAIN_GHCR_USER")
		if user == "" {
			user = "fountain"
		}
		e.GHCR = &deploy.RegistryAuth{Username: user, Password: tok}
	}
	return e, nil
}

// splitDirs reads a colon-separated list of directories (nil if none).
func splitDirs(v string) []string {
	var dirs []string
	for _, d := range strings.Split(v, ":") {
		if d = strings.TrimSpace(d); d != "" {
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// The vault keeps Kong config versions (encrypted), history and rollback
// included.
var _ deploy.KongConfigs = (*sqlite.Vault)(nil)
