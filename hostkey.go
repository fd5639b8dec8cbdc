package fountain

import "time"

// Sources of a trusted SSH host key.
const (
	HostKeySourceLightsail = "lightsail" // pinned from GetInstanceAccessDetails
	HostKeySourceTOFU      = "tofu"      // the first key seen (trust on first use)
	HostKeySourceManual    = "manual"    // added by the user
)

// HostKey is an SSH host key Fountain trusts for one address. A host that
// presents another key of the same algorithm is refused.
type HostKey struct {
	Host              string    `json:"host" doc:"The address the key belongs to, host:port (e.g. 203.0.113.7:22)."`
	Algorithm         string    `json:"algorithm" doc:"Key algorithm, e.g. ssh-ed25519."`
	PublicKey         string    `json:"public_key" doc:"The public key, base64 wire format as in known_hosts."`
	FingerprintSHA256 string    `json:"fingerprint_sha256" doc:"SHA256 fingerprint, as OpenSSH prints it (SHA256:...)."`
	Source            string    `json:"source" enum:"lightsail,tofu,manual" doc:"Where the key came from: lightsail (pinned from GetInstanceAccessDetails), tofu (the first key seen), or manual."`
	CreatedAt         time.Time `json:"created_at" doc:"When Fountain first trusted the key."`
}
