package deploy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"time"
)

// A cluster's node-to-node TLS: Fountain makes a CA per cluster (ECDSA
// P-256, ten years, its key kept encrypted in the vault) and issues each
// node a certificate (CN=NODE,OU=CLUSTER,O=Fountain, the node's private
// address and name as SANs, two years) that the security plugin presents
// on the transport port; plugins.security.nodes_dn admits
// CN=*,OU=CLUSTER,O=Fountain, so a node added later needs no change on
// the others.

const (
	caValidity      = 10 * 365 * 24 * time.Hour
	nodeValidity    = 2 * 365 * 24 * time.Hour
	nodeRenewBefore = 30 * 24 * time.Hour
)

// clusterCA is a cluster's CA.
type clusterCA struct {
	cert            *x509.Certificate
	key             *ecdsa.PrivateKey
	certPEM, keyPEM string
}

func serial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

// newClusterCA makes a CA for the cluster.
func newClusterCA(cluster string, now time.Time) (*clusterCA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	sn, err := serial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: sn,
		Subject:   pkix.Name{CommonName: "Fountain OpenSearch CA " + cluster, OrganizationalUnit: []string{cluster}, Organization: []string{"Fountain"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(caValidity), IsCA: true, BasicConstraintsValid: true, MaxPathLenZero: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("make the CA of %s: %w", cluster, err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return parseClusterCA(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})))
}

// parseClusterCA reads a CA kept as PEM.
func parseClusterCA(certPEM, keyPEM string) (*clusterCA, error) {
	cert, err := parseCertPEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("the cluster CA's certificate: %w", err)
	}
	b, _ := pem.Decode([]byte(keyPEM))
	if b == nil {
		return nil, errors.New("the cluster CA's key is not PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("the cluster CA's key: %w", err)
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, errors.New("the cluster CA's key is not ECDSA")
	}
	return &clusterCA{cert: cert, key: key, certPEM: certPEM, keyPEM: keyPEM}, nil
}

func parseCertPEM(s string) (*x509.Certificate, error) {
	b, _ := pem.Decode([]byte(s))
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, errors.New("not a PEM certificate")
	}
	return x509.ParseCertificate(b.Bytes)
}

// nodeSubject is a node's certificate subject.
func nodeSubject(cluster, node string) pkix.Name {
	return pkix.Name{CommonName: node, OrganizationalUnit: []string{cluster}, Organization: []string{"Fountain"}}
}

// nodesDN is plugins.security.nodes_dn for the cluster: any node of it.
func nodesDN(cluster string) string { return "CN=*,OU=" + cluster + ",O=Fountain" }

// issueNode issues a node's certificate and key (PKCS#8, as the security
// plugin reads it).
func (ca *clusterCA) issueNode(cluster, node, ip string, now time.Time) (certPEM, keyPEM string, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	sn, err := serial()
	if err != nil {
		return "", "", err
	}
	tmpl := &x509.Certificate{SerialNumber: sn, Subject: nodeSubject(cluster, node), DNSNames: []string{node},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(nodeValidity),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	if a := net.ParseIP(ip); a != nil {
		tmpl.IPAddresses = []net.IP{a}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return "", "", fmt.Errorf("issue the certificate of %s: %w", node, err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})), nil
}

// nodeCertProblem says why the certificate a node has (PEM, "" for none)
// is not one the cluster's CA issued it for its name and address, valid
// for a while yet; "" when it is.
func nodeCertProblem(certPEM, caPEM, cluster, node, ip string, now time.Time) string {
	if certPEM == "" {
		return "no " + opensearchNodeCert
	}
	cert, err := parseCertPEM(certPEM)
	if err != nil {
		return opensearchNodeCert + " is not a PEM certificate"
	}
	ca, err := parseCertPEM(caPEM)
	if err != nil {
		return "Fountain's CA for " + cluster + " is not a certificate"
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}); err != nil {
		return "it is not a valid certificate of Fountain's CA for " + cluster
	}
	if want := nodeSubject(cluster, node).String(); cert.Subject.String() != want {
		return "its subject is " + cert.Subject.String() + ", not " + want
	}
	if a := net.ParseIP(ip); a != nil && !containsIP(cert.IPAddresses, a) {
		return "it does not name " + ip
	}
	if cert.NotAfter.Sub(now) < nodeRenewBefore {
		return "it expires " + cert.NotAfter.UTC().Format(time.DateOnly)
	}
	return ""
}

func containsIP(list []net.IP, a net.IP) bool {
	for _, x := range list {
		if x.Equal(a) {
			return true
		}
	}
	return false
}
