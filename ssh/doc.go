// Package ssh is Fountain's one SSH client (golang.org/x/crypto/ssh, in
// process): every command run on a host and every connection to a socket
// or port on it goes through here.
//
// A Dialer opens one verified connection per host per operation; the
// Client runs each command in a session of its own (Run), streams its
// output line by line, and forwards connections to the host's Unix sockets
// (the Docker Engine API) and TCP ports (health checks) over the same
// connection.
//
// Host keys are always verified and persisted in a HostKeyStore, by the
// host's identity (Target.KeyName: a Lightsail instance's "region/name:22"
// under every spelling of its address, else "address:port"):
//   - Dialer.Pin knows the host's keys now (a Lightsail instance's, from
//     GetInstanceAccessDetails): they are kept, replacing kept keys that
//     differ, and the host must present one of them; only their algorithms
//     are asked for, so the host presents a key we know (as OpenSSH does
//     with known_hosts);
//   - else keys kept for the host: the host must present one of them;
//   - none at all: the key presented is kept once the login succeeds
//     (trust on first use, source "tofu"), and the log says so with its
//     SHA256 fingerprint; Client.FirstUse tells. Dialer.RefuseFirstUse
//     refuses instead (a host Lightsail knows is never trusted on first
//     use).
//
// A changed key is refused with a *HostKeyError (ECONFLICT) that names
// both fingerprints and how to forget the old key.
//
// Every value placed into a remote command goes through Quote (or Join);
// environment values travel on stdin, never on a command line.
package ssh
