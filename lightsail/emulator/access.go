package emulator

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// AccessDetailsTTL is how long the certificate (certKey) returned by
// GetInstanceAccessDetails is valid; expiresAt is the end of it.
const AccessDetailsTTL = 12 * time.Hour

// hostKey is an SSH host key of an instance with its fingerprints.
type hostKey struct {
	algorithm   string
	publicKey   string // base64 of the wire-format blob
	witnessedAt time.Time
	sha1        string
	sha256      string
}

type hostKeyJSON struct {
	Algorithm         string `json:"algorithm"`
	PublicKey         string `json:"publicKey"`
	WitnessedAt       epoch  `json:"witnessedAt"`
	FingerprintSHA1   string `json:"fingerprintSHA1"`
	FingerprintSHA256 string `json:"fingerprintSHA256"`
}

// Fingerprints returns the SHA-1 and SHA-256 fingerprints of an SSH public
// key blob (wire format) in the form Lightsail and OpenSSH print them:
// "SHA1:" or "SHA256:" followed by unpadded standard base64 of the digest.
func Fingerprints(blob []byte) (sha1FP, sha256FP string) {
	s1 := sha1.Sum(blob)
	s256 := sha256.Sum256(blob)
	return "SHA1:" + base64.RawStdEncoding.EncodeToString(s1[:]),
		"SHA256:" + base64.RawStdEncoding.EncodeToString(s256[:])
}

func newHostKey(algorithm string, blob []byte, at time.Time) hostKey {
	f1, f256 := Fingerprints(blob)
	return hostKey{algorithm: algorithm, publicKey: base64.StdEncoding.EncodeToString(blob), witnessedAt: at, sha1: f1, sha256: f256}
}

// reportedHostKeys converts the keys a host reported. A PublicKey may be the
// bare base64 blob or a whole authorized_keys line; a missing Algorithm is
// read from the blob. Keys that do not decode are dropped with a warning.
func (s *Server) reportedHostKeys(instance string, keys []HostKey, at time.Time) []hostKey {
	var out []hostKey
	for _, k := range keys {
		alg, b64 := k.Algorithm, strings.TrimSpace(k.PublicKey)
		if f := strings.Fields(b64); len(f) >= 2 {
			if alg == "" {
				alg = f[0]
			}
			b64 = f[1]
		}
		blob, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || len(blob) == 0 {
			s.log.Warn("lightsail emulator: host reported an undecodable host key", "instance", instance, "algorithm", alg)
			continue
		}
		if alg == "" {
			if pk, err := ssh.ParsePublicKey(blob); err == nil {
				alg = pk.Type()
			}
		}
		out = append(out, newHostKey(alg, blob, at))
	}
	return out
}

// generateHostKeys makes the ed25519, ECDSA P-256 and RSA 2048 host keys of
// an emulated instance (only the public halves are kept).
func generateHostKeys(at time.Time) ([]hostKey, error) {
	edPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	var out []hostKey
	for _, k := range []any{edPub, &ec.PublicKey, &rk.PublicKey} {
		pk, err := ssh.NewPublicKey(k)
		if err != nil {
			return nil, err
		}
		out = append(out, newHostKey(pk.Type(), pk.Marshal(), at))
	}
	return out, nil
}

func newEd25519Signer() (ssh.Signer, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	return ssh.NewSignerFromKey(priv)
}

// UserCAPublicKey returns, in authorized_keys form, the CA key that signs
// the certKey of GetInstanceAccessDetails. A real host that lists it in
// sshd's TrustedUserCAKeys accepts those certificates, the way Lightsail
// instances trust Lightsail's CA.
func (s *Server) UserCAPublicKey() string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.userCA.PublicKey())))
}

type accessDetailsJSON struct {
	CertKey       string        `json:"certKey,omitempty"`
	ExpiresAt     epoch         `json:"expiresAt,omitzero"`
	IPAddress     string        `json:"ipAddress,omitempty"`
	Ipv6Addresses []string      `json:"ipv6Addresses,omitempty"`
	Password      string        `json:"password,omitempty"`
	PrivateKey    string        `json:"privateKey,omitempty"`
	Protocol      string        `json:"protocol"`
	InstanceName  string        `json:"instanceName"`
	Username      string        `json:"username"`
	HostKeys      []hostKeyJSON `json:"hostKeys"`
}

// getAccessDetails answers GetInstanceAccessDetails (protocol ssh).
//
// privateKey is the region's default key pair (Options.DefaultKeyPair when
// set) and certKey an OpenSSH user certificate for its public key, signed
// by UserCAPublicKey, for the blueprint's user, valid until expiresAt.
// hostKeys are the instance's SSH host keys once it has run (empty while it
// is first pending): real keys reported by Hosts, or keys generated per
// instance in emulated mode, which survive stop/start and reboot. rdp is
// InvalidInputException: every blueprint is Linux.
func (c *call) getAccessDetails() (any, *apiError) {
	var in struct {
		InstanceName *string `json:"instanceName"`
		Protocol     *string `json:"protocol"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	switch p := str(in.Protocol); p {
	case "", "ssh":
	case "rdp":
		return nil, errInvalid("RDP access is only available for Windows instances; %s is a Linux instance.", str(in.InstanceName))
	default:
		return nil, errInvalid("1 validation error detected: Value '%s' at 'protocol' failed to satisfy constraint: Member must satisfy enum value set: [ssh, rdp]", p)
	}
	rg := c.lock()
	inst, aerr := c.findInstance(in.InstanceName)
	if aerr != nil {
		return nil, aerr
	}
	if inst.hostKeys == nil && !inst.witnessedAt.IsZero() && c.s.opts.Hosts == nil {
		name, at := inst.name, inst.witnessedAt
		c.unlock() // key generation is slow: do not hold the server lock
		keys, err := generateHostKeys(at)
		if err != nil {
			return nil, newError(ServiceException, "Failed to generate host keys.")
		}
		rg = c.lock()
		if inst = rg.instances[name]; inst == nil {
			return nil, errNotFound("The Instance does not exist: %s", name)
		}
		if inst.hostKeys == nil {
			inst.hostKeys = keys
		}
	}
	if aerr := c.s.ensureDefaultKey(rg, c.now); aerr != nil {
		return nil, aerr
	}
	key := rg.defaultKey
	expires := c.now.Add(AccessDetailsTTL)
	out := accessDetailsJSON{
		ExpiresAt: epoch(expires), IPAddress: inst.publicIP, Ipv6Addresses: inst.ipv6,
		PrivateKey: key.privatePEM, Protocol: "ssh", InstanceName: inst.name,
		Username: inst.blueprint.Username, HostKeys: []hostKeyJSON{},
	}
	cert, err := c.s.userCertificate(key.pub, inst.name, inst.blueprint.Username, c.now, expires)
	if err != nil {
		return nil, newError(ServiceException, "Failed to sign the access certificate.")
	}
	out.CertKey = cert
	for _, k := range inst.hostKeys {
		out.HostKeys = append(out.HostKeys, hostKeyJSON{
			Algorithm: k.algorithm, PublicKey: k.publicKey, WitnessedAt: epoch(k.witnessedAt),
			FingerprintSHA1: k.sha1, FingerprintSHA256: k.sha256,
		})
	}
	return struct {
		AccessDetails accessDetailsJSON `json:"accessDetails"`
	}{out}, nil
}

// userCertificate signs an OpenSSH user certificate for pub.
func (s *Server) userCertificate(pub ssh.PublicKey, keyID, user string, now, expires time.Time) (string, error) {
	var serial [8]byte
	_, _ = rand.Read(serial[:])
	cert := &ssh.Certificate{
		Key:             pub,
		Serial:          binary.BigEndian.Uint64(serial[:]),
		CertType:        ssh.UserCert,
		KeyId:           keyID,
		ValidPrincipals: []string{user},
		ValidAfter:      uint64(now.Add(-5 * time.Minute).Unix()),
		ValidBefore:     uint64(expires.Unix()),
		Permissions: ssh.Permissions{Extensions: map[string]string{
			"permit-X11-forwarding": "", "permit-agent-forwarding": "", "permit-port-forwarding": "",
			"permit-pty": "", "permit-user-rc": "",
		}},
	}
	if err := cert.SignCert(rand.Reader, s.userCA); err != nil {
		return "", err
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(cert))), nil
}
