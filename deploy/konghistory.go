package deploy

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/kong"
	"github.com/fountainai/fountain/ssh"
)

// KongVersions is what Fountain knows of a gateway's configs: its last
// version, and the configuration_hash of every version it wrote or
// adopted, so that a config found running can be told apart from one
// Fountain never had.
type KongVersions struct {
	Latest  *kong.Config // the last version; the empty config when none
	Version int          // its number; 0: none
	// LatestHash is the configuration_hash recorded with the last version
	// (for one adopted, the hash of the text Kong ran, not of Latest's
	// canonical form), and LatestFound whether it was adopted.
	LatestHash  string
	LatestFound bool
	// Hashes maps each known configuration_hash to its version.
	Hashes map[string]int
}

// kongVersions makes the versions from the text of the last one (its
// number latest; 0: none) and the list of all, newest first.
func kongVersions(text string, latest int, history []fountain.ConfigVersion) (KongVersions, error) {
	k := KongVersions{Version: latest, Hashes: map[string]int{kong.EmptyHash: 0}}
	if latest == 0 {
		text = KongEmptyConfig
	}
	for _, v := range history {
		if _, ok := k.Hashes[v.Hash]; !ok {
			k.Hashes[v.Hash] = v.Version
		}
		if v.Version == latest {
			k.LatestHash, k.LatestFound = v.Hash, v.Source == KongSourceFound
		}
	}
	cfg, err := kong.Parse([]byte(text))
	if err != nil {
		return KongVersions{}, fmt.Errorf("Fountain's version %d of the config does not parse: %w", latest, err)
	}
	k.Latest = cfg
	if k.LatestHash == "" {
		k.LatestHash = cfg.Hash()
	}
	if _, ok := k.Hashes[cfg.Hash()]; !ok {
		k.Hashes[cfg.Hash()] = latest
	}
	return k, nil
}

// kongVersionsOf reads the versions kept under a gateway's key.
func (e *Engine) kongVersionsOf(ctx context.Context, key string) (KongVersions, error) {
	if e.KongConfigs == nil {
		return kongVersions("", 0, nil)
	}
	text, n, err := e.KongConfigs.LatestKongConfig(ctx, key)
	if err != nil {
		return KongVersions{}, err
	}
	var vs []fountain.ConfigVersion
	if n > 0 {
		if vs, err = e.KongConfigs.KongConfigHistory(ctx, key); err != nil {
			return KongVersions{}, err
		}
	}
	return kongVersions(text, n, vs)
}

// knows reports whether Kong running a config of this hash runs one of
// Fountain's versions (or the empty config), and which.
func (k KongVersions) knows(hash string) (int, bool) {
	v, ok := k.Hashes[hash]
	return v, ok
}

// runsLatest reports whether hash is the last version's.
func (k KongVersions) runsLatest(hash string) bool {
	v, ok := k.Hashes[hash]
	return ok && v == k.Version || hash == k.Latest.Hash()
}

// KongSourceFound is the source of a version Fountain adopted: a config
// it found running that it had no version of.
const KongSourceFound = "found on the host"

// errNoFile is readRemoteFileIfAny's answer for a missing file.
var errNoFile = errors.New("no such file")

// readRemoteFileIfAny reads a file on the host as root; a missing file is
// errNoFile.
func readRemoteFileIfAny(ctx context.Context, c *ssh.Client, path string) (string, error) {
	const missing = 44
	res, err := c.Run(ctx, ssh.Cmd{Name: "read " + path, Script: "if [ -e " + ssh.Quote(path) + " ]; then exec cat " + ssh.Quote(path) + "; fi; exit 44", Sudo: true, Timeout: time.Minute})
	var xe *ssh.ExitError
	if errors.As(err, &xe) && xe.Code == missing {
		return "", errNoFile
	}
	return res.Stdout, err
}
