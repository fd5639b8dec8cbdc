package kong

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"sync"
	"time"
)

// Run serves the proxy and the Admin API on the settings' listeners
// until ctx is done. ssl listeners use a self-signed certificate made at
// start, like Kong's default certificate.
func (g *Gateway) Run(ctx context.Context) error {
	var cert *tls.Certificate
	type srv struct {
		l net.Listener
		h http.Handler
	}
	var srvs []srv
	closeAll := func() {
		for _, s := range srvs {
			s.l.Close()
		}
	}
	listen := func(ls []Listener, h http.Handler) error {
		for _, l := range ls {
			ln, err := net.Listen("tcp", l.Addr)
			if err != nil {
				return fmt.Errorf("listen %s: %w", l.Addr, err)
			}
			if l.SSL {
				if cert == nil {
					c, err := selfSigned()
					if err != nil {
						ln.Close()
						return err
					}
					cert = c
				}
				ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{*cert}, MinVersion: tls.VersionTLS12})
			}
			srvs = append(srvs, srv{l: ln, h: h})
			g.opts.Logf("listening on %s (%s)", ln.Addr(), map[bool]string{true: "ssl", false: "http"}[l.SSL])
		}
		return nil
	}
	if err := listen(g.opts.Settings.ProxyListen, g.ProxyHandler()); err != nil {
		closeAll()
		return err
	}
	if err := listen(g.opts.Settings.AdminListen, g.AdminHandler()); err != nil {
		closeAll()
		return err
	}
	var wg sync.WaitGroup
	servers := make([]*http.Server, len(srvs))
	errc := make(chan error, len(srvs))
	for i, s := range srvs {
		hs := &http.Server{Handler: s.h, ReadHeaderTimeout: 60 * time.Second, ConnState: g.connState}
		servers[i] = hs
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := hs.Serve(s.l); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, hs := range servers {
		_ = hs.Shutdown(sctx)
	}
	wg.Wait()
	g.Close()
	return err
}

func (g *Gateway) connState(_ net.Conn, st http.ConnState) {
	switch st {
	case http.StateNew:
		g.accepted.Add(1)
		g.active.Add(1)
	case http.StateClosed, http.StateHijacked:
		g.active.Add(-1)
	}
}

// selfSigned makes Kong's default-like certificate (CN localhost).
func selfSigned() (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "localhost", Organization: []string{"Kong (Fountain stand-in)"}},
		DNSNames:     []string{"localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("default certificate: %w", err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
