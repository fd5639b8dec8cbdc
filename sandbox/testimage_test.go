package sandbox

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// testImage is a one-layer linux/amd64 image made with go-containerregistry's
// v1 types and static layer, pushed over the plain registry HTTP API (so the
// tests need no module beyond what go.mod already requires).
type testImage struct {
	manifest []byte
	config   []byte
	layer    v1.Layer
	digest   v1.Hash // manifest digest
}

func sha(b []byte) v1.Hash {
	s := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(s[:])}
}

func newTestImage(files map[string]string) (*testImage, error) {
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		body := files[n]
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(body)), ModTime: time.Unix(0, 0)}); err != nil {
			return nil, err
		}
		io.WriteString(tw, body)
	}
	tw.Close()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(tb.Bytes())
	zw.Close()
	layer := static.NewLayer(gz.Bytes(), types.DockerLayer)
	ld, err := layer.Digest()
	if err != nil {
		return nil, err
	}
	cfg := v1.ConfigFile{
		Architecture: "amd64", OS: "linux",
		Config: v1.Config{Cmd: []string{"/hello"}},
		RootFS: v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{sha(tb.Bytes())}},
	}
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.DockerManifestSchema2,
		Config:        v1.Descriptor{MediaType: types.DockerConfigJSON, Size: int64(len(cfgJSON)), Digest: sha(cfgJSON)},
		Layers:        []v1.Descriptor{{MediaType: types.DockerLayer, Size: int64(gz.Len()), Digest: ld}},
	}
	mJSON, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return &testImage{manifest: mJSON, config: cfgJSON, layer: layer, digest: sha(mJSON)}, nil
}

// push uploads the image to registry (host:port) as repo:tag.
func (img *testImage) push(registry, repo, tag string) error {
	rc, err := img.layer.Compressed()
	if err != nil {
		return err
	}
	layer, _ := io.ReadAll(rc)
	rc.Close()
	for _, blob := range [][]byte{layer, img.config} {
		resp, err := http.Post(fmt.Sprintf("http://%s/v2/%s/blobs/uploads/", registry, repo), "", nil)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			return fmt.Errorf("start upload: %s", resp.Status)
		}
		loc, err := url.Parse(resp.Header.Get("Location"))
		if err != nil {
			return err
		}
		u := (&url.URL{Scheme: "http", Host: registry}).ResolveReference(loc)
		q := u.Query()
		q.Set("digest", sha(blob).String())
		u.RawQuery = q.Encode()
		if err := put(u.String(), "application/octet-stream", blob, http.StatusCreated); err != nil {
			return fmt.Errorf("upload blob: %w", err)
		}
	}
	return put(fmt.Sprintf("http://%s/v2/%s/manifests/%s", registry, repo, tag), string(types.DockerManifestSchema2), img.manifest, http.StatusCreated)
}

func put(u, ct string, body []byte, want int) error {
	req, err := http.NewRequest(http.MethodPut, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", ct)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("PUT %s: %s %s", u, resp.Status, b)
	}
	return nil
}

// pull fetches repo:tag's manifest digest from registry.
func pullDigest(registry, repo, tag string) (string, error) {
	req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("http://%s/v2/%s/manifests/%s", registry, repo, tag), nil)
	req.Header.Set("Accept", string(types.DockerManifestSchema2))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET manifest: %s", resp.Status)
	}
	return sha(b).String(), nil
}
