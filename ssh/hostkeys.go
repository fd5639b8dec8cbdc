package ssh

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"

	xssh "golang.org/x/crypto/ssh"

	"github.com/fountainai/fountain"
)

// HostKeyStore keeps the SSH host keys Fountain trusts, by host
// ("address:port"). The sqlite package implements it.
type HostKeyStore interface {
	// HostKeys returns the keys trusted for host (none: nil, nil).
	HostKeys(ctx context.Context, host string) ([]fountain.HostKey, error)
	// TrustHostKey records k for k.Host. Recording a key already stored is
	// a no-op; a different key of the same algorithm for the same host is
	// refused with an ECONFLICT error.
	TrustHostKey(ctx context.Context, k fountain.HostKey) error
	// ReplaceHostKeys makes keys the only ones trusted for host (an
	// authority's keys, which win over kept ones).
	ReplaceHostKeys(ctx context.Context, host string, keys []fountain.HostKey) error
}

// ParseHostKey returns the domain form of an SSH public host key of host
// ("address:port"): key is either the base64 wire blob (as Lightsail's
// GetInstanceAccessDetails and known_hosts hold it) or an authorized_keys
// line ("ssh-ed25519 AAAA... comment"). Algorithm, PublicKey (the bare
// blob) and FingerprintSHA256 are filled in; CreatedAt is left zero.
func ParseHostKey(host, source, key string) (fountain.HostKey, error) {
	pk, err := parsePublicKey(key)
	if err != nil {
		return fountain.HostKey{}, err
	}
	return domainKey(host, source, pk), nil
}

func parsePublicKey(key string) (xssh.PublicKey, error) {
	key = strings.TrimSpace(key)
	if strings.ContainsAny(key, " \t") {
		pk, _, _, rest, err := xssh.ParseAuthorizedKey([]byte(key))
		if err != nil {
			return nil, fmt.Errorf("parse host key: %w", err)
		}
		if len(bytes.TrimSpace(rest)) > 0 {
			return nil, fmt.Errorf("parse host key: more than one key")
		}
		return pk, nil
	}
	blob, err := base64.StdEncoding.DecodeString(key)
	if err != nil {
		return nil, fmt.Errorf("parse host key: not base64: %w", err)
	}
	pk, err := xssh.ParsePublicKey(blob)
	if err != nil {
		return nil, fmt.Errorf("parse host key: %w", err)
	}
	return pk, nil
}

func domainKey(host, source string, pk xssh.PublicKey) fountain.HostKey {
	return fountain.HostKey{
		Host:              host,
		Algorithm:         pk.Type(),
		PublicKey:         base64.StdEncoding.EncodeToString(pk.Marshal()),
		FingerprintSHA256: xssh.FingerprintSHA256(pk),
		Source:            source,
	}
}

// trustedKey is a stored or pinned key, parsed.
type trustedKey struct {
	fountain.HostKey
	pub xssh.PublicKey
}

// parseTrusted parses keys for host, checking that each one's algorithm
// matches its blob.
func parseTrusted(host string, keys []fountain.HostKey) ([]trustedKey, error) {
	var out []trustedKey
	for _, k := range keys {
		pk, err := parsePublicKey(k.PublicKey)
		if err != nil {
			return nil, fmt.Errorf("host key %s of %s: %w", k.Algorithm, host, err)
		}
		if k.Algorithm != "" && k.Algorithm != pk.Type() {
			return nil, fmt.Errorf("host key of %s: algorithm %s, but the key is %s", host, k.Algorithm, pk.Type())
		}
		dk := domainKey(host, k.Source, pk)
		dk.CreatedAt = k.CreatedAt
		out = append(out, trustedKey{HostKey: dk, pub: pk})
	}
	return out, nil
}

// preferredHostKeyAlgos is the order in which host key algorithms are
// asked for, OpenSSH's: ed25519 first. Certificates are not used.
var preferredHostKeyAlgos = []string{
	xssh.KeyAlgoED25519,
	xssh.KeyAlgoECDSA256, xssh.KeyAlgoECDSA384, xssh.KeyAlgoECDSA521,
	xssh.KeyAlgoRSASHA512, xssh.KeyAlgoRSASHA256,
}

// hostKeyAlgorithms returns the algorithms to ask the server for: with
// trusted keys, only theirs (so the server presents a key we know, as
// OpenSSH does with known_hosts); without, every usual one.
func hostKeyAlgorithms(trusted []trustedKey) []string {
	if len(trusted) == 0 {
		return slices.Clone(preferredHostKeyAlgos)
	}
	supported := map[string]bool{}
	for _, a := range xssh.SupportedAlgorithms().HostKeys {
		supported[a] = true
	}
	want := map[string]bool{}
	for _, k := range trusted {
		switch t := k.pub.Type(); t {
		case xssh.KeyAlgoRSA: // an RSA key signs with SHA-2 (ssh-rsa's SHA-1 is retired)
			want[xssh.KeyAlgoRSASHA512], want[xssh.KeyAlgoRSASHA256] = true, true
		default:
			if supported[t] { // else the host cannot prove it holds the key
				want[t] = true
			}
		}
	}
	var algos []string
	for _, a := range preferredHostKeyAlgos {
		if want[a] {
			algos = append(algos, a)
			delete(want, a)
		}
	}
	rare := slices.Sorted(maps.Keys(want)) // e.g. sk-*, after the usual ones
	return append(algos, rare...)
}

// HostKeyError is the refusal of a host whose key is not the one Fountain
// trusts for its address: it names both fingerprints. It unwraps to an
// ECONFLICT *fountain.Error: Fountain's record and the host disagree, and
// only a person can say which is right (retrying will not help).
type HostKeyError struct {
	Host      string             // address:port
	Trusted   []fountain.HostKey // the keys Fountain trusts for Host
	Presented fountain.HostKey   // what the host showed; zero if it offered none of the trusted algorithms
	// Offered lists the host key algorithms the host offered, when it
	// offered none of the trusted ones.
	Offered []string
}

func (e *HostKeyError) Error() string {
	var trusted []string
	for _, k := range e.Trusted {
		trusted = append(trusted, fmt.Sprintf("%s %s (%s)", k.Algorithm, k.FingerprintSHA256, k.Source))
	}
	if e.Presented.PublicKey == "" {
		return fmt.Sprintf("host key of %s has changed: Fountain trusts %s, but the host offers none of these algorithms (it offers %s); refusing to connect",
			e.Host, strings.Join(trusted, ", "), strings.Join(e.Offered, ", "))
	}
	return fmt.Sprintf("host key of %s has changed: Fountain trusts %s, but the host presented %s %s; refusing to connect",
		e.Host, strings.Join(trusted, ", "), e.Presented.Algorithm, e.Presented.FingerprintSHA256)
}

// Unwrap returns the error as a *fountain.Error (ECONFLICT) with a hint.
func (e *HostKeyError) Unwrap() error {
	return &fountain.Error{Code: fountain.ECONFLICT, Message: e.Error(), Hint: fmt.Sprintf(
		"if the host was rebuilt or its keys were replaced on purpose, forget the old key "+
			"(POST /ssh/forget-host-key {\"host\":%q}) and connect again; otherwise someone may be intercepting the connection", e.Host)}
}

// verifier checks the key a server presents during one handshake.
type verifier struct {
	host      string
	trusted   []trustedKey
	presented xssh.PublicKey
	err       error
}

func (v *verifier) check(_ string, _ net.Addr, key xssh.PublicKey) error {
	v.presented = key
	if len(v.trusted) == 0 {
		return nil // trust on first use: recorded once the login succeeded
	}
	for _, k := range v.trusted {
		if k.pub.Type() == key.Type() && bytes.Equal(k.pub.Marshal(), key.Marshal()) {
			return nil
		}
	}
	v.err = &HostKeyError{Host: v.host, Trusted: v.keys(), Presented: domainKey(v.host, "", key)}
	return v.err
}

func (v *verifier) keys() []fountain.HostKey {
	out := make([]fountain.HostKey, len(v.trusted))
	for i, k := range v.trusted {
		out[i] = k.HostKey
	}
	return out
}

// FixedHostKeys returns a HostKeyStore that trusts exactly keys (those
// whose Host is empty trust any host) and never learns another: trust on
// first use is refused. It is for hosts whose keys are known in advance,
// such as sandbox hosts, and for tests.
func FixedHostKeys(keys ...fountain.HostKey) HostKeyStore { return fixedKeys(keys) }

type fixedKeys []fountain.HostKey

func (f fixedKeys) HostKeys(_ context.Context, host string) ([]fountain.HostKey, error) {
	var out []fountain.HostKey
	for _, k := range f {
		if k.Host == "" || k.Host == host {
			out = append(out, k)
		}
	}
	return out, nil
}

func (f fixedKeys) ReplaceHostKeys(ctx context.Context, host string, keys []fountain.HostKey) error {
	for _, k := range keys {
		if err := f.TrustHostKey(ctx, k); err != nil {
			return err
		}
	}
	return nil
}

func (f fixedKeys) TrustHostKey(_ context.Context, k fountain.HostKey) error {
	for _, p := range f {
		if (p.Host == "" || p.Host == k.Host) && p.Algorithm == k.Algorithm && p.PublicKey == k.PublicKey {
			return nil
		}
	}
	return fountain.Errorf(fountain.ECONFLICT, "host %s presented %s %s, which is not among the fixed host keys", k.Host, k.Algorithm, k.FingerprintSHA256)
}
