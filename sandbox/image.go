package sandbox

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/moby/moby/client"
)

//go:embed recipe
var recipeFS embed.FS

// Flavour selects what the host image carries besides the base system.
type Flavour string

const (
	// FlavourPlain is a fresh Lightsail-like Ubuntu/Debian host without Docker.
	FlavourPlain Flavour = "plain"
	// FlavourDocker has docker.io preinstalled (for benchmarks and tests
	// that do not want to pay for an apt install of Docker per host).
	FlavourDocker Flavour = "docker"
)

// Image repositories used for the images the sandbox builds.
const (
	hostRepo = "fountain-sandbox/host"
	baseRepo = "fountain-sandbox/base"
	// UbuntuBase is the base used when it is present locally (or when
	// Config.PullBase allows pulling it).
	UbuntuBase = "ubuntu:24.04"
)

// debootstrapPackages is the package set of the offline base.
var debootstrapPackages = "systemd,systemd-sysv,dbus,openssh-server,sudo,ca-certificates,curl,gnupg,iproute2"

// ImageInfo describes a host image.
type ImageInfo struct {
	Tag     string        `json:"tag"`
	ID      string        `json:"id"`
	Base    string        `json:"base"`
	Flavour Flavour       `json:"flavour"`
	Built   bool          `json:"built"` // false when the cached image was reused
	Took    time.Duration `json:"took_ns"`
}

// recipeFiles returns the embedded build context as tar entries, sorted.
func recipeFiles() ([]tarFile, error) {
	var files []tarFile
	err := fs.WalkDir(recipeFS, "recipe", func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == "recipe" {
			return err
		}
		rel := p[len("recipe/"):]
		if d.IsDir() {
			files = append(files, tarFile{Name: rel, Mode: 0o755, Dir: true})
			return nil
		}
		body, err := recipeFS.ReadFile(p)
		if err != nil {
			return err
		}
		mode := int64(0o644)
		if path.Dir(rel) == "rootfs/etc/sudoers.d" {
			mode = 0o440
		}
		files = append(files, tarFile{Name: rel, Mode: mode, Body: body})
		return nil
	})
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	return files, err
}

// recipeHash is the content hash that names a host image: the recipe's
// files, the base image ID and the flavour.
func recipeHash(files []tarFile, baseID string, flavour Flavour) string {
	h := sha256.New()
	for _, f := range files {
		fmt.Fprintf(h, "%s\x00%o\x00%d\x00", f.Name, f.Mode, len(f.Body))
		h.Write(f.Body)
	}
	fmt.Fprintf(h, "base=%s\x00flavour=%s\x00", baseID, flavour)
	return hex.EncodeToString(h.Sum(nil))[:20]
}

// EnsureImage returns the host image of the given flavour, building it
// (and, offline, its debootstrap base) only when no image with the same
// content hash exists. Concurrent callers, in this or other processes,
// build it once.
func (s *Sandbox) EnsureImage(ctx context.Context, flavour Flavour) (ImageInfo, error) {
	if flavour == "" {
		flavour = FlavourPlain
	}
	start := time.Now()
	unlock, err := buildLock(ctx)
	if err != nil {
		return ImageInfo{}, err
	}
	defer unlock()
	base, baseID, err := s.ensureBase(ctx)
	if err != nil {
		return ImageInfo{}, err
	}
	files, err := recipeFiles()
	if err != nil {
		return ImageInfo{}, fmt.Errorf("sandbox image: read recipe: %w", err)
	}
	tag := fmt.Sprintf("%s:%s-%s", hostRepo, flavour, recipeHash(files, baseID, flavour))
	info := ImageInfo{Tag: tag, Base: base, Flavour: flavour}
	if img, err := s.docker.ImageInspect(ctx, tag); err == nil {
		info.ID, info.Took = img.ID, time.Since(start)
		return info, nil
	} else if !isNotFound(err) {
		return ImageInfo{}, fmt.Errorf("sandbox image: inspect %s: %w", tag, err)
	}
	s.logf("sandbox: building host image %s from %s", tag, base)
	tarball, err := makeTar(files)
	if err != nil {
		return ImageInfo{}, fmt.Errorf("sandbox image: build context: %w", err)
	}
	docker := "0"
	if flavour == FlavourDocker {
		docker = "1"
	}
	bctx, cancel := context.WithTimeout(ctx, s.cfg.BuildTimeout)
	defer cancel()
	res, err := s.docker.ImageBuild(bctx, bytes.NewReader(tarball), client.ImageBuildOptions{
		Tags:        []string{tag},
		BuildArgs:   map[string]*string{"BASE": &base, "DOCKER": &docker},
		Labels:      map[string]string{LabelImage: string(flavour)},
		Remove:      true,
		ForceRemove: true,
		Version:     "1", // the classic builder: no BuildKit session needed
	})
	if err != nil {
		return ImageInfo{}, fmt.Errorf("sandbox image: build %s: %w", tag, err)
	}
	err = readJSONStream(res.Body, s.debugf)
	res.Body.Close()
	if err != nil {
		return ImageInfo{}, fmt.Errorf("sandbox image: build %s: %w", tag, err)
	}
	img, err := s.docker.ImageInspect(ctx, tag)
	if err != nil {
		return ImageInfo{}, fmt.Errorf("sandbox image: build %s finished but the image is missing: %w", tag, err)
	}
	info.ID, info.Built, info.Took = img.ID, true, time.Since(start)
	s.logf("sandbox: built %s in %s", tag, info.Took.Round(time.Second))
	return info, nil
}

// ensureBase picks the base image: Config.BaseImage if set, ubuntu:24.04
// when present locally (or pullable when allowed), else a debootstrap base.
func (s *Sandbox) ensureBase(ctx context.Context) (ref, id string, err error) {
	want := s.cfg.BaseImage
	if want == "" {
		want = UbuntuBase
	}
	if img, err := s.docker.ImageInspect(ctx, want); err == nil {
		return want, img.ID, nil
	}
	if s.cfg.PullBase {
		if id, err := s.pull(ctx, want); err == nil {
			return want, id, nil
		} else if s.cfg.BaseImage != "" {
			return "", "", err
		}
	} else if s.cfg.BaseImage != "" {
		return "", "", fmt.Errorf("sandbox image: base %s is not present and PullBase is off", want)
	}
	return s.ensureDebootstrapBase(ctx)
}

func (s *Sandbox) pull(ctx context.Context, ref string) (string, error) {
	pctx, cancel := context.WithTimeout(ctx, s.cfg.BuildTimeout)
	defer cancel()
	resp, err := s.docker.ImagePull(pctx, ref, client.ImagePullOptions{})
	if err != nil {
		return "", fmt.Errorf("sandbox image: pull %s: %w", ref, err)
	}
	err = readJSONStream(resp, nil)
	resp.Close()
	if err != nil {
		return "", fmt.Errorf("sandbox image: pull %s: %w", ref, err)
	}
	img, err := s.docker.ImageInspect(ctx, ref)
	if err != nil {
		return "", fmt.Errorf("sandbox image: pull %s: %w", ref, err)
	}
	return img.ID, nil
}

// ensureDebootstrapBase returns a Debian root filesystem image made by
// debootstrap from the machine's own apt mirror, importing it once.
func (s *Sandbox) ensureDebootstrapBase(ctx context.Context) (string, string, error) {
	mirror := s.cfg.Mirror
	if mirror == "" {
		m, err := AptMirror(s.cfg.AptSourcesRoot, s.cfg.Suite)
		if err != nil {
			return "", "", err
		}
		mirror = m
	}
	h := sha256.Sum256([]byte(fmt.Sprintf("minbase\x00%s\x00%s\x00%s", debootstrapPackages, s.cfg.Suite, mirror)))
	tag := fmt.Sprintf("%s:%s-%s", baseRepo, s.cfg.Suite, hex.EncodeToString(h[:])[:16])
	if img, err := s.docker.ImageInspect(ctx, tag); err == nil {
		return tag, img.ID, nil
	}
	if _, err := lookPath("debootstrap"); err != nil {
		return "", "", fmt.Errorf("sandbox image: %s is not present and debootstrap is not installed (apt-get install debootstrap, or run scripts/ensure-docker): %w", UbuntuBase, err)
	}
	if os.Geteuid() != 0 {
		return "", "", fmt.Errorf("sandbox image: debootstrap needs root to build the offline base %s", tag)
	}
	s.logf("sandbox: debootstrap %s from %s (about 90 s)", s.cfg.Suite, mirror)
	start := time.Now()
	dir, err := os.MkdirTemp(s.cfg.WorkDir, "fountain-rootfs-")
	if err != nil {
		return "", "", fmt.Errorf("sandbox image: %w", err)
	}
	defer os.RemoveAll(dir)
	root := filepath.Join(dir, "root")
	dctx, cancel := context.WithTimeout(ctx, s.cfg.BuildTimeout)
	defer cancel()
	out, err := runCmd(dctx, "debootstrap", "--variant=minbase", "--include="+debootstrapPackages, s.cfg.Suite, root, mirror)
	if err != nil {
		return "", "", fmt.Errorf("sandbox image: debootstrap: %w\n%s", err, tail(out, 2000))
	}
	s.logf("sandbox: debootstrap took %s; importing", time.Since(start).Round(time.Second))
	id, err := s.importRootfs(dctx, root, tag)
	if err != nil {
		return "", "", err
	}
	return tag, id, nil
}

// importRootfs streams root as a tar (GNU tar keeps devices, hard links and
// ownership exactly) into the Engine API's image import.
func (s *Sandbox) importRootfs(ctx context.Context, root, tag string) (string, error) {
	pr, pw := io.Pipe()
	cmd := commandContext(ctx, "tar", "--numeric-owner", "-C", root, "-cf", "-", ".")
	cmd.Stdout = pw
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("sandbox image: tar: %w", err)
	}
	tarDone := make(chan error, 1)
	go func() {
		err := cmd.Wait()
		pw.CloseWithError(err)
		tarDone <- err
	}()
	res, err := s.docker.ImageImport(ctx, client.ImageImportSource{Source: pr, SourceName: "-"}, tag, client.ImageImportOptions{
		Changes: []string{`CMD ["/lib/systemd/systemd"]`, "LABEL " + LabelImage + "=base"},
		Message: "fountain sandbox debootstrap base",
	})
	if err == nil {
		err = readJSONStream(res, nil)
		res.Close()
	}
	// Stop tar (if the import gave up early) and wait for it, so that its
	// stderr is complete and its exit status counts.
	pr.CloseWithError(errors.New("import ended"))
	tarErr := <-tarDone
	if err != nil {
		return "", fmt.Errorf("sandbox image: import: %w (tar: %s)", err, strings.TrimSpace(stderr.String()))
	}
	if tarErr != nil {
		return "", fmt.Errorf("sandbox image: tar %s: %w (%s)", root, tarErr, strings.TrimSpace(stderr.String()))
	}
	img, err := s.docker.ImageInspect(ctx, tag)
	if err != nil {
		return "", fmt.Errorf("sandbox image: import %s: %w", tag, err)
	}
	return img.ID, nil
}

// buildLock serializes image builds across processes (go test runs
// packages in parallel) with an flock on a file in the temp directory.
func buildLock(ctx context.Context) (func(), error) {
	p := filepath.Join(os.TempDir(), "fountain-sandbox-build.lock")
	f, err := os.OpenFile(p, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sandbox image: lock: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
		}
		if err != syscall.EWOULDBLOCK {
			f.Close()
			return nil, fmt.Errorf("sandbox image: lock %s: %w", p, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("sandbox image: waiting for another build: %w", ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
