package kong

import "time"

// Version is one configuration Fountain applied to a Kong node, as the
// caller keeps them (numbered from 1 per node) for history and rollback.
type Version struct {
	// N numbers the versions, from 1.
	N int `json:"n"`
	// Hash is the configuration's Hash (Kong's configuration_hash).
	Hash string `json:"hash"`
	// Text is the configuration's canonical YAML (Config.YAML).
	Text string `json:"text"`
	// Source says what made it: "apply", "route add NAME", "route rm
	// NAME", "rollback to N"...
	Source string `json:"source"`
	// CreatedAt is when it was applied.
	CreatedAt time.Time `json:"created_at"`
}
