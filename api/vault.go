package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/operation"
	"github.com/fountainai/fountain/stack"
)

// Vault keeps the named secrets stack files refer to (the server's is a
// *sqlite.Vault): values encrypted, listed by name and date only.
type Vault interface {
	StackSecrets(ctx context.Context) ([]fountain.VaultSecret, error)
	PutStackSecret(ctx context.Context, name, value string) (fountain.VaultSecret, string, error)
	DeleteStackSecret(ctx context.Context, name string) (bool, error)
}

// Limits on a vault secret's value.
const (
	// MaxVaultValue is the largest value the vault keeps: 64 KiB.
	MaxVaultValue = 64 << 10
	// minVaultValue is the shortest: a shorter value could not be masked
	// by value in the output of the deploys that use it.
	minVaultValue = 4
)

func (s *Server) vault() (Vault, error) {
	if s.deps.Vault == nil {
		return nil, fountain.Errorf(fountain.EUNAVAILABLE, "the vault is not configured on this server")
	}
	return s.deps.Vault, nil
}

// VaultSetBody is the body of PUT /vault/{name}.
type VaultSetBody struct {
	Value string `json:"value" minLength:"1" maxLength:"65536" doc:"The secret's value, 4 bytes to 64 KiB, without NUL: kept encrypted with the data directory's key, never stored in clear, logged, recorded or shown again."`
}

type vaultSetInput struct {
	AsyncInput
	Name string `path:"name" minLength:"1" maxLength:"64" doc:"The secret's name, as stack files refer to it: 1 to 64 lower-case letters, digits, '_', '.' and '-', starting with a letter or digit." example:"db-password"`
	Body VaultSetBody
}

type vaultNameInput struct {
	AsyncInput
	Name string `path:"name" minLength:"1" maxLength:"64" doc:"The secret's name." example:"db-password"`
}

// VaultSetResult is what setting a vault secret did.
type VaultSetResult struct {
	fountain.VaultSecret
	Action string `json:"action" enum:"created,updated,unchanged" doc:"created, updated, or unchanged (it already held this value: nothing was written)."`
}

// vaultRecord is a vault operation's request as its record keeps it.
type vaultRecord struct {
	Name  string `json:"name"`
	Value string `json:"value,omitempty"`
}

// checkVaultName validates the name in the path and names the audit
// target.
func checkVaultName(ctx context.Context, name string) error {
	setAuditTarget(ctx, "vault/"+truncate(name, 64))
	return stack.ValidateVaultName("path.name", name)
}

func (s *Server) setVaultSecret(ctx context.Context, in *vaultSetInput) (*OperationOutput, error) {
	v, err := s.vault()
	if err != nil {
		return nil, err
	}
	name, value := in.Name, in.Body.Value
	if err := checkVaultName(ctx, name); err != nil {
		return nil, err
	}
	switch {
	case len(value) < minVaultValue:
		return nil, fountain.Invalid("value", "is shorter than %d bytes: too short to be kept secret (it could not be masked in the output of what uses it)", minVaultValue)
	case len(value) > MaxVaultValue:
		return nil, fountain.Invalid("value", "is %d bytes; the vault keeps at most %d (64 KiB)", len(value), MaxVaultValue)
	case strings.ContainsRune(value, 0):
		return nil, fountain.Invalid("value", "holds a NUL byte, which no environment variable or secret can")
	}
	spec := operation.Spec{Kind: "vault.set", Target: "vault/" + name, Locks: []fountain.Lock{fountain.VaultLock(name)},
		Request: vaultRecord{Name: name, Value: operation.Redacted}, Secrets: []string{value}}
	return s.do(ctx, in.AsyncInput, spec, func(ctx context.Context, run *operation.Run) (operation.Outcome, error) {
		var res VaultSetResult
		err := run.Step(ctx, "keep vault secret "+name+" (encrypted)", func(ctx context.Context) (operation.StepResult, error) {
			rec, action, err := v.PutStackSecret(ctx, name, value)
			if err != nil {
				return operation.StepResult{}, err
			}
			res = VaultSetResult{VaultSecret: rec, Action: action}
			if action == fountain.VaultUnchanged {
				return operation.StepResult{Reason: "it already holds this value"}, nil
			}
			return operation.StepResult{Changed: true, Reason: action}, nil
		})
		if err != nil {
			return operation.Outcome{}, err
		}
		msg := fmt.Sprintf("Vault secret %s %s.", name, res.Action)
		if res.Action == fountain.VaultUnchanged {
			msg = fmt.Sprintf("Vault secret %s unchanged: it already holds this value.", name)
		}
		return operation.Outcome{Message: msg, Result: res}, nil
	})
}

func (s *Server) deleteVaultSecret(ctx context.Context, in *vaultNameInput) (*OperationOutput, error) {
	v, err := s.vault()
	if err != nil {
		return nil, err
	}
	name := in.Name
	if err := checkVaultName(ctx, name); err != nil {
		return nil, err
	}
	spec := operation.Spec{Kind: "vault.delete", Target: "vault/" + name, Locks: []fountain.Lock{fountain.VaultLock(name)},
		Request: vaultRecord{Name: name}}
	return s.do(ctx, in.AsyncInput, spec, func(ctx context.Context, run *operation.Run) (operation.Outcome, error) {
		var deleted bool
		err := run.Step(ctx, "delete vault secret "+name, func(ctx context.Context) (operation.StepResult, error) {
			var err error
			deleted, err = v.DeleteStackSecret(ctx, name)
			if err != nil || !deleted {
				return operation.StepResult{Reason: "it is not set"}, err
			}
			return operation.StepResult{Changed: true}, nil
		})
		if err != nil {
			return operation.Outcome{}, err
		}
		if !deleted {
			return operation.Outcome{Message: fmt.Sprintf("Vault secret %s is not set: nothing to delete.", name)}, nil
		}
		return operation.Outcome{Message: fmt.Sprintf("Vault secret %s deleted.", name)}, nil
	})
}

type vaultListOutput struct {
	Body struct {
		Secrets []fountain.VaultSecret `json:"secrets" doc:"The vault's named secrets, by name: names and dates, never values."`
	}
}

func (s *Server) listVaultSecrets(ctx context.Context, _ *struct{}) (*vaultListOutput, error) {
	v, err := s.vault()
	if err != nil {
		return nil, err
	}
	list, err := v.StackSecrets(ctx)
	if err != nil {
		return nil, err
	}
	out := &vaultListOutput{}
	out.Body.Secrets = list
	return out, nil
}

// serveStackSchema serves the stack file's JSON Schema (public, like the
// OpenAPI document, for editors).
func serveStackSchema(w http.ResponseWriter, r *http.Request) {
	b, err := stack.JSONSchema()
	if err != nil {
		writeProblem(w, &Problem{Status: 500, Code: fountain.EINTERNAL, Detail: "internal error"})
		return
	}
	w.Header().Set("Content-Type", "application/schema+json")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(b)
}
