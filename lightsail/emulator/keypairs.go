package emulator

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"maps"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// DefaultKeyPairName is the name of a region's default key pair, the
// sshKeyName of instances created without keyPairName.
const DefaultKeyPairName = "LightsailDefaultKeyPair"

// keyPair is a Lightsail key pair. Only the default key pair keeps its
// private key (DownloadDefaultKeyPair returns it again); CreateKeyPair
// returns the private key once, as Lightsail does.
type keyPair struct {
	name, arn, supportCode string
	createdAt              time.Time
	tags                   []tag
	fingerprint            string
	publicKey              string // authorized_keys form
	pub                    ssh.PublicKey
	privatePEM             string
}

type keyPairJSON struct {
	Name         string   `json:"name"`
	Arn          string   `json:"arn"`
	SupportCode  string   `json:"supportCode"`
	CreatedAt    epoch    `json:"createdAt"`
	Location     location `json:"location"`
	ResourceType string   `json:"resourceType"`
	Tags         []tag    `json:"tags"`
	Fingerprint  string   `json:"fingerprint"`
}

// regionalLocation is the location of regional resources (key pairs,
// static IPs): Lightsail reports their zone as "all".
func regionalLocation(rg *region) location {
	return location{AvailabilityZone: "all", RegionName: rg.name}
}

func (rg *region) keyPairWire(k *keyPair) keyPairJSON {
	tags := k.tags
	if tags == nil {
		tags = []tag{}
	}
	return keyPairJSON{
		Name: k.name, Arn: k.arn, SupportCode: k.supportCode, CreatedAt: epoch(k.createdAt),
		Location: regionalLocation(rg), ResourceType: resKeyPair, Tags: tags, Fingerprint: k.fingerprint,
	}
}

// newKeyPair builds a key pair record. Its fingerprint is the colon-separated
// MD5 of the public key blob (OpenSSH's legacy form).
func (s *Server) newKeyPair(rg *region, name string, pub ssh.PublicKey, now time.Time) *keyPair {
	return &keyPair{
		name: name, arn: s.arn(rg, "KeyPair"), supportCode: s.account + "/" + name, createdAt: now,
		fingerprint: ssh.FingerprintLegacyMD5(pub), pub: pub,
		publicKey: strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub))),
	}
}

// ensureDefaultKey creates the region's default key pair if it has none:
// Options.DefaultKeyPair, or a new ed25519 key in OpenSSH PEM form.
// Callers hold s.mu.
func (s *Server) ensureDefaultKey(rg *region, now time.Time) *apiError {
	if rg.defaultKey != nil {
		return nil
	}
	var privPEM string
	pub := s.defPub
	if s.defKey != nil {
		privPEM = s.defKey.PrivateKeyPEM
	} else {
		edPub, edPriv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return newError(ServiceException, "Failed to generate the default key pair.")
		}
		block, err := ssh.MarshalPrivateKey(edPriv, "")
		if err != nil {
			return newError(ServiceException, "Failed to encode the default key pair.")
		}
		privPEM = string(pem.EncodeToMemory(block))
		if pub, err = ssh.NewPublicKey(edPub); err != nil {
			return newError(ServiceException, "Failed to encode the default key pair.")
		}
	}
	k := s.newKeyPair(rg, DefaultKeyPairName, pub, now)
	k.privatePEM = privPEM
	rg.defaultKey = k
	return nil
}

// downloadDefaultKeyPair answers DownloadDefaultKeyPair, creating the
// region's default key pair if needed.
func (c *call) downloadDefaultKeyPair() (any, *apiError) {
	rg := c.lock()
	if aerr := c.s.ensureDefaultKey(rg, c.now); aerr != nil {
		return nil, aerr
	}
	k := rg.defaultKey
	return struct {
		PublicKeyBase64  string `json:"publicKeyBase64"`
		PrivateKeyBase64 string `json:"privateKeyBase64"`
		CreatedAt        epoch  `json:"createdAt"`
	}{k.publicKey, k.privatePEM, epoch(k.createdAt)}, nil
}

// findKeyPair returns a key pair by name (the default one included).
func findKeyPair(rg *region, name string) *keyPair {
	if name == DefaultKeyPairName {
		return rg.defaultKey
	}
	return rg.keyPairs[name]
}

// lockKeyPair checks a keyPairName member, takes the lock (c.lock) and
// returns the key pair it names (the default one included).
func (c *call) lockKeyPair(name *string) (*keyPair, *apiError) {
	n, aerr := requireName("keyPairName", name)
	if aerr != nil {
		return nil, aerr
	}
	k := findKeyPair(c.lock(), n)
	if k == nil {
		return nil, errNotFound("The KeyPair does not exist: %s", n)
	}
	return k, nil
}

// createKeyPair answers CreateKeyPair with a new RSA 2048 key, as Lightsail
// generates: privateKeyBase64 is a PKCS#1 PEM ("-----BEGIN RSA PRIVATE
// KEY-----") and publicKeyBase64 the OpenSSH public key.
func (c *call) createKeyPair() (any, *apiError) {
	var in struct {
		KeyPairName *string `json:"keyPairName"`
		Tags        []tag   `json:"tags"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	name, aerr := requireName("keyPairName", in.KeyPairName)
	if aerr != nil {
		return nil, aerr
	}
	tags, aerr := validTags(in.Tags)
	if aerr != nil {
		return nil, aerr
	}
	rk, err := rsa.GenerateKey(rand.Reader, 2048) // before locking: it is slow
	if err != nil {
		return nil, newError(ServiceException, "Failed to generate the key pair.")
	}
	pub, err := ssh.NewPublicKey(&rk.PublicKey)
	if err != nil {
		return nil, newError(ServiceException, "Failed to encode the key pair.")
	}
	privPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rk)})

	k, op, aerr := c.addKeyPair(name, pub, tags, "CreateKeyPair")
	if aerr != nil {
		return nil, aerr
	}
	return struct {
		KeyPair          keyPairJSON   `json:"keyPair"`
		PublicKeyBase64  string        `json:"publicKeyBase64"`
		PrivateKeyBase64 string        `json:"privateKeyBase64"`
		Operation        operationJSON `json:"operation"`
	}{c.rg.keyPairWire(k), k.publicKey, string(privPEM), op.wire()}, nil
}

// addKeyPair serves the end of CreateKeyPair and ImportKeyPair: it takes
// the lock (c.lock), records the key pair and an operation of type opType.
// A name in use, the default key pair's included, is InvalidInputException.
func (c *call) addKeyPair(name string, pub ssh.PublicKey, tags []tag, opType string) (*keyPair, *operation, *apiError) {
	rg := c.lock()
	if name == DefaultKeyPairName || rg.keyPairs[name] != nil {
		return nil, nil, errInvalid("Some names are already in use: %s", name)
	}
	k := c.s.newKeyPair(rg, name, pub, c.now)
	k.tags = tags
	rg.keyPairs[name] = k
	return k, rg.newOp(c.now, name, resKeyPair, opType, regionalLocation(rg), "", true), nil
}

// importKeyPair answers ImportKeyPair. publicKeyBase64 is accepted as an
// OpenSSH public key line ("ssh-ed25519 AAAA... comment", what the SDK
// callers send despite the member's name) or as base64 of such a line.
func (c *call) importKeyPair() (any, *apiError) {
	var in struct {
		KeyPairName     *string `json:"keyPairName"`
		PublicKeyBase64 *string `json:"publicKeyBase64"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	name, aerr := requireName("keyPairName", in.KeyPairName)
	if aerr != nil {
		return nil, aerr
	}
	if in.PublicKeyBase64 == nil {
		return nil, errMissing("publicKeyBase64")
	}
	pub, ok := parsePublicKey(*in.PublicKeyBase64)
	if !ok {
		return nil, errInvalid("The public key is not a valid OpenSSH public key.")
	}
	_, op, aerr := c.addKeyPair(name, pub, nil, "ImportKeyPair")
	if aerr != nil {
		return nil, aerr
	}
	return opOutput{op.wire()}, nil
}

func parsePublicKey(text string) (ssh.PublicKey, bool) {
	if pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(text)); err == nil {
		return pub, true
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(text))
	if err != nil {
		return nil, false
	}
	if pub, _, _, _, err := ssh.ParseAuthorizedKey(raw); err == nil {
		return pub, true
	}
	return nil, false
}

// getKeyPair answers GetKeyPair.
func (c *call) getKeyPair() (any, *apiError) {
	var in struct {
		KeyPairName *string `json:"keyPairName"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	k, aerr := c.lockKeyPair(in.KeyPairName)
	if aerr != nil {
		return nil, aerr
	}
	return struct {
		KeyPair keyPairJSON `json:"keyPair"`
	}{c.rg.keyPairWire(k)}, nil
}

func keyPairName(k *keyPair) string { return k.name }

// getKeyPairs answers GetKeyPairs, sorted by name, with the default key
// pair only when includeDefaultKeyPair is true.
func (c *call) getKeyPairs() (any, *apiError) {
	var in struct {
		PageToken             *string `json:"pageToken"`
		IncludeDefaultKeyPair *bool   `json:"includeDefaultKeyPair"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	rg := c.lock()
	keys := rg.keyPairs // never holds DefaultKeyPairName: create and import refuse it
	if boolv(in.IncludeDefaultKeyPair) && rg.defaultKey != nil {
		keys = maps.Clone(keys)
		keys[DefaultKeyPairName] = rg.defaultKey
	}
	list, next, aerr := pagedList(c, sortedValues(keys, keyPairName), keyPairName, in.PageToken, rg.keyPairWire)
	if aerr != nil {
		return nil, aerr
	}
	return struct {
		KeyPairs      []keyPairJSON `json:"keyPairs"`
		NextPageToken string        `json:"nextPageToken,omitempty"`
	}{list, next}, nil
}

// deleteKeyPair answers DeleteKeyPair. The default key pair can be deleted
// too; the next instance created without keyPairName, or the next
// DownloadDefaultKeyPair, creates a new one. Instances keep working and
// keep their sshKeyName.
func (c *call) deleteKeyPair() (any, *apiError) {
	var in struct {
		KeyPairName         *string `json:"keyPairName"`
		ExpectedFingerprint *string `json:"expectedFingerprint"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	k, aerr := c.lockKeyPair(in.KeyPairName)
	if aerr != nil {
		return nil, aerr
	}
	rg, name := c.rg, k.name
	if fp := str(in.ExpectedFingerprint); fp != "" && fp != k.fingerprint {
		return nil, errInvalid("The expected fingerprint %s does not match the fingerprint of key pair %s.", fp, name)
	}
	if name == DefaultKeyPairName {
		rg.defaultKey = nil
	} else {
		delete(rg.keyPairs, name)
	}
	op := rg.newOp(c.now, name, resKeyPair, "DeleteKeyPair", regionalLocation(rg), "", true)
	return opOutput{op.wire()}, nil
}
