package deploy

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/moby/moby/client"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/ssh"
)

// dockerSocket is where the Docker Engine API listens on a host.
const dockerSocket = "/var/run/docker.sock"

// dockerHost is a host's Docker Engine as a deploy uses it: set up (apt's
// docker.io, the login user in the docker group) by two plan changes,
// then reached through the SSH connection's streamlocal channel to the
// socket.
type dockerHost struct {
	ssh *ssh.Client
	rec fountain.Recorder
	api *client.Client // nil until the engine is reached
}

// HostFacts is what one read-only probe of a host tells.
type HostFacts struct {
	DockerInstalled bool
	DockerActive    bool
	InGroup         bool // /etc/group lists the user in docker
	SessionGroup    bool // the current session has the docker group
	Root            bool
	MemTotalKiB     int64
	OS              string
}

// DockerReady reports whether the login user can reach the Docker Engine
// now (on a fresh host it cannot: the changes that set it up come first).
func (f HostFacts) DockerReady() bool {
	return f.DockerInstalled && f.DockerActive && (f.Root || f.SessionGroup)
}

// probeScript prints one fact per line; it changes nothing. It is a
// constant: no request value goes into it.
const probeScript = `command -v dockerd >/dev/null 2>&1 && echo docker=installed
systemctl is-active --quiet docker 2>/dev/null && echo docker=active
echo "uid=$(id -u)"
for g in $(id -nG); do [ "$g" = docker ] && echo session=docker; done
for g in $(id -nG "$(id -un)"); do [ "$g" = docker ] && echo group=docker; done
while read -r k v _; do [ "$k" = MemTotal: ] && echo "mem=$v" && break; done </proc/meminfo
. /etc/os-release 2>/dev/null && echo "os=$PRETTY_NAME"
true`

// probe gathers the host's facts (once per host under ShareConnections).
func probe(ctx context.Context, c *ssh.Client) (HostFacts, error) {
	if s := sharedFrom(ctx); s != nil {
		return s.probe(ctx, c.User()+"@"+c.Identity(), func(ctx context.Context) (HostFacts, error) { return runProbe(ctx, c) })
	}
	return runProbe(ctx, c)
}

func runProbe(ctx context.Context, c *ssh.Client) (HostFacts, error) {
	res, err := c.Run(ctx, ssh.Cmd{Name: "look at the host", Script: probeScript, Timeout: 30 * time.Second})
	if err != nil {
		return HostFacts{}, err
	}
	return parseProbe(res.Stdout), nil
}

// parseProbe reads probeScript's output.
func parseProbe(out string) HostFacts {
	var f HostFacts
	for _, line := range strings.Split(out, "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(line), "=")
		switch k {
		case "docker":
			f.DockerInstalled = true
			f.DockerActive = f.DockerActive || v == "active"
		case "uid":
			f.Root = v == "0"
		case "session":
			f.SessionGroup = true
		case "group":
			f.InGroup = true
		case "mem":
			fmt.Sscan(v, &f.MemTotalKiB)
		case "os":
			f.OS = v
		}
	}
	return f
}

// installDockerScript installs and starts Ubuntu's (or Debian's) docker.io.
// It waits for apt's lock rather than failing on a host that is still
// running its first-boot updates.
const installDockerScript = `set -e
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=300 update -q
apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends docker.io
systemctl enable --now docker`

// installDocker is the command that installs Docker.
var installDocker = ssh.Cmd{Name: "install docker.io", Script: installDockerScript, Sudo: true, Timeout: 15 * time.Minute}

// joinDockerGroup puts User in the docker group (unless already there:
// Add false) and reconnects, so that the group applies.
type joinDockerGroup struct {
	User string
	Add  bool
}

// planDockerSetup are the changes that make the host's Docker Engine
// usable by the login user: install it, then put the user in the docker
// group and reconnect so that the group applies.
func planDockerSetup(user string, f HostFacts) []fountain.Change {
	install := fountain.Change{Name: "Docker Engine installed and running"}
	switch {
	case !f.DockerInstalled:
		install.Change, install.Reason = true, "Docker is not installed ("+orUnknown(f.OS)+")"
	case !f.DockerActive:
		install.Change, install.Reason = true, "Docker is installed but not running"
	default:
		install.Reason = "docker.io is installed and running"
	}
	if install.Change {
		install.Calls = []string{"ssh: sudo apt-get install docker.io; systemctl enable --now docker"}
		install.Effect = installDocker
	}
	group := fountain.Change{Name: "login user may use Docker"}
	switch {
	case f.Root || f.SessionGroup:
		group.Reason = user + " is in the docker group"
	case f.InGroup:
		group.Change, group.Reason = true, user+" was added to the docker group; a new SSH connection applies it"
		group.Calls = []string{"ssh: reconnect"}
		group.Effect = joinDockerGroup{User: user}
	default:
		group.Change, group.Reason = true, user+" is not in the docker group"
		group.Calls = []string{"ssh: sudo usermod -aG docker " + user, "ssh: reconnect"}
		group.Effect = joinDockerGroup{User: user, Add: true}
	}
	return []fountain.Change{install, group}
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown OS"
	}
	return s
}

func (d *dockerHost) logLine(_, line string) { d.rec.Log(line) }

// engine returns the Docker Engine API client, through the SSH connection.
func (d *dockerHost) engine(ctx context.Context) (*client.Client, error) {
	if d.api != nil {
		return d.api, nil
	}
	c, err := client.New(client.WithHost("unix://"+dockerSocket), client.WithDialContext(d.ssh.UnixDialer(dockerSocket)),
		client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	if _, err := c.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		c.Close()
		return nil, &fountain.Error{Code: fountain.EUPSTREAM, Message: "the Docker Engine on " + d.ssh.Host() + " does not answer", Err: err}
	}
	d.api = c
	return c, nil
}

// reconnect opens a new SSH connection (a new session, with the groups
// /etc/group gives it now); the Docker client is made anew after it.
func (d *dockerHost) reconnect(ctx context.Context) error {
	d.close()
	return d.ssh.Reconnect(ctx)
}

func (d *dockerHost) close() {
	if d.api != nil {
		d.api.Close()
		d.api = nil
	}
}
