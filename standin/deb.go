package standin

import (
	"context"
	"embed"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

//go:embed debian
var debianFS embed.FS

// OpenSearchVersion is the version of the stand-in package.
const OpenSearchVersion = "2.19.1"

// Paths of the opensearch package, as the real package lays them out.
const (
	OpenSearchHome     = "/usr/share/opensearch"
	OpenSearchConfDir  = "/etc/opensearch"
	OpenSearchUnitPath = "/usr/lib/systemd/system/opensearch.service"
	opensearchLibDir   = OpenSearchHome + "/lib/fountain"
	opensearchBinary   = OpenSearchHome + "/lib/fountain/fountain"
)

// DebOptions configure BuildOpenSearchDeb.
type DebOptions struct {
	// Binary is the fountain binary to package.
	Binary string
	// Version is the package version (default OpenSearchVersion).
	Version string
	// OutDir receives the .deb.
	OutDir string
	// TempDir holds the staging tree (default os.TempDir()).
	TempDir string
}

// Deb is a built package.
type Deb struct {
	Path     string // the .deb file
	Package  string
	Version  string
	Arch     string
	Filename string // its name in the repository's pool
}

// debFile is one file of the staging tree.
type debFile struct {
	path string // absolute path on the target
	mode os.FileMode
	src  string // a file on this machine, or
	body []byte // the content
}

// BuildOpenSearchDeb builds the opensearch stand-in package with
// dpkg-deb: the fountain binary (and its loader and libraries when
// dynamic) under /usr/share/opensearch with launchers at bin/opensearch
// and bin/systemd-entrypoint, the real package's configuration files
// (conffiles), systemd unit, sysctl and tmpfiles settings, and its
// maintainer scripts: preinst creates the opensearch user, postinst runs
// the demo security installer (which refuses a missing or weak
// OPENSEARCH_INITIAL_ADMIN_PASSWORD) and does not start the service.
func BuildOpenSearchDeb(ctx context.Context, opts DebOptions) (*Deb, error) {
	if opts.Version == "" {
		opts.Version = OpenSearchVersion
	}
	b, err := BundleBinary(opts.Binary)
	if err != nil {
		return nil, err
	}
	stage, err := os.MkdirTemp(opts.TempDir, "opensearch-deb-")
	if err != nil {
		return nil, fmt.Errorf("opensearch deb: %w", err)
	}
	defer os.RemoveAll(stage)
	tree := filepath.Join(stage, "root")

	embedded := func(name string) []byte {
		body, err := debianFS.ReadFile("debian/" + name)
		if err != nil {
			panic(err) // embedded at build time
		}
		return body
	}
	launcher := func(args ...string) []byte {
		return []byte(b.Launcher(opensearchBinary, opensearchLibDir, args...))
	}
	files := []debFile{
		{path: OpenSearchConfDir + "/opensearch.yml", mode: 0o640, body: embedded("opensearch.yml")},
		{path: OpenSearchConfDir + "/jvm.options", mode: 0o640, body: embedded("jvm.options")},
		{path: "/etc/default/opensearch", mode: 0o644, body: embedded("default")},
		{path: OpenSearchUnitPath, mode: 0o644, body: embedded("opensearch.service")},
		{path: "/usr/lib/sysctl.d/opensearch.conf", mode: 0o644, body: embedded("sysctl.conf")},
		{path: "/usr/lib/tmpfiles.d/opensearch.conf", mode: 0o644, body: embedded("tmpfiles.conf")},
		{path: OpenSearchHome + "/bin/opensearch", mode: 0o755, body: launcher("standin", "opensearch")},
		{path: OpenSearchHome + "/bin/systemd-entrypoint", mode: 0o755, body: launcher("standin", "opensearch")},
		{path: OpenSearchHome + "/bin/opensearch-hash-password", mode: 0o755, body: launcher("standin", "opensearch", "hash-password")},
		{path: OpenSearchHome + "/plugins/opensearch-security/tools/install_demo_configuration.sh", mode: 0o755,
			body: []byte("#!/bin/bash\n# Demo security installer of the Fountain stand-in (sandbox only).\n" +
				"exec " + OpenSearchHome + "/bin/opensearch install-demo-config --conf-dir " + OpenSearchConfDir + " \"$@\"\n")},
		{path: OpenSearchHome + "/README.fountain", mode: 0o644,
			body: []byte("This package is Fountain's sandbox stand-in for OpenSearch " + opts.Version + ".\nIt is not OpenSearch; it answers like it for rehearsing deployments.\n")},
	}
	for target, src := range b.Files(opensearchBinary, opensearchLibDir) {
		files = append(files, debFile{path: target, mode: 0o755, src: src})
	}
	for _, d := range []string{OpenSearchConfDir + "/jvm.options.d", "/var/lib/opensearch", "/var/log/opensearch", OpenSearchHome + "/plugins"} {
		if err := os.MkdirAll(filepath.Join(tree, d), 0o755); err != nil {
			return nil, err
		}
	}
	var size int64
	for _, f := range files {
		n, err := writeStaged(tree, f)
		if err != nil {
			return nil, fmt.Errorf("opensearch deb: %w", err)
		}
		size += n
	}
	control := fmt.Sprintf(`Package: opensearch
Version: %s
Architecture: %s
Maintainer: Fountain sandbox <sandbox@fountain.invalid>
Installed-Size: %d
Section: web
Priority: optional
Homepage: https://opensearch.org/
Description: An open source distributed and RESTful search engine (Fountain stand-in)
 Fountain's sandbox stand-in for OpenSearch: it installs and runs like the
 real package (systemd unit, demo security configuration, admin password
 from OPENSEARCH_INITIAL_ADMIN_PASSWORD) but is not OpenSearch.
`, opts.Version, b.Arch, (size+1023)/1024)
	meta := []debFile{
		{path: "/DEBIAN/control", mode: 0o644, body: []byte(control)},
		{path: "/DEBIAN/conffiles", mode: 0o644, body: []byte(OpenSearchConfDir + "/opensearch.yml\n" + OpenSearchConfDir + "/jvm.options\n/etc/default/opensearch\n")},
		{path: "/DEBIAN/preinst", mode: 0o755, body: embedded("preinst")},
		{path: "/DEBIAN/postinst", mode: 0o755, body: embedded("postinst")},
		{path: "/DEBIAN/prerm", mode: 0o755, body: embedded("prerm")},
	}
	for _, f := range meta {
		if _, err := writeStaged(tree, f); err != nil {
			return nil, fmt.Errorf("opensearch deb: %w", err)
		}
	}
	arch := map[string]string{"amd64": "x64", "arm64": "arm64"}[b.Arch]
	name := fmt.Sprintf("opensearch-%s-linux-%s.deb", opts.Version, arch)
	if err := os.MkdirAll(opts.OutDir, 0o755); err != nil {
		return nil, err
	}
	out := filepath.Join(opts.OutDir, name)
	cmd := exec.CommandContext(ctx, "dpkg-deb", "--root-owner-group", "-Zgzip", "--build", tree, out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("dpkg-deb --build: %w: %s", err, strings.TrimSpace(string(msg)))
	}
	return &Deb{Path: out, Package: "opensearch", Version: opts.Version, Arch: b.Arch, Filename: name}, nil
}

// writeStaged writes f under root and returns its size.
func writeStaged(root string, f debFile) (int64, error) {
	p := filepath.Join(root, f.path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return 0, err
	}
	if f.src == "" {
		return int64(len(f.body)), os.WriteFile(p, f.body, f.mode)
	}
	in, err := os.Open(f.src)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	out, err := os.OpenFile(p, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, f.mode)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return n, err
}
