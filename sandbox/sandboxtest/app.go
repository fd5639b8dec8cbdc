package sandboxtest

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// appSource is a small HTTP server for test images: GET / answers its
// version, GET /healthz answers 200 (or 500 with APP_UNHEALTHY=1), and with
// APP_CRASH=1 it exits at once. It prints APP_SECRET's length, never the
// value, and logs each request.
const appSource = `package main

import (
	"fmt"
	"net/http"
	"os"
)

func main() {
	version, _ := os.ReadFile("/version")
	fmt.Printf("test app %s starting (secret of %d bytes)\n", version, len(os.Getenv("APP_SECRET")))
	if os.Getenv("APP_CRASH") == "1" {
		fmt.Println("crashing on purpose")
		os.Exit(3)
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Println("request", r.URL.Path)
		if r.URL.Path == "/healthz" && os.Getenv("APP_UNHEALTHY") == "1" {
			http.Error(w, "unhealthy on purpose", 500)
			return
		}
		fmt.Fprintf(w, "version %s\n", version)
	})
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	if err := http.ListenAndServe(":"+port, nil); err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
}
`

var (
	appOnce sync.Once
	appBin  []byte
	appErr  error
)

// appBinary builds the test app once per process, statically linked.
func appBinary(t testing.TB) []byte {
	t.Helper()
	appOnce.Do(func() {
		dir, err := os.MkdirTemp("", "fountain-testapp-")
		if err != nil {
			appErr = err
			return
		}
		defer os.RemoveAll(dir)
		src := filepath.Join(dir, "main.go")
		if appErr = os.WriteFile(src, []byte(appSource), 0o600); appErr != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		out := filepath.Join(dir, "app")
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, src)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
		if b, err := cmd.CombinedOutput(); err != nil {
			appErr = fmt.Errorf("build the test app: %v\n%s", err, b)
			return
		}
		appBin, appErr = os.ReadFile(out)
	})
	if appErr != nil {
		t.Fatalf("sandboxtest: %v", appErr)
	}
	return appBin
}

// AppOptions shape a test app image.
type AppOptions struct {
	// Env is set in the image's config (APP_UNHEALTHY=1, APP_CRASH=1, ...).
	Env []string
	// HealthCheck adds a Docker HEALTHCHECK (the test app has no shell or
	// tools, so only a failing or a NONE check can be made; leave nil).
	HealthCheck *v1.HealthConfig
}

// PushApp builds a test app image answering "version VERSION" on port
// 8080 (EXPOSEd) and pushes it as ref (e.g. 127.0.0.1:5000/user/repo/app:latest).
// It returns the pushed digest.
func PushApp(t testing.TB, ref, version string, opts AppOptions) string {
	t.Helper()
	bin := appBinary(t)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct {
		name string
		mode int64
		body []byte
	}{{"app", 0o755, bin}, {"version", 0o644, []byte(version)}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(f.body)
	}
	tw.Close()
	layer, err := tarball.LayerFromReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("sandboxtest: layer: %v", err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg := cf.Config
	cfg.Entrypoint = []string{"/app"}
	cfg.Env = append([]string{"PORT=8080"}, opts.Env...)
	cfg.ExposedPorts = map[string]struct{}{"8080/tcp": {}}
	cfg.Labels = map[string]string{"dev.fountain.test-app": version}
	cfg.Healthcheck = opts.HealthCheck
	if img, err = mutate.Config(img, cfg); err != nil {
		t.Fatal(err)
	}
	cf, _ = img.ConfigFile()
	cf.Architecture, cf.OS = "amd64", "linux"
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatalf("sandboxtest: %v", err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatalf("sandboxtest: push %s: %v", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}
