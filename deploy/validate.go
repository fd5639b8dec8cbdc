package deploy

import (
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	"github.com/fountainai/fountain"
)

// HostInput names the host a deploy acts on and how to log in. Either
// instance_ip (an address; the design's field) or instance_name (a
// Lightsail instance, whose address Fountain looks up) is required.
type HostInput struct {
	InstanceIP   string `json:"instance_ip,omitempty" maxLength:"253" doc:"The host's address (an IP address or a DNS name). If it belongs to a Lightsail instance Fountain can see, its SSH host keys are pinned from Lightsail; otherwise the first key seen is trusted and recorded." example:"203.0.113.7"`
	InstanceName string `json:"instance_name,omitempty" maxLength:"255" doc:"A Lightsail instance to deploy onto, instead of instance_ip: its address and host keys come from Lightsail." example:"web-1"`
	Region       string `json:"region,omitempty" maxLength:"32" doc:"The instance's AWS region (default: the server's)." example:"eu-central-1"`
	SSHKeyPath   string `json:"ssh_key_path,omitempty" maxLength:"4096" doc:"The private key that logs in: a file inside an allowed key directory (FOUNTAIN_SSH_KEY_DIRS; by default <data dir>/keys and ~/.ssh, and in sandbox mode the sandbox key directory), readable by its owner only. Default with instance_name: the region's Lightsail default key pair." example:"/root/.ssh/id_ed25519"`
	SSHUser      string `json:"ssh_user,omitempty" maxLength:"32" doc:"The login user (default ubuntu). Privileged steps run with sudo -n." example:"ubuntu"`
	SSHPort      int    `json:"ssh_port,omitempty" minimum:"0" maximum:"65535" doc:"The SSH port (default 22)."`
	DryRun       bool   `json:"dry_run,omitempty" doc:"Only check: report each step of the plan, whether it would change anything and why, and change nothing."`
}

var (
	// hostNameRE is a DNS name (RFC 1123 labels).
	hostNameRE = regexp.MustCompile(`^(?i:[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.(?i:[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?))*$`)
	// instanceNameRE is a Lightsail resource name.
	instanceNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,253}[A-Za-z0-9]$`)
	// userRE is a portable login name.
	userRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]{0,31}$`)
	// regionRE is an AWS region name; the Lightsail adapter checks it
	// against the real list.
	regionRE = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]$`)
)

// Validate checks the host fields without I/O and fills in defaults.
func (h *HostInput) Validate() error {
	h.InstanceIP = strings.TrimSpace(h.InstanceIP)
	switch {
	case h.InstanceIP == "" && h.InstanceName == "":
		return fountain.Invalid("instance_ip", "is required (or instance_name)")
	case h.InstanceIP != "" && h.InstanceName != "":
		return fountain.Invalid("instance_name", "give instance_ip or instance_name, not both")
	}
	if h.InstanceIP != "" {
		if a, err := netip.ParseAddr(h.InstanceIP); err == nil {
			// ::ffff:127.0.0.1 is 127.0.0.1: one address, one spelling.
			a = a.Unmap()
			if a.Zone() != "" {
				return fountain.Invalid("instance_ip", "%q is not a host address (no zone)", short(h.InstanceIP))
			}
			// What no server mode deploys to; loopback depends on the
			// mode (Policy).
			if why := addrProblem(a, true); why != "" {
				return fountain.Invalid("instance_ip", "%s %s", short(h.InstanceIP), why)
			}
			h.InstanceIP = a.String()
		} else if name := strings.TrimSuffix(strings.ToLower(h.InstanceIP), "."); !hostNameRE.MatchString(name) || strings.Trim(name, "0123456789.") == "" {
			return fountain.Invalid("instance_ip", "%q is not an IP address or a DNS name", short(h.InstanceIP))
		} else {
			// DNS names are case-insensitive, and "a.example." is "a.example":
			// one host, one spelling (its locks and its known host keys).
			h.InstanceIP = name
		}
	}
	if h.InstanceName != "" && !instanceNameRE.MatchString(h.InstanceName) {
		return fountain.Invalid("instance_name", "%q is not a Lightsail instance name", short(h.InstanceName))
	}
	if h.Region != "" && !regionRE.MatchString(h.Region) {
		return fountain.Invalid("region", "%q is not an AWS region name (like eu-central-1)", short(h.Region))
	}
	if h.SSHUser == "" {
		h.SSHUser = "ubuntu"
	}
	if !userRE.MatchString(h.SSHUser) {
		return fountain.Invalid("ssh_user", "%q is not a user name", short(h.SSHUser))
	}
	if h.SSHPort == 0 {
		h.SSHPort = 22
	}
	if strings.ContainsRune(h.SSHKeyPath, 0) {
		return fountain.Invalid("ssh_key_path", "must not contain NUL")
	}
	return nil
}

// Policy is what a server allows beyond a request's own validity, by how
// it runs: the checks that depend on it are done without I/O before a
// request touches a host (Admit), and again on the addresses a host
// resolves to (Engine.Resolve).
type Policy struct {
	// Sandbox says the hosts are the sandbox's, which live on this
	// machine: loopback addresses are hosts then, and only then.
	Sandbox bool
	// AllowHostBinds lets apps bind-mount the host's system directories
	// (/, /etc, the Docker socket, ...: --allow-host-binds).
	AllowHostBinds bool
	// Snapshots says Lightsail snapshots can be taken (snapshot_first).
	Snapshots bool
}

// Policy is the engine's.
func (e *Engine) Policy() Policy {
	return Policy{Sandbox: e.Sandbox, AllowHostBinds: e.AllowHostBinds, Snapshots: e.Snapshots != nil}
}

// addrProblem says why a is not an address to deploy to, or "". Loopback
// is this server's own machine: a host only when loopbackOK (sandbox
// mode). Unspecified, multicast, link-local, broadcast and 0.0.0.0/8
// addresses are never hosts: a dial to them retries for minutes while its
// log tells open, closed and filtered ports apart.
func addrProblem(a netip.Addr, loopbackOK bool) string {
	a = a.Unmap()
	switch {
	case a.IsLoopback():
		if loopbackOK {
			return ""
		}
		return "is a loopback address (this server's own machine), a host only in sandbox mode"
	case a.IsUnspecified():
		return "is the unspecified address, not a host"
	case a.IsMulticast():
		return "is a multicast address, not a host"
	case a.IsLinkLocalUnicast():
		return "is a link-local address, not a host Fountain deploys to"
	case a.Is4() && (a.As4()[0] == 0 || a == netip.AddrFrom4([4]byte{255, 255, 255, 255})):
		return "is not a host address"
	}
	return ""
}

// CheckAddr refuses, on field, an address the policy does not deploy to.
func (p Policy) CheckAddr(field, shown string, a netip.Addr) error {
	if why := addrProblem(a, p.Sandbox); why != "" {
		return fountain.Invalid(field, "%s %s", shown, why)
	}
	return nil
}

// Admit checks the host fields against the server's policy, without I/O:
// an address given as instance_ip (a DNS name is checked once resolved).
// Every request that acts on one host has this method.
func (h HostInput) Admit(p Policy) error {
	if a, err := netip.ParseAddr(h.InstanceIP); err == nil {
		return p.CheckAddr("instance_ip", short(h.InstanceIP), a)
	}
	return nil
}

// Admit checks the route's app host, if it names one by address, as
// HostInput.Admit checks the gateway's.
func (in *KongRouteInput) Admit(p Policy) error {
	if err := in.HostInput.Admit(p); err != nil {
		return err
	}
	if in.App != nil {
		if a, err := netip.ParseAddr(in.App.InstanceIP); err == nil {
			return p.CheckAddr("app.instance_ip", short(in.App.InstanceIP), a)
		}
	}
	return nil
}

// short cuts a value echoed in an error.
func short(s string) string {
	if len(s) > 64 {
		return s[:60] + "…"
	}
	return s
}

// NormalizeHostPort checks an SSH host as "address:port" (a bare address
// means port 22) and returns it in the form host keys are stored under.
func NormalizeHostPort(s string) (string, error) {
	host, port := strings.TrimSpace(s), "22"
	if h, p, err := net.SplitHostPort(host); err == nil {
		host, port = h, p
	}
	in := HostInput{InstanceIP: host}
	if err := in.Validate(); err != nil {
		return "", fountain.Invalid("host", "%q is not an address or address:port", short(s))
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return "", fountain.Invalid("host", "%q: the port must be 1-65535", short(s))
	}
	return net.JoinHostPort(in.InstanceIP, strconv.Itoa(n)), nil
}

// Host returns the host fields: every request that acts on one host
// embeds HostInput, and so has this method.
func (h HostInput) Host() HostInput { return h }

// Dry reports whether the request is a dry run.
func (h HostInput) Dry() bool { return h.DryRun }

// Secrets are the request's secret values (none in the host fields).
func (h HostInput) Secrets() []string { return nil }
