package operation_test

import (
	"testing"

	"github.com/fountainai/fountain/operation"
)

// Members that hold secrets are redacted by name; members that only name a
// secret or the file it is in are kept, so the record says what was done.
func TestRedactKeepsNamesOfSecrets(t *testing.T) {
	got := string(operation.NewMasker("pa55-Word").Redact(map[string]any{
		"repo_name": "o/r", "secret_name": "DEPLOY_KEY", "secret_from_file": "/keys/id",
		"secret_value": "pa55-Word", "github_token": "ghp_x", "note": "the value is pa55-Word",
	}))
	want := `{"github_token":"[redacted]","note":"the value is [redacted]","repo_name":"o/r","secret_from_file":"/keys/id","secret_name":"DEPLOY_KEY","secret_value":"[redacted]"}`
	if got != want {
		t.Fatalf("Redact =\n%s\nwant\n%s", got, want)
	}
}
