package sandbox

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

type stringHandler string

func (s stringHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	io.WriteString(w, string(s))
}
func (s stringHandler) String() string { return "the " + string(s) + " stand-in" }

// frontEnv serves a front over TLS on loopback; its client dials that
// address for every name, as a sandbox host resolves them to the gateway.
func frontEnv(t *testing.T) (*Sandbox, *atomic.Value, func(name, path string) (int, string, error)) {
	t.Helper()
	ca, err := LoadOrCreateCA(CADir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	var reg atomic.Value // http.Handler
	s := &Sandbox{ca: ca}
	s.front = newFront(ca, func() http.Handler {
		h, _ := reg.Load().(http.Handler)
		return h
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: s.front, ErrorLog: log.New(io.Discard, "", 0)}
	go srv.Serve(tls.NewListener(ln, &tls.Config{GetCertificate: s.front.getCertificate, NextProtos: []string{"h2", "http/1.1"}}))
	t.Cleanup(func() { srv.Close() })
	addr := ln.Addr().String()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: ca.Pool()},
		ForceAttemptHTTP2: true,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}}
	get := func(name, path string) (int, string, error) {
		resp, err := client.Get("https://" + name + path)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), nil
	}
	return s, &reg, get
}

// The gateway's TLS port serves each name with a certificate from the
// sandbox CA: the registry under its names, a registered handler under its
// own, nothing else.
func TestFrontServesNamesOverTLS(t *testing.T) {
	s, reg, get := frontEnv(t)
	if code, _, err := get("ghcr.io", "/v2/"); err != nil || code != http.StatusServiceUnavailable {
		t.Fatalf("registry not running: %d %v", code, err)
	}
	reg.Store(http.Handler(stringHandler("registry")))
	for _, n := range RegistryNames {
		if code, body, err := get(n, "/v2/"); err != nil || code != 200 || body != "registry" {
			t.Fatalf("%s: %d %q %v", n, code, body, err)
		}
	}
	if code, body, err := get(OpenSearchArtifactsHostname, "/"); err != nil || code != http.StatusNotFound || !strings.Contains(body, "no stand-in") {
		t.Fatalf("stand-in name without a handler: %d %q %v", code, body, err)
	}
	s.HandleHost(OpenSearchArtifactsHostname, stringHandler("opensearch"))
	s.HandleHost("apt.example.org", stringHandler("apt"))
	if code, body, err := get(OpenSearchArtifactsHostname, "/"); err != nil || code != 200 || body != "opensearch" {
		t.Fatalf("registered handler: %d %q %v", code, body, err)
	}
	if code, body, err := get("apt.example.org", "/"); err != nil || code != 200 || body != "apt" {
		t.Fatalf("a name of its own: %d %q %v", code, body, err)
	}
	// A name nobody serves gets no certificate at all.
	if _, _, err := get("example.com", "/"); err == nil || !strings.Contains(err.Error(), "tls") {
		t.Fatalf("unknown name: %v", err)
	}
	s.HandleHost("apt.example.org", nil)
	if code, _, err := get("apt.example.org", "/"); err == nil && code != http.StatusMisdirectedRequest {
		t.Fatalf("a removed name is still served: %d", code)
	}

	names := s.front.names()
	if want := []string{OpenSearchArtifactsHostname, GHCRHostname, MirrorHostname, RegistryHostname}; !slices.Equal(names, want) {
		t.Fatalf("names %v, want %v", names, want)
	}
	if d := s.front.describe(OpenSearchArtifactsHostname); d != "the opensearch stand-in" {
		t.Errorf("describe: %q", d)
	}
	if got := s.extraHosts(netip.MustParseAddr("172.30.0.1")); !slices.Equal(got, []string{
		"artifacts.opensearch.org:172.30.0.1", "ghcr.io:172.30.0.1", "mirror.fountain.internal:172.30.0.1", "registry.fountain.internal:172.30.0.1",
	}) {
		t.Errorf("extra hosts %v", got)
	}
}

func TestHandleHostRefusesRegistryAndBadNames(t *testing.T) {
	s, _, _ := frontEnv(t)
	for _, n := range []string{GHCRHostname, RegistryHostname, MirrorHostname, "Upper.example", "no_underscore.example", "single", ""} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("HandleHost(%q) did not panic", n)
				}
			}()
			s.HandleHost(n, stringHandler("x"))
		}()
	}
}

func TestHostFiles(t *testing.T) {
	pem := []byte("-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n")
	got := hostFiles(pem, []string{"deb.debian.org", "mirror.example:8080", "mirror.example:8081"})
	want := []tarFile{
		{Name: "usr/local/share/ca-certificates/fountain-sandbox.crt", Mode: 0o644, Body: pem},
		{Name: "etc/docker/certs.d", Mode: 0o755, Dir: true},
		{Name: "etc/docker/certs.d/ghcr.io", Mode: 0o755, Dir: true},
		{Name: "etc/docker/certs.d/ghcr.io/ca.crt", Mode: 0o644, Body: pem},
		{Name: "etc/docker/certs.d/registry.fountain.internal", Mode: 0o755, Dir: true},
		{Name: "etc/docker/certs.d/registry.fountain.internal/ca.crt", Mode: 0o644, Body: pem},
		{Name: "etc/docker/certs.d/mirror.fountain.internal", Mode: 0o755, Dir: true},
		{Name: "etc/docker/certs.d/mirror.fountain.internal/ca.crt", Mode: 0o644, Body: pem},
		{Name: "etc/apt/apt.conf.d/00fountain-sandbox-proxy", Mode: 0o644, Body: []byte(
			"// Written by Fountain's sandbox when this host was created: apt downloads\n" +
				"// from the mirror through the sandbox's caching proxy, shared by every host.\n" +
				"Acquire::http::Proxy::deb.debian.org \"http://registry.fountain.internal:3142\";\n" +
				"Acquire::https::Proxy::deb.debian.org \"DIRECT\";\n" +
				"Acquire::http::Proxy::mirror.example \"http://registry.fountain.internal:3142\";\n" +
				"Acquire::https::Proxy::mirror.example \"DIRECT\";\n")},
	}
	if len(got) != len(want) {
		t.Fatalf("%d files, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i].Name != want[i].Name || got[i].Mode != want[i].Mode || got[i].Dir != want[i].Dir || string(got[i].Body) != string(want[i].Body) {
			t.Errorf("file %d: %+v\nwant %+v", i, got[i], want[i])
		}
	}
	if AptProxyURL != fmt.Sprintf("http://%s:%d", RegistryHostname, AptProxyPort) {
		t.Errorf("AptProxyURL %s does not name AptProxyPort", AptProxyURL)
	}
	if without := hostFiles(pem, nil); len(without) != len(want)-1 {
		t.Errorf("without the apt proxy: %d files", len(without))
	}
}
