package server_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fountainai/fountain/server"
)

// secret_from_file reads only from the server's secret file directory
// (<data dir>/secret-files by default, made 0700 at start), never from the
// SSH key directories: a caller cannot send the server's SSH keys to a
// repository.
func TestSecretFilesComeFromTheirOwnDirectory(t *testing.T) {
	dir := t.TempDir()
	url, _, _ := startServer(t, server.Config{DataDir: dir})
	secrets := filepath.Join(dir, server.SecretFilesDir)
	fi, err := os.Stat(secrets)
	if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Fatalf("secret file directory: %v %v", fi, err)
	}
	const key = "-----BEGIN OPENSSH PRIVATE KEY-----\ncanary-Key-Dir-77ab\n-----END OPENSSH PRIVATE KEY-----\n"
	inKeys := filepath.Join(dir, server.KeysDir, "deploy_ed25519")
	inSecrets := filepath.Join(secrets, "deploy_ed25519")
	for _, p := range []string{inKeys, inSecrets} {
		if err := os.WriteFile(p, []byte(key), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	body := func(p string) string {
		return fmt.Sprintf(`{"repo_name":"user/repo","secret_name":"SSH_KEY","secret_from_file":%q}`, p)
	}
	status, res := call(t, "POST", url+"/github/add-secret", body(inKeys))
	if status != 422 || !strings.Contains(fmt.Sprint(res), "outside the allowed secret file directories ("+secrets+")") {
		t.Fatalf("a key directory's file: %d %v", status, res)
	}
	status, res = call(t, "POST", url+"/github/add-secret", body(inSecrets))
	if status != 200 || res["changed"] != true {
		t.Fatalf("a secret file: %d %v", status, res)
	}
}
