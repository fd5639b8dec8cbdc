package deploy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/ssh"
)

// Instance is a Lightsail instance as the engine needs it: where it is, its
// plan's memory, and the host keys Lightsail witnessed.
type Instance struct {
	Name      string
	Region    string
	PublicIP  string
	PrivateIP string
	BundleID  string
	RAMMiB    int
	State     string
	IPv6      []string
	HostKeys  []fountain.HostKey
}

// Addresses are the instance's addresses: public, private and IPv6.
func (i *Instance) Addresses() []netip.Addr {
	var out []netip.Addr
	for _, s := range append([]string{i.PublicIP, i.PrivateIP}, i.IPv6...) {
		if a, err := netip.ParseAddr(s); err == nil {
			out = append(out, a.Unmap())
		}
	}
	return out
}

// HasAddress reports whether a is one of the instance's addresses (an
// IPv4-mapped form of one included).
func (i *Instance) HasAddress(a netip.Addr) bool {
	return slices.Contains(i.Addresses(), a.Unmap().WithZone(""))
}

// AddressKind says which of the instance's addresses a is: public,
// private or IPv6.
func (i *Instance) AddressKind(a netip.Addr) string {
	a = a.Unmap()
	switch {
	case i.PublicIP != "" && a.String() == i.PublicIP:
		return "public"
	case i.PrivateIP != "" && a.String() == i.PrivateIP:
		return "private"
	default:
		return "IPv6"
	}
}

// Instances looks up Lightsail instances (the Lightsail adapter).
type Instances interface {
	DefaultRegion() string
	// FindInstance returns the instance named name, or ENOTFOUND.
	FindInstance(ctx context.Context, region, name string) (*Instance, error)
	// InstanceByAddress returns the instance one of whose addresses
	// (public, private, IPv6) is addr, or nil if Fountain sees none; in
	// region, or, with region "", in any region.
	InstanceByAddress(ctx context.Context, region, addr string) (*Instance, error)
	// DefaultKeyPair returns the region's default key pair's private key
	// (PEM), as DownloadDefaultKeyPair gives it.
	DefaultKeyPair(ctx context.Context, region string) ([]byte, error)
}

// Engine deploys onto hosts over SSH. It is safe for concurrent use.
type Engine struct {
	// Dialer opens verified SSH connections (its HostKeys store is
	// required). Each operation copies it to log into its own record.
	Dialer ssh.Dialer
	// Dialed, if set, is called for every SSH connection an operation's
	// connect step opens (not for one it shares: ShareConnections).
	Dialed func()
	// Instances, if set, finds the Lightsail instance behind an address.
	Instances Instances
	// KeyDirs are the directories ssh_key_path may name a file in.
	KeyDirs []string
	// KeyDir is where the region's default key pair is kept (0600).
	KeyDir string
	// GHCR is the server's login to ghcr.io, used for ghcr.io images
	// when a request brings none (nil: anonymous).
	GHCR *RegistryAuth
	// Settle is how long a container without a health check must stay up
	// to count as healthy (default 3 s).
	Settle time.Duration
	// Sandbox, when set, says the hosts are sandbox hosts (the operation
	// log says what stands in for what), on loopback addresses: only then
	// are loopback addresses hosts.
	Sandbox bool
	// AllowHostBinds lets apps bind-mount the host's system directories
	// (--allow-host-binds); refused otherwise.
	AllowHostBinds bool
	// Snapshots takes the Lightsail snapshots of snapshot_first (nil:
	// refused).
	Snapshots Snapshotter
	// Keeper keeps service secrets encrypted (nil: none are kept).
	Keeper SecretKeeper
	// LookupHost resolves a DNS name given as instance_ip (default: the
	// system's resolver).
	LookupHost func(ctx context.Context, host string) ([]netip.Addr, error)
	// Reachable, if set, is asked before dialing an address; an error
	// refuses at once (an emulated-only sandbox instance has no host to
	// reach, say) instead of retrying SSH for minutes.
	Reachable func(ctx context.Context, address string) error
	// StandInsReady, in sandbox mode, waits until the stand-ins for
	// OpenSearch and Kong are published to the sandbox hosts.
	StandInsReady func(ctx context.Context) error
	// KongConfigs keeps the versions of each gateway's config.
	KongConfigs KongConfigs
	// Legacy, if set, moves records kept under a host's address (before
	// identities existed) to its identity when the host is resolved.
	Legacy LegacyRecords
	// OpenSearchRepo and OpenSearchKey override OpenSearch's apt
	// repository and key URLs (a mirror); default the official ones.
	OpenSearchRepo, OpenSearchKey string

	keyMu sync.Mutex // serializes writing default key pairs
}

// Secrets are the server's own secrets a deploy may use (the GHCR token),
// for the operation to mask.
func (e *Engine) Secrets() []string {
	if e.GHCR != nil {
		return []string{e.GHCR.Password}
	}
	return nil
}

// Host is a resolved deploy target.
type Host struct {
	// ID is the host's one identity: its Lightsail instance, else its
	// canonical address. Locks, host keys, config versions and kept
	// secrets go by it, whatever spelling the request used.
	ID fountain.HostID
	// Address is the address dialed: the request's, canonical (a DNS name
	// resolved once, IPv4-mapped IPv6 unmapped), or the public address of
	// an instance named by instance_name.
	Address string
	Port    int
	User    string
	Signer  ssh.Signer
	// Instance is the Lightsail instance behind the address, if known.
	Instance *Instance
	// IP is Address as an address.
	IP netip.Addr
	// Spelling is how the request named the host (instance_ip as given,
	// or instance_name).
	Spelling string
	// Resolution says, in a line, how the spelling led to the identity,
	// for the operation's first step.
	Resolution string
}

// HostPort is "address:port", where the host is dialed.
func (h *Host) HostPort() string { return net.JoinHostPort(h.Address, strconv.Itoa(h.Port)) }

// Key is what records about the host are kept under: its identity.
func (h *Host) Key() string { return h.ID.String() }

// Locks are the resources an operation on the host holds: the host (by
// its identity, so two spellings of one host exclude each other), and
// the instance behind it, so that a deploy and a delete of the instance
// exclude each other.
func (h *Host) Locks() []fountain.Lock {
	locks := []fountain.Lock{fountain.HostLock(h.ID)}
	if h.Instance != nil {
		locks = append(locks, fountain.InstanceLock(h.Instance.Region, h.Instance.Name))
	}
	return locks
}

// Target names the host for people: "203.0.113.7 (web-1)".
func (h *Host) Target() string {
	t := h.Address
	if h.Instance != nil {
		t += " (" + h.Instance.Name + ")"
	}
	return t
}

// Resolve finds the host a validated request names: its address (looked
// up for instance_name, resolved once for a DNS name), the Lightsail
// instance behind it if Fountain sees one (by any of its addresses), its
// identity, and the key that logs in. It reads (Lightsail, DNS, the key
// file) and moves records kept under the host's address before
// identities existed to its identity; its errors are the caller's (4xx)
// or Lightsail's.
func (e *Engine) Resolve(ctx context.Context, in HostInput) (*Host, error) {
	policy := e.Policy()
	if err := in.Admit(policy); err != nil {
		return nil, err
	}
	h := &Host{Port: in.SSHPort, User: in.SSHUser, Spelling: in.InstanceIP}
	region := in.Region
	if region == "" && e.Instances != nil {
		region = e.Instances.DefaultRegion()
	}
	if in.InstanceName != "" {
		if e.Instances == nil {
			return nil, fountain.Invalid("instance_name", "Lightsail is not configured; give instance_ip")
		}
		inst, err := e.Instances.FindInstance(ctx, region, in.InstanceName)
		if err != nil {
			return nil, err
		}
		ip, err := netip.ParseAddr(inst.PublicIP)
		if err != nil {
			return nil, &fountain.Error{Code: fountain.ECONFLICT, Message: fmt.Sprintf("instance %s has no public address (it is %s)", inst.Name, inst.State),
				Hint: "start it: fountain instances start " + inst.Name}
		}
		if err := policy.CheckAddr("instance_name", "instance "+inst.Name+"'s address "+inst.PublicIP, ip); err != nil {
			return nil, err
		}
		h.Instance, h.IP, h.Spelling = inst, ip.Unmap(), in.InstanceName
		h.Resolution = fmt.Sprintf("instance %s/%s, at its public address %s", inst.Region, inst.Name, h.IP)
	} else {
		// The instance that has the address: in the region asked for, else
		// in any (InstanceByAddress with no region).
		ip, inst, how, err := e.identify(ctx, in.Region, in.InstanceIP, policy)
		if err != nil {
			return nil, err
		}
		h.IP, h.Instance, h.Resolution = ip, inst, how
	}
	h.Address = h.IP.String()
	h.ID = fountain.AddrHost(h.IP)
	if inst := h.Instance; inst != nil {
		h.ID = fountain.InstanceHost(inst.Region, inst.Name)
	}
	signer, err := e.signer(ctx, in, region)
	if err != nil {
		return nil, err
	}
	h.Signer = signer
	if e.Legacy != nil {
		if err := e.Legacy.ClaimHostRecords(ctx, h.Key(), h.legacyNames()); err != nil {
			return nil, fmt.Errorf("move the records of %s to its identity: %w", h.Key(), err)
		}
	}
	return h, nil
}

// identify finds the canonical address of a host named by address (an IP
// or a DNS name) and the Lightsail instance that has it, if any; how says
// so in a line.
func (e *Engine) identify(ctx context.Context, region, address string, policy Policy) (ip netip.Addr, inst *Instance, how string, err error) {
	ip, how, err = e.lookup(ctx, address, policy)
	if err != nil {
		return ip, nil, "", err
	}
	if e.Instances != nil {
		if inst, err = e.Instances.InstanceByAddress(ctx, region, ip.String()); err != nil {
			return ip, nil, "", err
		}
	}
	if inst != nil {
		how += fmt.Sprintf("the %s address of instance %s/%s", inst.AddressKind(ip), inst.Region, inst.Name)
	} else {
		how += "an address of no Lightsail instance Fountain sees: the host is known by its address"
	}
	return ip, inst, how, nil
}

// HostKeyName returns the name the SSH host keys of host are kept under:
// host is "ADDRESS[:PORT]" (an IP or a DNS name; the instance that has
// the address, if any, is the host) or an identity as the keys are listed,
// "REGION/NAME[:PORT]". Reads only.
func (e *Engine) HostKeyName(ctx context.Context, host string) (string, fountain.HostID, error) {
	s, port := strings.TrimSpace(host), 22
	if i := strings.LastIndexByte(s, ':'); i >= 0 && !strings.Contains(s[i:], "]") && (strings.Count(s, ":") == 1 || strings.HasPrefix(s, "[")) {
		n, err := strconv.Atoi(s[i+1:])
		if err != nil || n < 1 || n > 65535 {
			return "", fountain.HostID{}, fountain.Invalid("host", "%q: the port must be 1-65535", short(host))
		}
		s, port = s[:i], n
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	if region, name, ok := strings.Cut(s, "/"); ok {
		if !regionRE.MatchString(region) || !instanceNameRE.MatchString(name) {
			return "", fountain.HostID{}, fountain.Invalid("host", "%q is not an address or REGION/INSTANCE", short(host))
		}
		id := fountain.InstanceHost(region, name)
		return id.KeyName(port), id, nil
	}
	hi := HostInput{InstanceIP: s}
	if err := hi.Validate(); err != nil {
		return "", fountain.HostID{}, fountain.Invalid("host", "%q is not an address or address:port", short(host))
	}
	// Nothing is dialed: any address a key could have been kept under, of
	// an instance in any region.
	ip, inst, _, err := e.identify(ctx, "", hi.InstanceIP, Policy{Sandbox: true})
	if err != nil {
		var fe *fountain.Error
		if errors.As(err, &fe) && fe.Field == "instance_ip" {
			return "", fountain.HostID{}, fountain.Invalid("host", "%s", fe.Message)
		}
		return "", fountain.HostID{}, err
	}
	id := fountain.AddrHost(ip)
	if inst != nil {
		id = fountain.InstanceHost(inst.Region, inst.Name)
	}
	return id.KeyName(port), id, nil
}

// legacyNames are the names records about the host were kept under
// before identities: "address:port" for each of its addresses, as
// spelled.
func (h *Host) legacyNames() []string {
	port := strconv.Itoa(h.Port)
	names := []string{net.JoinHostPort(h.Address, port)}
	// The spelling as the request gave it (a DNS name, the ::ffff: form),
	// normalized as older Fountains kept it; an instance_name is none.
	if h.Spelling != "" && (h.Instance == nil || h.Spelling != h.Instance.Name) {
		names = append(names, net.JoinHostPort(h.Spelling, port))
	}
	if inst := h.Instance; inst != nil {
		for _, a := range inst.Addresses() {
			names = append(names, net.JoinHostPort(a.String(), port))
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// LegacyRecords moves what was kept under a host's old names (its
// "address:port" spellings, before identities) to its identity: Kong
// config versions and kept service secrets. It does nothing once the
// identity has records of its own.
type LegacyRecords interface {
	ClaimHostRecords(ctx context.Context, id string, legacy []string) error
}

// lookup returns the canonical address of a host: an IP as it is
// (IPv4-mapped IPv6 unmapped), a DNS name resolved once (its first
// address). A name any of whose addresses the policy refuses is refused,
// before anything dials it. how begins a line that says what was done,
// for the record.
func (e *Engine) lookup(ctx context.Context, host string, policy Policy) (netip.Addr, string, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		if a.Is4In6() {
			return a.Unmap(), fmt.Sprintf("%s is the IPv4-mapped form of %s, ", host, a.Unmap()), nil
		}
		return a, a.String() + " is ", nil
	}
	resolve := e.LookupHost
	if resolve == nil {
		resolve = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	addrs, err := resolve(ctx, host)
	if err != nil || len(addrs) == 0 {
		msg := "no address"
		if err != nil {
			msg = err.Error()
		}
		return netip.Addr{}, "", fountain.Invalid("instance_ip", "%q does not resolve: %s", host, msg)
	}
	for _, a := range addrs {
		if err := policy.CheckAddr("instance_ip", short(host)+" resolves to "+a.Unmap().String()+", which", a); err != nil {
			return netip.Addr{}, "", err
		}
	}
	a := addrs[0].Unmap()
	return a, fmt.Sprintf("%s resolved to %s (once; the operation dials %s), ", host, a, a), nil
}

// signer loads the key named by ssh_key_path, or, for an instance named by
// instance_name, the region's default key pair (kept once in KeyDir).
func (e *Engine) signer(ctx context.Context, in HostInput, region string) (ssh.Signer, error) {
	if in.SSHKeyPath != "" {
		return ssh.LoadKey(in.SSHKeyPath, e.KeyDirs)
	}
	if in.InstanceName == "" || e.Instances == nil || e.KeyDir == "" {
		return nil, fountain.Invalid(ssh.KeyPathField, "is required with instance_ip (with instance_name, the region's default key pair is used)")
	}
	e.keyMu.Lock()
	defer e.keyMu.Unlock()
	name := "lightsail-default-" + region + ".pem"
	if s, err := ssh.LoadKey(e.KeyDir+"/"+name, []string{e.KeyDir}); err == nil {
		return s, nil
	}
	pem, err := e.Instances.DefaultKeyPair(ctx, region)
	if err != nil {
		return nil, err
	}
	path, err := ssh.WriteKey(e.KeyDir, name, pem)
	if err != nil {
		return nil, fmt.Errorf("keep the default key pair of %s: %w", region, err)
	}
	return ssh.LoadKey(path, []string{e.KeyDir})
}

// connect opens the operation's one connection to the host, as a recorded
// step: the host key is verified and kept under the host's identity
// (pinned from Lightsail for an instance, under every spelling of its
// address, never trusted on first use; else kept from before, or trusted
// on first use), and the log says which.
//
// Under ShareConnections, calls to one host share one connection.
func (e *Engine) connect(ctx context.Context, rec fountain.Recorder, h *Host) (*ssh.Client, error) {
	if s := sharedFrom(ctx); s != nil {
		return e.connectShared(ctx, rec, h, s)
	}
	return e.dial(ctx, rec, h)
}

// dial opens a connection to the host, as connect's recorded step.
func (e *Engine) dial(ctx context.Context, rec fountain.Recorder, h *Host) (*ssh.Client, error) {
	var client *ssh.Client
	err := rec.Step(ctx, "connect to "+h.User+"@"+h.HostPort(), func(ctx context.Context) (fountain.StepResult, error) {
		if e.Reachable != nil {
			if err := e.Reachable(ctx, h.Address); err != nil {
				return fountain.StepResult{}, err
			}
		}
		d := e.Dialer
		d.Logf = func(format string, args ...any) { rec.Log(fmt.Sprintf(format, args...)) }
		if inst := h.Instance; inst != nil {
			d.Pin = func(ctx context.Context, host string) ([]fountain.HostKey, error) {
				return slices.Clone(inst.HostKeys), nil
			}
			// Kept keys serve while Lightsail reports none (a booting
			// instance); with none kept either, refuse.
			d.RefuseFirstUse = &fountain.Error{Code: fountain.EUPSTREAM,
				Message: fmt.Sprintf("Lightsail reports no SSH host keys for instance %s (it is %s), so its host key cannot be verified", inst.Name, orUnknown(inst.State)),
				Hint:    "wait until the instance runs and try again"}
		}
		c, err := d.Dial(ctx, ssh.Target{Address: h.Address, Port: h.Port, User: h.User, Signer: h.Signer, KeyName: h.ID.KeyName(h.Port)})
		if err != nil {
			return fountain.StepResult{}, err
		}
		if e.Dialed != nil {
			e.Dialed()
		}
		client = c
		k := c.HostKey()
		return fountain.StepResult{Output: fmt.Sprintf("host key %s %s (%s)", k.Algorithm, k.FingerprintSHA256, k.Source)}, nil
	})
	return client, err
}

// standInsReady waits for the sandbox's stand-ins, as a recorded step.
func (e *Engine) standInsReady(ctx context.Context, rec fountain.Recorder, what string) error {
	if e.StandInsReady == nil {
		return nil
	}
	return rec.Step(ctx, "sandbox stand-in for "+what+" published", func(ctx context.Context) (fountain.StepResult, error) {
		return fountain.StepResult{Output: "the sandbox serves a stand-in for " + what + " under its real name"}, e.StandInsReady(ctx)
	})
}
