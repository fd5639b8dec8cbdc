package emulator

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/lightsail"
)

func TestCredentialsFileIsPrivateStableAndReadByTheSDK(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sandbox", "emulator-credentials")
	// Concurrent first uses agree on one pair.
	var wg sync.WaitGroup
	got := make([]Credentials, 8)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := LoadOrCreateCredentials(path)
			if err != nil {
				t.Error(err)
			}
			got[i] = c
		}()
	}
	wg.Wait()
	for _, c := range got[1:] {
		if c != got[0] {
			t.Fatalf("two pairs for one file: %v and %v", got[0], c)
		}
	}
	c := got[0]
	if !strings.HasPrefix(c.AccessKeyID, "AKIA") || len(c.AccessKeyID) != 20 || len(c.SecretAccessKey) != 40 || c.AccessKeyID == AccessKeyID {
		t.Fatalf("pair %q / %d-character secret", c.AccessKeyID, len(c.SecretAccessKey))
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file: %v %v", fi.Mode(), err)
	}
	if di, _ := os.Stat(filepath.Dir(path)); di.Mode().Perm() != 0o700 {
		t.Fatalf("credentials directory: %v", di.Mode())
	}
	// A file made readable by others is made private again, same pair.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	again, err := LoadOrCreateCredentials(path)
	if err != nil || again != c {
		t.Fatalf("reload: %v %v", again, err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("not tightened: %v", fi.Mode())
	}
	// Another data directory, another pair.
	other, err := LoadOrCreateCredentials(filepath.Join(t.TempDir(), "emulator-credentials"))
	if err != nil || other == c {
		t.Fatalf("second data dir: %v %v", other, err)
	}

	// The file is an AWS shared credentials file: the SDK reads it and the
	// emulator accepts the pair, and only that pair.
	e := newEnv(t, Options{Credentials: c.Map()})
	cfg, err := awsconfig.LoadDefaultConfig(context.Background(), awsconfig.WithRegion(testRegion),
		awsconfig.WithSharedCredentialsFiles([]string{path}), awsconfig.WithSharedConfigFiles([]string{}),
		awsconfig.WithSharedConfigProfile("default"))
	if err != nil {
		t.Fatal(err)
	}
	creds, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil || creds.AccessKeyID != c.AccessKeyID || creds.SecretAccessKey != c.SecretAccessKey {
		t.Fatalf("the SDK read %q: %v", creds.AccessKeyID, err)
	}
	if _, err := e.newClient(c.AccessKeyID, c.SecretAccessKey, testRegion).GetInstances(ctx(), &lightsail.GetInstancesInput{}); err != nil {
		t.Fatal(err)
	}
	_, err = e.newClient(AccessKeyID, SecretAccessKey, testRegion).GetInstances(ctx(), &lightsail.GetInstancesInput{})
	wantAPIError(t, err, UnrecognizedClientException, 400, "security token")
}

func TestParseCredentialsRefusesIncompleteFiles(t *testing.T) {
	for _, body := range []string{"", "[default]\naws_access_key_id = AKIA\n", "[other]\naws_access_key_id = a\naws_secret_access_key = b\n"} {
		if _, err := parseCredentials([]byte(body)); err == nil {
			t.Errorf("%q accepted", body)
		}
	}
}
