package opensearch

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Node-to-node TLS, as the security plugin does it: each node presents
// the certificate of plugins.security.ssl.transport.pemcert_filepath,
// both ends verify the other's chain against pemtrustedcas_filepath, and
// a node is accepted only if its certificate's subject matches one of
// plugins.security.nodes_dn (a DN, with * wildcards, or a /regex/).

// transportTLS builds the server and client TLS configurations of the
// transport layer from the settings; it fails like OpenSearch does at
// start when a file is missing or unreadable.
func transportTLS(confDir string, s Settings) (server, client *tls.Config, err error) {
	if s.TransportCert == "" || s.TransportKey == "" || s.TransportCAs == "" {
		return nil, nil, errors.New("OpenSearchException[plugins.security.ssl.transport.pemcert_filepath, pemkey_filepath and pemtrustedcas_filepath must be set for a cluster of several nodes]")
	}
	abs := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(confDir, p)
	}
	cert, err := tls.LoadX509KeyPair(abs(s.TransportCert), abs(s.TransportKey))
	if err != nil {
		return nil, nil, fmt.Errorf("OpenSearchSecurityException[Error while initializing transport SSL layer: %w]", err)
	}
	caPEM, err := os.ReadFile(abs(s.TransportCAs))
	if err != nil {
		return nil, nil, fmt.Errorf("OpenSearchSecurityException[Error while initializing transport SSL layer: %w]", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, nil, fmt.Errorf("OpenSearchSecurityException[no certificate in %s]", s.TransportCAs)
	}
	dns := s.NodesDN
	checkDN := func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("no peer certificate")
		}
		subject := cs.PeerCertificates[0].Subject.String()
		if len(dns) > 0 && !matchDN(dns, subject) {
			return fmt.Errorf("node certificate %q is not in plugins.security.nodes_dn", subject)
		}
		return nil
	}
	server = &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool,
		MinVersion: tls.VersionTLS12, VerifyConnection: checkDN}
	client = &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, MinVersion: tls.VersionTLS12}
	if !s.VerifyHostnames {
		// The chain is verified, the host name is not.
		client.InsecureSkipVerify = true //nolint:gosec // verified below, without the host name, as enforce_hostname_verification: false says
		client.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("no peer certificate")
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			if _, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter,
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
				return err
			}
			return checkDN(cs)
		}
	} else {
		client.VerifyConnection = checkDN
	}
	return server, client, nil
}

// normDN spells a DN as the comparison does: no spaces around the
// separators.
func normDN(dn string) string {
	parts := strings.Split(dn, ",")
	for i, p := range parts {
		k, v, _ := strings.Cut(p, "=")
		parts[i] = strings.ToUpper(strings.TrimSpace(k)) + "=" + strings.TrimSpace(v)
	}
	return strings.Join(parts, ",")
}

// matchDN reports whether subject matches one of the patterns.
func matchDN(patterns []string, subject string) bool {
	subject = normDN(subject)
	for _, p := range patterns {
		if len(p) > 1 && strings.HasPrefix(p, "/") && strings.HasSuffix(p, "/") {
			if re, err := regexp.Compile(p[1 : len(p)-1]); err == nil && re.MatchString(subject) {
				return true
			}
			continue
		}
		if wildcardMatch(normDN(p), subject) {
			return true
		}
	}
	return false
}

// transportAddrs are where the transport layer listens: the bind
// addresses at transport.port.
func (s Settings) transportAddrs(bind []string) []string {
	out := make([]string, len(bind))
	for i, a := range bind {
		out[i] = net.JoinHostPort(a, fmt.Sprint(s.TransportPort))
	}
	return out
}

// seedAddr adds the default transport port to a seed host without one.
func seedAddr(h string) string {
	if _, _, err := net.SplitHostPort(h); err == nil {
		return h
	}
	return net.JoinHostPort(strings.Trim(h, "[]"), "9300")
}
