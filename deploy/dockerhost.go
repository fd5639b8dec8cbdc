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
// docker.io, the login user in the docker group) by two plan steps, then
// reached through the SSH connection's streamlocal channel to the socket.
type dockerHost struct {
	ssh  *ssh.Client
	user string
	rec  fountain.Recorder

	facts  *hostFacts     // what the host had when first looked at
	api    *client.Client // nil until the engine is reachable
	groups bool           // the session's groups include docker
}

// hostFacts is what one read-only probe of the host tells.
type hostFacts struct {
	DockerInstalled bool
	DockerActive    bool
	InGroup         bool // /etc/group lists the user in docker
	SessionGroup    bool // the current session has the docker group
	Root            bool
	MemTotalKiB     int64
	OS              string
}

// probeScript prints one fact per line; it changes nothing. It is a
// constant: no request value goes into it.
const probeScript = `command -v dockerd >/dev/null 2>&1 && echo docker=installed
systemctl is-active --quiet docker 2>/dev/null && echo docker=active
id -u | sed 's/^/uid=/'
id -nG | tr ' ' '\n' | grep -qx docker && echo session=docker
id -nG "$(id -un)" | tr ' ' '\n' | grep -qx docker && echo group=docker
sed -n 's/^MemTotal: *\([0-9]*\) kB/mem=\1/p' /proc/meminfo
. /etc/os-release 2>/dev/null && echo "os=$PRETTY_NAME"
true`

// probe gathers the host's facts once per operation.
func probe(ctx context.Context, c *ssh.Client) (*hostFacts, error) {
	res, err := c.Run(ctx, ssh.Cmd{Name: "look at the host", Script: probeScript, Timeout: 30 * time.Second})
	if err != nil {
		return nil, err
	}
	f := &hostFacts{}
	for _, line := range strings.Split(res.Stdout, "\n") {
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
	return f, nil
}

// installDockerScript installs and starts Ubuntu's (or Debian's) docker.io.
// It waits for apt's lock rather than failing on a host that is still
// running its first-boot updates.
const installDockerScript = `set -e
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=300 update -q
apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends docker.io
systemctl enable --now docker`

// setupSteps are the plan steps that make the host's Docker Engine usable
// by the login user: install it, then put the user in the docker group and
// reconnect so that the group applies.
func (d *dockerHost) setupSteps() fountain.Checks {
	return fountain.Checks{
		{
			Name: "Docker Engine installed and running",
			Check: func(ctx context.Context) (fountain.Need, error) {
				switch {
				case !d.facts.DockerInstalled:
					return fountain.Need{Change: true, Reason: "Docker is not installed (" + orUnknown(d.facts.OS) + ")"}, nil
				case !d.facts.DockerActive:
					return fountain.Need{Change: true, Reason: "Docker is installed but not running"}, nil
				}
				return fountain.Need{Reason: "docker.io is installed and running"}, nil
			},
			Apply: func(ctx context.Context, need fountain.Need) (fountain.StepResult, error) {
				_, err := d.ssh.Run(ctx, ssh.Cmd{Name: "install docker.io", Script: installDockerScript, Sudo: true,
					Timeout: 15 * time.Minute, OnLine: d.logLine})
				if err != nil {
					return fountain.StepResult{}, err
				}
				d.facts.DockerInstalled, d.facts.DockerActive = true, true
				return fountain.StepResult{Changed: true, Reason: need.Reason}, nil
			},
		},
		{
			Name: "login user may use Docker",
			Check: func(ctx context.Context) (fountain.Need, error) {
				switch {
				case d.facts.Root || d.facts.SessionGroup:
					return fountain.Need{Reason: d.user + " is in the docker group"}, nil
				case d.facts.InGroup:
					return fountain.Need{Change: true, Reason: d.user + " was added to the docker group; a new SSH connection applies it"}, nil
				}
				return fountain.Need{Change: true, Reason: d.user + " is not in the docker group"}, nil
			},
			Apply: func(ctx context.Context, need fountain.Need) (fountain.StepResult, error) {
				changed := false
				if !d.facts.InGroup {
					if _, err := d.ssh.Run(ctx, ssh.Cmd{Name: "add " + d.user + " to the docker group", Argv: []string{"usermod", "-aG", "docker", d.user},
						Sudo: true, Timeout: time.Minute, OnLine: d.logLine}); err != nil {
						return fountain.StepResult{}, err
					}
					d.facts.InGroup, changed = true, true
				}
				// Group membership applies to new sessions only.
				if err := d.ssh.Reconnect(ctx); err != nil {
					return fountain.StepResult{}, err
				}
				d.facts.SessionGroup = true
				return fountain.StepResult{Changed: changed, Output: "reconnected so that the docker group applies"}, nil
			},
		},
	}
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown OS"
	}
	return s
}

func (d *dockerHost) logLine(_, line string) { d.rec.Log(line) }

// ready reports whether the Docker Engine can be reached now (in a dry
// run on a fresh host it cannot: the steps that would set it up did not
// run).
func (d *dockerHost) ready() bool {
	return d.facts.DockerInstalled && d.facts.DockerActive && (d.facts.Root || d.facts.SessionGroup)
}

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

func (d *dockerHost) close() {
	if d.api != nil {
		d.api.Close()
	}
}
