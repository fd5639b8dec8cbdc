package github

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
)

// State describes everything the stand-in keeps, one sorted line per
// repository, environment, secret and file: a test compares it before and
// after a call to prove the call wrote nothing (a dry run). Secret values
// appear as a SHA-256 of the value only, never in clear.
func (s *Server) State() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	secrets := func(where string, m map[string]*secret) {
		for _, sec := range m {
			sum := sha256.Sum256(sec.value)
			out = append(out, fmt.Sprintf("%s secret %s created %s updated %s value sha256:%s",
				where, sec.name, stamp(sec.created), stamp(sec.updated), hex.EncodeToString(sum[:])))
		}
	}
	for _, rp := range s.repos {
		full := rp.owner + "/" + rp.name
		out = append(out, fmt.Sprintf("repo %s id %d key %s commits %d", full, rp.id, rp.keys.id, rp.commits))
		secrets("repo "+full, rp.secrets)
		for _, e := range rp.envs {
			out = append(out, fmt.Sprintf("repo %s environment %s id %d key %s", full, e.name, e.id, e.keys.id))
			secrets("repo "+full+" environment "+e.name, e.secrets)
		}
		for p, b := range rp.files {
			out = append(out, fmt.Sprintf("repo %s file %s blob %s", full, p, blobSHA(b)))
		}
	}
	sort.Strings(out)
	return out
}
