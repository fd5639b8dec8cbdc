package fountain

import (
	"net"
	"net/netip"
	"strconv"
)

// HostID is the one identity of a host, whatever spelling of its address a
// request used: the Lightsail instance (region and name) when the address
// is any of an instance's (public, private, static, IPv6, the IPv4-mapped
// form, a DNS name resolving to one of them), else the canonical address
// (IPv4-mapped IPv6 unmapped; a DNS name resolved once). Everything Fountain
// keeps about a host is keyed by it: locks, SSH host keys, Kong config
// versions, the kept OpenSearch password.
type HostID struct {
	Region   string     // with Instance: the instance's region
	Instance string     // the Lightsail instance's name, if the host is one
	Addr     netip.Addr // else: the canonical address
}

// InstanceHost is the identity of a Lightsail instance.
func InstanceHost(region, name string) HostID { return HostID{Region: region, Instance: name} }

// AddrHost is the identity of a host Lightsail does not know: its address,
// IPv4-mapped IPv6 unmapped and without a zone.
func AddrHost(a netip.Addr) HostID { return HostID{Addr: a.Unmap().WithZone("")} }

// IsInstance reports whether the host is a Lightsail instance.
func (id HostID) IsInstance() bool { return id.Instance != "" }

// IsZero reports whether id names no host.
func (id HostID) IsZero() bool { return id.Instance == "" && !id.Addr.IsValid() }

// String is the identity as records key it: "eu-central-1/web-1" for an
// instance (a Lightsail name holds no "/", an address neither), else the
// address, "203.0.113.7" or "2001:db8::7".
func (id HostID) String() string {
	if id.Instance != "" {
		return id.Region + "/" + id.Instance
	}
	if !id.Addr.IsValid() {
		return ""
	}
	return id.Addr.String()
}

// KeyName is the name the host's SSH host keys on port are kept under:
// "eu-central-1/web-1:22", "203.0.113.7:22", "[2001:db8::7]:22". For an
// address it is the host:port form OpenSSH's known_hosts uses, so keys
// kept before identities existed are still found.
func (id HostID) KeyName(port int) string {
	if port == 0 {
		port = 22
	}
	return net.JoinHostPort(id.String(), strconv.Itoa(port))
}

// Lock is the name of a resource an operation holds while it runs; no
// two running operations hold the same one.
type Lock string

// HostLock is held by every operation that acts on a host (over SSH).
func HostLock(id HostID) Lock { return Lock("host:" + id.String()) }

// InstanceLock is held by every operation that changes a Lightsail
// instance, and by every operation on its host, so that a deploy and a
// delete of the instance exclude each other.
func InstanceLock(region, name string) Lock { return Lock("instance:" + region + "/" + name) }

// GitHubLock is held by an operation that changes one thing in a
// repository: a secret ("secret/ENV/NAME") or a file ("file/PATH").
func GitHubLock(repo, thing string) Lock { return Lock("github:" + repo + "/" + thing) }
