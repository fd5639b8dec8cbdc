package kong

import (
	"crypto/md5"
	"encoding/hex"
)

// LoadedHash is the configuration_hash Kong reports once it has loaded
// the declarative config text as it is (from its file at start, or from
// POST /config): the md5 of the text, or EmptyHash for a config without
// entities. It differs from Hash when text is not in canonical form (a
// file written by hand, say).
func LoadedHash(text string) (string, error) {
	cfg, err := Parse([]byte(text))
	if err != nil {
		return "", err
	}
	if cfg.empty() {
		return EmptyHash, nil
	}
	sum := md5.Sum([]byte(text))
	return hex.EncodeToString(sum[:]), nil
}
