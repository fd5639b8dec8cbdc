package fountain

import "time"

// ConfigVersion is one version of a declarative config Fountain applied
// (a Kong gateway's), kept for history and rollback.
type ConfigVersion struct {
	Version     int       `json:"version" doc:"The version number, 1, 2, ..."`
	Hash        string    `json:"hash" doc:"A hash of the config's meaning (Kong's configuration_hash)."`
	Text        string    `json:"text,omitempty" doc:"The config, canonical YAML."`
	Source      string    `json:"source" doc:"What made it: apply, route add NAME, route rm NAME, rollback to N."`
	OperationID string    `json:"operation_id,omitempty" doc:"The operation that applied it."`
	CreatedAt   time.Time `json:"created_at" doc:"When it was applied."`
}
