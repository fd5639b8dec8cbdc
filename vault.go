package fountain

import "time"

// VaultSecret is a named secret of the vault, which stack files refer to
// by name: never its value.
type VaultSecret struct {
	Name      string    `json:"name" doc:"The secret's name, as stack files refer to it." example:"db-password"`
	CreatedAt time.Time `json:"created_at" doc:"When it was first set."`
	UpdatedAt time.Time `json:"updated_at" doc:"When its value last changed (setting the same value again changes nothing)."`
}

// What setting a vault secret did.
const (
	VaultCreated   = "created"
	VaultUpdated   = "updated"
	VaultUnchanged = "unchanged"
)

// VaultLock is the lock of an operation on the vault secret name.
func VaultLock(name string) Lock { return Lock("vault:" + name) }
