package standin

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// Apt repository layout, as artifacts.opensearch.org's 2.x repository
// (".../releases/bundle/opensearch/2.x/apt stable main").
const (
	AptSuite      = "stable"
	AptComponent  = "main"
	OpenSearchAPT = "/releases/bundle/opensearch/2.x/apt"
	// PublicKeyPath is where the armored public key is served, like
	// https://artifacts.opensearch.org/publickeys/opensearch.pgp.
	PublicKeyPath = "/publickeys/opensearch.pgp"
)

// Files of the signing key in its directory.
const (
	privateKeyFile = "sandbox-apt-private.pgp"
	publicKeyFile  = "sandbox-apt-public.asc"
)

// SigningKey is the sandbox's OpenPGP key for apt repositories.
type SigningKey struct {
	entity *openpgp.Entity
	armor  []byte
}

var pgpConfig = &packet.Config{
	Algorithm:   packet.PubKeyAlgoRSA,
	RSABits:     3072,
	DefaultHash: crypto.SHA256,
}

// LoadOrCreateSigningKey loads the key kept in dir, or generates an RSA
// 3072 key there (files 0600, directory 0700).
func LoadOrCreateSigningKey(dir string) (*SigningKey, error) {
	priv := filepath.Join(dir, privateKeyFile)
	if b, err := os.ReadFile(priv); err == nil {
		e, err := openpgp.ReadEntity(packet.NewReader(bytes.NewReader(b)))
		if err != nil {
			return nil, fmt.Errorf("apt signing key %s: %w", priv, err)
		}
		return newSigningKey(e)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("apt signing key: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("apt signing key: %w", err)
	}
	e, err := openpgp.NewEntity("Fountain sandbox apt repository", "stand-in packages, sandbox only", "sandbox@fountain.invalid", pgpConfig)
	if err != nil {
		return nil, fmt.Errorf("apt signing key: generate: %w", err)
	}
	var buf bytes.Buffer
	if err := e.SerializePrivate(&buf, pgpConfig); err != nil {
		return nil, fmt.Errorf("apt signing key: %w", err)
	}
	k, err := newSigningKey(e)
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(priv, buf.Bytes()); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(filepath.Join(dir, publicKeyFile), k.armor); err != nil {
		return nil, err
	}
	return k, nil
}

func newSigningKey(e *openpgp.Entity) (*SigningKey, error) {
	var buf bytes.Buffer
	var raw bytes.Buffer
	if err := e.Serialize(&raw); err != nil {
		return nil, err
	}
	if err := armorWithCRC(&buf, openpgp.PublicKeyType, raw.Bytes()); err != nil {
		return nil, err
	}
	return &SigningKey{entity: e, armor: buf.Bytes()}, nil
}

// writeFileAtomic writes a 0600 file through a temporary one.
func writeFileAtomic(p string, b []byte) error {
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}

// PublicKey is the ASCII-armored public key (to be dearmored into a
// keyring with gpg --dearmor, as the vendor's instructions do).
func (k *SigningKey) PublicKey() []byte { return append([]byte(nil), k.armor...) }

// Fingerprint is the key's fingerprint in upper-case hex.
func (k *SigningKey) Fingerprint() string {
	return strings.ToUpper(hex.EncodeToString(k.entity.PrimaryKey.Fingerprint))
}

// clearsign returns the InRelease form of text. The signature's armor
// carries a CRC-24 line: gpgv 2.2 (Debian bookworm's, which apt runs)
// rejects armor without one, which go-crypto no longer writes by default.
func (k *SigningKey) clearsign(text []byte) ([]byte, error) {
	var buf bytes.Buffer
	w, err := clearsign.Encode(&buf, k.entity.PrivateKey, pgpConfig)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(text); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	block, _ := clearsign.Decode(buf.Bytes())
	if block == nil {
		return nil, errors.New("clearsign: cannot read back the signed message")
	}
	sig, err := io.ReadAll(block.ArmoredSignature.Body)
	if err != nil {
		return nil, err
	}
	head, _, ok := bytes.Cut(buf.Bytes(), []byte("-----BEGIN PGP SIGNATURE-----"))
	if !ok {
		return nil, errors.New("clearsign: no signature block")
	}
	out := bytes.NewBuffer(head)
	if err := armorWithCRC(out, "PGP SIGNATURE", sig); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// armorWithCRC writes data as an armored block with a checksum line.
func armorWithCRC(w io.Writer, blockType string, data []byte) error {
	aw, err := armor.EncodeWithChecksumOption(w, blockType, nil, true)
	if err != nil {
		return err
	}
	if _, err := aw.Write(data); err != nil {
		return err
	}
	if err := aw.Close(); err != nil {
		return err
	}
	_, err = io.WriteString(w, "\n")
	return err
}

// detachSign returns the Release.gpg form of text.
func (k *SigningKey) detachSign(text []byte) ([]byte, error) {
	var sig bytes.Buffer
	if err := openpgp.DetachSign(&sig, k.entity, bytes.NewReader(text), pgpConfig); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := armorWithCRC(&buf, openpgp.SignatureType, sig.Bytes()); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// AptRepo is a signed apt repository of the stand-in packages, served by
// Handler with the layout apt expects under a "deb URL stable main" line.
type AptRepo struct {
	key *SigningKey
	now func() time.Time

	mu    sync.RWMutex
	debs  map[string]repoDeb // by pool path
	files map[string][]byte  // generated index files by path
}

// repoDeb is one package in the pool.
type repoDeb struct {
	file    string // on disk
	arch    string
	stanza  string
	poolRel string
}

// NewAptRepo returns an empty repository signed with key; now is the
// clock of the Release Date (nil: time.Now).
func NewAptRepo(key *SigningKey, now func() time.Time) *AptRepo {
	if now == nil {
		now = time.Now
	}
	r := &AptRepo{key: key, now: now, debs: map[string]repoDeb{}}
	_ = r.reindex()
	return r
}

// Add puts a .deb in the pool (pool/main/<letter>/<package>/<file>) and
// regenerates and signs the indices. Its control fields are read with
// dpkg-deb.
func (r *AptRepo) Add(ctx context.Context, debPath string) error {
	out, err := exec.CommandContext(ctx, "dpkg-deb", "--field", debPath).Output()
	if err != nil {
		return fmt.Errorf("apt repo: read control of %s: %w", debPath, err)
	}
	control := strings.TrimRight(string(out), "\n")
	field := func(name string) string {
		for _, l := range strings.Split(control, "\n") {
			if v, ok := strings.CutPrefix(l, name+": "); ok {
				return strings.TrimSpace(v)
			}
		}
		return ""
	}
	pkg, arch := field("Package"), field("Architecture")
	if pkg == "" || arch == "" {
		return fmt.Errorf("apt repo: %s has no Package or Architecture", debPath)
	}
	sums, size, err := fileSums(debPath)
	if err != nil {
		return fmt.Errorf("apt repo: %w", err)
	}
	rel := path.Join("pool", AptComponent, pkg[:1], pkg, filepath.Base(debPath))
	stanza := fmt.Sprintf("%s\nFilename: %s\nSize: %d\nMD5sum: %s\nSHA1: %s\nSHA256: %s\n",
		control, rel, size, sums["md5"], sums["sha1"], sums["sha256"])
	r.mu.Lock()
	r.debs[rel] = repoDeb{file: debPath, arch: arch, stanza: stanza, poolRel: rel}
	r.mu.Unlock()
	return r.reindex()
}

func fileSums(p string) (map[string]string, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	hs := map[string]hash.Hash{"md5": md5.New(), "sha1": sha1.New(), "sha256": sha256.New()}
	n, err := io.Copy(io.MultiWriter(hs["md5"], hs["sha1"], hs["sha256"]), f)
	if err != nil {
		return nil, 0, err
	}
	out := map[string]string{}
	for k, h := range hs {
		out[k] = hex.EncodeToString(h.Sum(nil))
	}
	return out, n, nil
}

// reindex writes Packages, Packages.gz, Release, InRelease and
// Release.gpg for every architecture in the pool (amd64 at least).
func (r *AptRepo) reindex() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	byArch := map[string][]string{"amd64": nil}
	rels := make([]string, 0, len(r.debs))
	for rel := range r.debs {
		rels = append(rels, rel)
	}
	sort.Strings(rels)
	for _, rel := range rels {
		d := r.debs[rel]
		byArch[d.arch] = append(byArch[d.arch], d.stanza)
	}
	files := map[string][]byte{}
	var archs []string
	for arch, stanzas := range byArch {
		archs = append(archs, arch)
		dir := path.Join(AptComponent, "binary-"+arch)
		pk := []byte(strings.Join(stanzas, "\n"))
		var gz bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
		zw.Write(pk)
		zw.Close()
		files[dir+"/Packages"] = pk
		files[dir+"/Packages.gz"] = gz.Bytes()
		files[dir+"/Release"] = []byte(fmt.Sprintf("Archive: %s\nComponent: %s\nOrigin: Fountain sandbox\nLabel: opensearch\nArchitecture: %s\n", AptSuite, AptComponent, arch))
	}
	sort.Strings(archs)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var rel strings.Builder
	fmt.Fprintf(&rel, "Origin: Fountain sandbox (stand-in for artifacts.opensearch.org)\nLabel: opensearch\nSuite: %s\nCodename: %s\n", AptSuite, AptSuite)
	fmt.Fprintf(&rel, "Date: %s\nArchitectures: %s\nComponents: %s\n", r.now().UTC().Format(time.RFC1123Z), strings.Join(archs, " "), AptComponent)
	rel.WriteString("Description: Fountain sandbox apt repository of stand-in packages (not the vendor's)\n")
	for _, alg := range []struct {
		title string
		h     func() hash.Hash
	}{{"MD5Sum", md5.New}, {"SHA1", sha1.New}, {"SHA256", sha256.New}} {
		rel.WriteString(alg.title + ":\n")
		for _, n := range names {
			h := alg.h()
			h.Write(files[n])
			fmt.Fprintf(&rel, " %s %16d %s\n", hex.EncodeToString(h.Sum(nil)), len(files[n]), n)
		}
	}
	release := []byte(rel.String())
	inRelease, err := r.key.clearsign(release)
	if err != nil {
		return fmt.Errorf("apt repo: sign InRelease: %w", err)
	}
	sig, err := r.key.detachSign(release)
	if err != nil {
		return fmt.Errorf("apt repo: sign Release: %w", err)
	}
	out := map[string][]byte{}
	for n, b := range files {
		out[path.Join("dists", AptSuite, n)] = b
	}
	out[path.Join("dists", AptSuite, "Release")] = release
	out[path.Join("dists", AptSuite, "InRelease")] = inRelease
	out[path.Join("dists", AptSuite, "Release.gpg")] = sig
	r.files = out
	return nil
}

// Handler serves the repository: dists/stable/... and pool/... relative
// to where it is mounted (strip the prefix with http.StripPrefix).
func (r *AptRepo) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		p := strings.TrimPrefix(path.Clean("/"+req.URL.Path), "/")
		r.mu.RLock()
		body, isIndex := r.files[p]
		deb, isDeb := r.debs[p]
		r.mu.RUnlock()
		switch {
		case isIndex:
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			if strings.HasSuffix(p, ".gz") {
				w.Header().Set("Content-Type", "application/gzip")
			}
			http.ServeContent(w, req, path.Base(p), r.now(), bytes.NewReader(body))
		case isDeb:
			f, err := os.Open(deb.file)
			if err != nil {
				http.Error(w, "package unavailable", http.StatusInternalServerError)
				return
			}
			defer f.Close()
			w.Header().Set("Content-Type", "application/vnd.debian.binary-package")
			http.ServeContent(w, req, path.Base(p), time.Time{}, f)
		default:
			http.NotFound(w, req)
		}
	})
}

// ArtifactsHandler serves what a host needs from "artifacts.opensearch.org"
// in the sandbox: the repository at OpenSearchAPT and the armored public
// key at PublicKeyPath (and /GPG-KEY-opensearch, the older name).
func (r *AptRepo) ArtifactsHandler() http.Handler {
	mux := http.NewServeMux()
	key := func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/pgp-keys")
		w.Write(r.key.PublicKey())
	}
	mux.HandleFunc("GET "+PublicKeyPath, key)
	mux.HandleFunc("GET /GPG-KEY-opensearch", key)
	mux.Handle(OpenSearchAPT+"/", http.StripPrefix(OpenSearchAPT, r.Handler()))
	return mux
}
