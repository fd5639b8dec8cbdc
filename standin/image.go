package standin

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// KongVersion is the Kong version of the kong:3.9 stand-in image.
const KongVersion = "3.9.3"

// LabelStandin marks the stand-in images (value: the product).
const LabelStandin = "io.fountain.standin"

// Paths inside the kong image.
const (
	kongBinary = "/usr/local/bin/fountain"
	kongLibDir = "/usr/local/lib/fountain"
	kongUID    = 1000
)

// KongImage builds the stand-in for the kong:3.9 image FROM scratch: the
// fountain binary (and its loader and libraries when dynamic), an entry
// point that runs `fountain standin kong` with CMD ["kong",
// "docker-start"], the ENV, exposed ports, user, stop signal and health
// check of the real image, and labels saying it is Fountain's stand-in.
func KongImage(binary string) (v1.Image, error) {
	b, err := BundleBinary(binary)
	if err != nil {
		return nil, err
	}
	layer, err := kongLayer(b)
	if err != nil {
		return nil, err
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return nil, fmt.Errorf("kong image: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg := cf.Config
	cfg.Entrypoint = b.Command(kongBinary, kongLibDir, "standin", "kong")
	cfg.Cmd = []string{"kong", "docker-start"}
	cfg.Env = []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"ASSET=ce",
		"KONG_VERSION=" + KongVersion,
	}
	cfg.User = "kong"
	cfg.WorkingDir = "/"
	cfg.StopSignal = "SIGQUIT"
	cfg.ExposedPorts = map[string]struct{}{"8000/tcp": {}, "8443/tcp": {}, "8001/tcp": {}, "8444/tcp": {}}
	cfg.Healthcheck = &v1.HealthConfig{
		Test:     append([]string{"CMD"}, b.Command(kongBinary, kongLibDir, "standin", "kong", "kong", "health")...),
		Interval: 10 * time.Second, Timeout: 10 * time.Second, Retries: 10,
	}
	cfg.Labels = map[string]string{
		"maintainer":                           "Fountain sandbox (stand-in; the real image is by Kong Docker Maintainers)",
		LabelStandin:                           "kong",
		"org.opencontainers.image.title":       "kong (Fountain stand-in)",
		"org.opencontainers.image.version":     KongVersion,
		"org.opencontainers.image.description": "Fountain's sandbox stand-in for Kong Gateway " + KongVersion + " (DB-less): not Kong",
	}
	img, err = mutate.Config(img, cfg)
	if err != nil {
		return nil, fmt.Errorf("kong image: %w", err)
	}
	cf, err = img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf.Architecture, cf.OS = b.Arch, "linux"
	cf.Created = v1.Time{Time: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	return mutate.ConfigFile(img, cf)
}

// kongLayer is the image's only layer.
func kongLayer(b *Bundle) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mtime := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	dir := func(p string, mode int64, uid int) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: p + "/", Mode: mode, Uid: uid, Gid: 0, ModTime: mtime})
	}
	file := func(p string, mode int64, body []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: p, Mode: mode, Size: int64(len(body)), ModTime: mtime}); err != nil {
			return err
		}
		_, err := tw.Write(body)
		return err
	}
	for _, d := range []string{"etc", "tmp", "usr", "usr/local", "usr/local/bin", "usr/local/lib", "usr/local/lib/fountain", "kong", "home"} {
		mode := int64(0o755)
		if d == "tmp" {
			mode = 0o1777
		}
		if err := dir(d, mode, 0); err != nil {
			return nil, err
		}
	}
	for _, d := range []string{"usr/local/kong", "home/kong", "kong/declarative"} {
		if err := dir(d, 0o755, kongUID); err != nil {
			return nil, err
		}
	}
	if err := file("etc/passwd", 0o644, []byte(fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\nkong:x:%d:%d:Kong default user:/home/kong:/sbin/nologin\n", kongUID, kongUID))); err != nil {
		return nil, err
	}
	if err := file("etc/group", 0o644, []byte(fmt.Sprintf("root:x:0:\nkong:x:%d:\n", kongUID))); err != nil {
		return nil, err
	}
	if err := file("etc/nsswitch.conf", 0o644, []byte("hosts: files dns\n")); err != nil {
		return nil, err
	}
	files := b.Files(kongBinary, kongLibDir)
	targets := make([]string, 0, len(files))
	for t := range files {
		targets = append(targets, t)
	}
	sort.Strings(targets)
	for _, t := range targets {
		body, err := os.ReadFile(files[t])
		if err != nil {
			return nil, fmt.Errorf("kong image: %w", err)
		}
		if err := file(path.Clean(t)[1:], 0o755, body); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
}

// PushImage writes img to a registry reference such as
// "127.0.0.1:5000/library/kong:3.9" (plain HTTP is used for loopback
// registries, as for the sandbox's).
func PushImage(ctx context.Context, img v1.Image, ref string) error {
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		return fmt.Errorf("push %s: %w", ref, err)
	}
	if err := remote.Write(r, img, remote.WithContext(ctx)); err != nil {
		return fmt.Errorf("push %s: %w", ref, err)
	}
	return nil
}
