package cli

import (
	"os"
	"path/filepath"
	"testing"
)

// `fountain aws policy` prints exactly the policy the lightsail package's
// golden files hold: pasteable JSON, nothing else.
func TestAWSPolicyPrintsTheGoldenPolicy(t *testing.T) {
	for file, args := range map[string][]string{
		"policy.json":                           {"aws", "policy"},
		"policy-eu-central-1-123456789012.json": {"aws", "policy", "--region", "eu-central-1", "--account", "123456789012"},
	} {
		want, err := os.ReadFile(filepath.Join("..", "lightsail", "testdata", file))
		if err != nil {
			t.Fatal(err)
		}
		out, errOut, code := runCLI(t, nil, "", args...)
		if code != ExitOK || errOut != "" || out != string(want) {
			t.Fatalf("%v: exit %d, stderr %q, stdout:\n%s", args, code, errOut, out)
		}
	}
}
