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

// kongHistory is what Fountain knows of a gateway's configs: its last
// version, and the configuration_hash of every version it wrote or
// adopted, so that a config found running can be told apart from one
// Fountain never had.
type kongHistory struct {
	latest  *kong.Config // the last version; the empty config when none
	version int          // its number; 0: none
	// latestHash is the configuration_hash recorded with the last version
	// (for one adopted, the hash of the text Kong ran, not of latest's
	// canonical form), and latestFound whether it was adopted.
	latestHash  string
	latestFound bool
	hashes      map[string]int
}

// kongHistoryOf reads the versions kept for h.
func (e *Engine) kongHistoryOf(ctx context.Context, h *Host) (*kongHistory, error) {
	k := &kongHistory{hashes: map[string]int{kong.EmptyHash: 0}}
	text := KongEmptyConfig
	if e.KongConfigs != nil {
		latest, n, err := e.KongConfigs.LatestKongConfig(ctx, h.Key())
		if err != nil {
			return nil, err
		}
		if n > 0 {
			text, k.version = latest, n
			vs, err := e.KongConfigs.KongConfigHistory(ctx, h.Key())
			if err != nil {
				return nil, err
			}
			for _, v := range vs {
				if _, ok := k.hashes[v.Hash]; !ok {
					k.hashes[v.Hash] = v.Version
				}
				if v.Version == n {
					k.latestHash, k.latestFound = v.Hash, v.Source == KongSourceFound
				}
			}
		}
	}
	cfg, err := kong.Parse([]byte(text))
	if err != nil {
		return nil, fmt.Errorf("Fountain's version %d of the config does not parse: %w", k.version, err)
	}
	k.latest = cfg
	if k.latestHash == "" {
		k.latestHash = cfg.Hash()
	}
	if _, ok := k.hashes[cfg.Hash()]; !ok {
		k.hashes[cfg.Hash()] = k.version
	}
	return k, nil
}

// knows reports whether Kong running a config of this hash runs one of
// Fountain's versions (or the empty config), and which.
func (k *kongHistory) knows(hash string) (int, bool) {
	v, ok := k.hashes[hash]
	return v, ok
}

// runsLatest reports whether hash is the last version's.
func (k *kongHistory) runsLatest(hash string) bool {
	v, ok := k.hashes[hash]
	return ok && v == k.version || hash == k.latest.Hash()
}

// KongSourceFound is the source of a version Fountain adopted: a config
// it found running that it had no version of.
const KongSourceFound = "found on the host"

// adoptKongConfig records cfg, found running with Kong's configuration
// hash hash, as a new version, and returns its number.
func (e *Engine) adoptKongConfig(ctx context.Context, h *Host, cfg *kong.Config, hash, opID string) (int, error) {
	if e.KongConfigs == nil {
		return 0, nil
	}
	return e.KongConfigs.AddKongConfig(ctx, h.Key(), fountain.ConfigVersion{Hash: hash, Text: cfg.YAML(), Source: KongSourceFound, OperationID: opID})
}

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
