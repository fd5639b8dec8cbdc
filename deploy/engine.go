package deploy

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
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
	HostKeys  []fountain.HostKey // host is "address:22"
}

// Instances looks up Lightsail instances (the Lightsail adapter).
type Instances interface {
	DefaultRegion() string
	// FindInstance returns the instance named name, or ENOTFOUND.
	FindInstance(ctx context.Context, region, name string) (*Instance, error)
	// InstanceByAddress returns the instance whose public or private
	// address is addr, or nil if Fountain sees none.
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
	Address  string
	Port     int
	User     string
	Signer   ssh.Signer
	Instance *Instance // the Lightsail instance behind the address, if known
	// IP is the address a DNS name resolved to (the address itself for an
	// IP): the host's locks and its Lightsail instance go by it.
	IP netip.Addr
}

// HostPort is "address:port".
func (h *Host) HostPort() string { return net.JoinHostPort(h.Address, strconv.Itoa(h.Port)) }

// Locks are the resources an operation on the host holds: the host, and
// the instance behind it, so that a deploy and a delete of the instance
// exclude each other.
func (h *Host) Locks() []string {
	addr := h.Address
	if h.IP.IsValid() {
		addr = h.IP.String() // a DNS name and its address are one host
	}
	locks := []string{"host:" + addr}
	if h.Instance != nil {
		locks = append(locks, "instance:"+h.Instance.Region+"/"+h.Instance.Name)
	}
	return locks
}

// Target names the host for people: "ubuntu@203.0.113.7 (web-1)".
func (h *Host) Target() string {
	t := h.Address
	if h.Instance != nil {
		t += " (" + h.Instance.Name + ")"
	}
	return t
}

// Resolve finds the host a validated request names: its address (looked
// up for instance_name), the Lightsail instance behind it if Fountain sees
// one, and the key that logs in. It reads (Lightsail, the key file) but
// changes nothing; its errors are the caller's (4xx) or Lightsail's.
func (e *Engine) Resolve(ctx context.Context, in HostInput) (*Host, error) {
	policy := e.Policy()
	if err := in.Admit(policy); err != nil {
		return nil, err
	}
	h := &Host{Address: in.InstanceIP, Port: in.SSHPort, User: in.SSHUser}
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
		if inst.PublicIP == "" {
			return nil, &fountain.Error{Code: fountain.ECONFLICT, Message: fmt.Sprintf("instance %s has no public address (it is %s)", inst.Name, inst.State),
				Hint: "start it: fountain instances start " + inst.Name}
		}
		h.Address, h.Instance = inst.PublicIP, inst
		if a, err := netip.ParseAddr(inst.PublicIP); err == nil {
			if err := policy.CheckAddr("instance_name", "instance "+inst.Name+"'s address "+inst.PublicIP, a); err != nil {
				return nil, err
			}
		}
	}
	ip, err := e.lookup(ctx, h.Address, policy)
	if err != nil {
		return nil, err
	}
	h.IP = ip
	if h.Instance == nil && e.Instances != nil {
		inst, err := e.Instances.InstanceByAddress(ctx, region, ip.String())
		if err != nil {
			return nil, err
		}
		h.Instance = inst
	}
	signer, err := e.signer(ctx, in, region)
	if err != nil {
		return nil, err
	}
	h.Signer = signer
	return h, nil
}

// lookup returns the address of a host: an IP as it is, a DNS name
// resolved (its first address). A name any of whose addresses the policy
// refuses is refused, before anything dials it.
func (e *Engine) lookup(ctx context.Context, host string, policy Policy) (netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return a, nil
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
		return netip.Addr{}, fountain.Invalid("instance_ip", "%q does not resolve: %s", host, msg)
	}
	for _, a := range addrs {
		if err := policy.CheckAddr("instance_ip", short(host)+" resolves to "+a.Unmap().String()+", which", a); err != nil {
			return netip.Addr{}, err
		}
	}
	return addrs[0].Unmap(), nil
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
// step: the host key is verified (pinned from Lightsail for a known
// instance, else trusted on first use), and the log says which.
func (e *Engine) connect(ctx context.Context, rec fountain.Recorder, h *Host) (*ssh.Client, error) {
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
				if len(inst.HostKeys) == 0 {
					// Never trust on first use an instance Lightsail knows.
					return nil, &fountain.Error{Code: fountain.EUPSTREAM,
						Message: fmt.Sprintf("Lightsail reports no SSH host keys for instance %s (it is %s), so its host key cannot be verified", inst.Name, orUnknown(inst.State)),
						Hint:    "wait until the instance runs and try again"}
				}
				keys := make([]fountain.HostKey, 0, len(inst.HostKeys))
				for _, k := range inst.HostKeys {
					k.Host = host
					k.Source = fountain.HostKeySourceLightsail
					keys = append(keys, k)
				}
				return keys, nil
			}
		}
		c, err := d.Dial(ctx, ssh.Target{Address: h.Address, Port: h.Port, User: h.User, Signer: h.Signer})
		if err != nil {
			return fountain.StepResult{}, err
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
