package sandbox

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"golang.org/x/crypto/ssh"
)

// Host is a running sandbox host as the Lightsail emulator sees it.
type Host struct {
	// PublicIP is the host's public address: an address of this machine
	// (the gateway of a bridge network of the host's own, see public.go),
	// not loopback, where every port in HostPorts, including SSH on 22, is
	// published. This machine, every sandbox host and the containers on
	// them reach the host there, as instances reach each other's public IP.
	PublicIP string
	// PrivateIP is the host's address on the sandbox network.
	PrivateIP string
	// HostKeys are the host's real SSH host public keys, for pinning.
	HostKeys []HostKey
}

// HostKey is one SSH host public key.
type HostKey struct {
	Algorithm string // e.g. ssh-ed25519
	PublicKey string // base64 wire blob, as in authorized_keys
}

// AuthorizedLine returns the key as "algorithm base64".
func (k HostKey) AuthorizedLine() string { return k.Algorithm + " " + k.PublicKey }

// KnownHostsLines renders keys as known_hosts lines for addr (port 22).
func KnownHostsLines(addr string, keys []HostKey) string {
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s %s\n", addr, k.AuthorizedLine())
	}
	return b.String()
}

func (s *Sandbox) containerName(name string) string { return s.ns + "-" + shortName(name) }
func (s *Sandbox) volumeName(name string) string    { return s.ns + "-" + shortName(name) + "-docker" }

// shortName keeps Docker resource names short enough for the volume
// driver's directory names: an instance name (up to 255 characters) longer
// than 64 becomes its first 48 characters and a hash of the whole. The full
// name is always in the instance label, which is how hosts are found.
func shortName(name string) string {
	if len(name) <= 64 {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	return strings.TrimRight(name[:48], "-_.") + "-" + hex.EncodeToString(sum[:6])
}

// prepare builds (or finds) the flavour's host image and the network.
func (s *Sandbox) prepare(ctx context.Context, flavour Flavour) (ImageInfo, netip.Addr, error) {
	s.mu.Lock()
	img, ok := s.images[flavour]
	s.mu.Unlock()
	if !ok {
		var err error
		if img, err = s.EnsureImage(ctx, flavour); err != nil {
			return ImageInfo{}, netip.Addr{}, err
		}
		s.mu.Lock()
		s.images[flavour] = img
		s.mu.Unlock()
	}
	gw, err := s.ensureNetwork(ctx)
	if err == nil {
		s.ensureGateway(gw) // the hosts' apt proxy and TLS names
	}
	return img, gw, err
}

// HostOptions are per-host choices for CreateHostWith.
type HostOptions struct {
	// Flavour of the host image (default: Config.Flavour).
	Flavour Flavour
	// AuthorizedKeys are extra authorized_keys lines for the ubuntu user
	// (e.g. a Lightsail key pair's public key), besides the sandbox key.
	AuthorizedKeys []string
	// MemoryMB limits the host's memory like its Lightsail bundle's RAM
	// (a container memory limit, no swap); 0 is no limit.
	MemoryMB int

	// fromSnapshot, set by CreateHostFromSnapshot, names the snapshot the
	// host's disk is copied from.
	fromSnapshot string
}

// CreateHost creates and boots a new host and returns once its sshd
// answers, with its real host keys.
func (s *Sandbox) CreateHost(ctx context.Context, name string) (Host, error) {
	return s.CreateHostWith(ctx, name, HostOptions{})
}

// CreateHostWith is CreateHost with per-host options.
func (s *Sandbox) CreateHostWith(ctx context.Context, name string, opts HostOptions) (Host, error) {
	if opts.Flavour == "" {
		opts.Flavour = s.cfg.Flavour
	}
	for _, k := range opts.AuthorizedKeys {
		// One key per entry: a newline would smuggle in more lines.
		if _, _, _, rest, err := ssh.ParseAuthorizedKey([]byte(k)); err != nil || len(strings.TrimSpace(string(rest))) > 0 || strings.ContainsAny(k, "\r\n") {
			return Host{}, fmt.Errorf("create host %s: an authorized key must be exactly one authorized_keys line", name)
		}
	}
	if !hostNameRE.MatchString(name) {
		return Host{}, fmt.Errorf("create host %q: %w", name, ErrInvalidName)
	}
	if opts.MemoryMB < 0 || (opts.MemoryMB > 0 && opts.MemoryMB < MinMemoryMB) {
		return Host{}, fmt.Errorf("create host %s: memory %d MB: want 0 (no limit) or at least %d", name, opts.MemoryMB, MinMemoryMB)
	}
	img, gw, err := s.prepare(ctx, opts.Flavour)
	if err != nil {
		return Host{}, fmt.Errorf("create host %s: %w", name, err)
	}
	if opts.fromSnapshot != "" {
		l := s.snapLock(opts.fromSnapshot)
		l.RLock()
		defer l.RUnlock()
		if img.Tag, err = s.snapshotImage(ctx, opts.fromSnapshot); err != nil {
			return Host{}, fmt.Errorf("create host %s: %w", name, err)
		}
	}
	id, addr, err := s.createContainer(ctx, name, img, gw, opts)
	if err != nil {
		return Host{}, fmt.Errorf("create host %s: %w", name, err)
	}
	if _, err := s.docker.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		s.removeHost(context.WithoutCancel(ctx), id, name)
		return Host{}, fmt.Errorf("create host %s: start: %w", name, portTakenHint(err))
	}
	h, err := s.waitReady(ctx, id, addr)
	if err != nil {
		s.removeHost(context.WithoutCancel(ctx), id, name)
		return Host{}, fmt.Errorf("create host %s: %w", name, err)
	}
	return h, nil
}

// createContainer makes the host's public network (its public address)
// and creates (not starts) the host container and its Docker volume, then
// installs the sandbox key, the CA and the apt proxy configuration
// (hostFiles).
func (s *Sandbox) createContainer(ctx context.Context, name string, img ImageInfo, gw netip.Addr, opts HostOptions) (string, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.findHost(ctx, name); err == nil {
		return "", "", ErrExists
	} else if !errors.Is(err, ErrNotFound) {
		return "", "", err
	}
	hostIP, block, err := s.createPublic(ctx, name)
	if err != nil {
		return "", "", err
	}
	addr := hostIP.String()
	vol := s.volumeName(name)
	if _, err := s.docker.VolumeCreate(ctx, client.VolumeCreateOptions{
		Name: vol, Labels: s.labels("volume", LabelInstance, name),
	}); err != nil {
		s.removePublic(context.WithoutCancel(ctx), name)
		return "", "", fmt.Errorf("create volume %s: %w", vol, err)
	}
	if opts.fromSnapshot != "" {
		helper, err := s.runHelper(ctx, img.Tag, "cp -a /from/. /to/", s.snapshotVolumeName(opts.fromSnapshot), vol)
		if helper != "" {
			_ = s.removeContainer(context.WithoutCancel(ctx), helper)
		}
		if err != nil {
			s.removeVolume(context.WithoutCancel(ctx), vol)
			s.removePublic(context.WithoutCancel(ctx), name)
			return "", "", fmt.Errorf("copy snapshot %s: %w", opts.fromSnapshot, err)
		}
	}
	exposed := network.PortSet{}
	bindings := network.PortMap{}
	for _, p := range HostPorts {
		port := network.MustParsePort(fmt.Sprintf("%d/tcp", p))
		exposed[port] = struct{}{}
		bindings[port] = []network.PortBinding{{HostIP: hostIP, HostPort: strconv.Itoa(int(p))}}
	}
	res, err := s.docker.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name: s.containerName(name),
		Config: &container.Config{
			Image:        img.Tag,
			Hostname:     hostname(name),
			Env:          []string{"container=docker"},
			ExposedPorts: exposed,
			Labels:       s.labels("host", LabelInstance, name, LabelAddress, addr, LabelBlock, block.String()),
		},
		HostConfig: &container.HostConfig{
			CapAdd:        []string{"SYS_ADMIN", "NET_ADMIN"},
			SecurityOpt:   []string{"seccomp=unconfined", "apparmor=unconfined"},
			MaskedPaths:   []string{}, // --security-opt systempaths=unconfined
			ReadonlyPaths: []string{},
			CgroupnsMode:  container.CgroupnsModeHost,
			Binds:         []string{"/sys/fs/cgroup:/sys/fs/cgroup:rw"},
			Tmpfs:         map[string]string{"/run": "", "/run/lock": ""},
			Mounts:        []mount.Mount{{Type: mount.TypeVolume, Source: vol, Target: "/var/lib/docker"}},
			PortBindings:  bindings,
			ExtraHosts:    s.extraHosts(gw),
			Resources:     memoryLimit(opts.MemoryMB),
			NetworkMode:   container.NetworkMode(s.networkName()),
			RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyUnlessStopped},
		},
	})
	if err != nil {
		s.docker.VolumeRemove(context.WithoutCancel(ctx), vol, client.VolumeRemoveOptions{Force: true})
		s.removePublic(context.WithoutCancel(ctx), name)
		if isConflict(err) {
			return "", "", fmt.Errorf("%w (container %s)", ErrExists, s.containerName(name))
		}
		return "", "", fmt.Errorf("create container: %w", err)
	}
	if err := s.installKeys(ctx, res.ID, opts.AuthorizedKeys); err != nil {
		s.removeHost(context.WithoutCancel(ctx), res.ID, name)
		return "", "", err
	}
	if err := s.installHostFiles(ctx, res.ID); err != nil {
		s.removeHost(context.WithoutCancel(ctx), res.ID, name)
		return "", "", err
	}
	return res.ID, addr, nil
}

// installKeys writes the sandbox public key (and extra) to ubuntu's
// authorized_keys before the first boot.
func (s *Sandbox) installKeys(ctx context.Context, id string, extra []string) error {
	body := s.key.AuthorizedKey + "\n"
	for _, k := range extra {
		body += strings.TrimSpace(k) + "\n"
	}
	tb, err := makeTar([]tarFile{
		{Name: "home/ubuntu/.ssh", Mode: 0o700, UID: 1000, GID: 1000, Dir: true},
		{Name: "home/ubuntu/.ssh/authorized_keys", Mode: 0o600, UID: 1000, GID: 1000, Body: []byte(body)},
	})
	if err != nil {
		return fmt.Errorf("install key: %w", err)
	}
	if _, err := s.docker.CopyToContainer(ctx, id, client.CopyToContainerOptions{DestinationPath: "/", Content: strings.NewReader(string(tb))}); err != nil {
		return fmt.Errorf("install key: %w", err)
	}
	return nil
}

// portTakenHint explains a start refused because a published port is
// taken: something on this machine listens on every address (0.0.0.0) on
// one of HostPorts, which Docker cannot publish beside.
func portTakenHint(err error) error {
	m := err.Error()
	if strings.Contains(m, "address already in use") || strings.Contains(m, "port is already allocated") {
		return fmt.Errorf("%w (a process of this machine listens on all addresses on one of the ports %v, which every sandbox host publishes)", err, HostPorts)
	}
	return err
}

// hostname turns an instance name into a valid hostname.
// hostname makes a valid host name (a DNS label: at most 63 characters of
// letters, digits and '-') from an instance name, which Lightsail allows to
// be up to 255 characters with '_' and '.'.
func hostname(name string) string {
	h := strings.Map(func(r rune) rune {
		if r == '_' || r == '.' {
			return '-'
		}
		return r
	}, name)
	if len(h) > 63 {
		h = h[:63]
	}
	return strings.Trim(h, "-")
}

// findHost returns the container of the named host in this namespace.
func (s *Sandbox) findHost(ctx context.Context, name string) (container.Summary, error) {
	list, err := s.docker.ContainerList(ctx, client.ContainerListOptions{
		All: true, Filters: s.filters(LabelKind+"=host", LabelInstance+"="+name),
	})
	if err != nil {
		return container.Summary{}, fmt.Errorf("find host %s: %w", name, err)
	}
	if len(list.Items) == 0 {
		return container.Summary{}, fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	return list.Items[0], nil
}

// waitReady waits until the host's sshd sends its banner on addr:22, then
// reads the host keys. It fails early if the container stops.
func (s *Sandbox) waitReady(ctx context.Context, id, addr string) (Host, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.BootTimeout)
	defer cancel()
	target := net.JoinHostPort(addr, "22")
	var lastErr error
	for i := 0; ; i++ {
		if lastErr = readBanner(ctx, target); lastErr == nil {
			break
		}
		if i%10 == 9 {
			if err := s.checkRunning(ctx, id); err != nil {
				return Host{}, err
			}
		}
		select {
		case <-ctx.Done():
			return Host{}, fmt.Errorf("sshd on %s did not answer within %s: %w (last: %v)", target, s.cfg.BootTimeout, ctx.Err(), lastErr)
		case <-time.After(200 * time.Millisecond):
		}
	}
	return s.describe(ctx, id, addr)
}

// readyScript prints a booted host's public host keys. While the host
// boots, /run/nologin (systemd-tmpfiles makes it, systemd-user-sessions
// removes it at the end of boot) makes pam_nologin refuse every login but
// root's, and sshd answers that as a failed authentication: the host is
// not ready until it is gone.
const readyScript = `if [ -e /run/nologin ]; then echo "logins are not allowed yet (/run/nologin: the host is booting)" >&2; exit 1; fi; cat /etc/ssh/ssh_host_*_key.pub`

// describe returns the Host of a running container once it lets users
// log in, reading its host keys.
func (s *Sandbox) describe(ctx context.Context, id, addr string) (Host, error) {
	h := Host{PublicIP: addr}
	insp, err := s.docker.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return Host{}, fmt.Errorf("inspect: %w", err)
	}
	if ns := insp.Container.NetworkSettings; ns != nil {
		if ep := ns.Networks[s.networkName()]; ep != nil && ep.IPAddress.IsValid() {
			h.PrivateIP = ep.IPAddress.String()
		}
	}
	last := "no host keys yet"
	for {
		res, err := s.exec(ctx, id, "sh", "-c", readyScript)
		if err != nil && ctx.Err() == nil {
			return Host{}, fmt.Errorf("read host keys: %w", err)
		}
		if err == nil {
			h.HostKeys = parseHostKeys(res.Stdout)
			if res.ExitCode == 0 && len(h.HostKeys) > 0 {
				return h, nil
			}
			if e := strings.TrimSpace(res.Stderr); e != "" {
				last = e
			}
		}
		select {
		case <-ctx.Done():
			return Host{}, fmt.Errorf("host not ready: %s: %w", last, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func parseHostKeys(out string) []HostKey {
	var keys []HostKey
	for _, line := range strings.Split(out, "\n") {
		pk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
		if err != nil {
			continue
		}
		f := strings.Fields(line)
		keys = append(keys, HostKey{Algorithm: pk.Type(), PublicKey: f[1]})
	}
	return keys
}

// readBanner connects to target and reads the SSH identification line.
// Docker's port proxy accepts connections even when nothing listens
// inside, so only a banner proves sshd is up.
func readBanner(ctx context.Context, target string) error {
	d := net.Dialer{Timeout: 2 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", target)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(3 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return fmt.Errorf("no banner: %w", err)
	}
	if !strings.HasPrefix(line, "SSH-") {
		return fmt.Errorf("unexpected banner %q", strings.TrimSpace(line))
	}
	return nil
}

func (s *Sandbox) checkRunning(ctx context.Context, id string) error {
	insp, err := s.docker.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return fmt.Errorf("inspect: %w", err)
	}
	st := insp.Container.State
	if st != nil && !st.Running {
		logs := ""
		if r, err := s.docker.ContainerLogs(ctx, id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Tail: "20"}); err == nil {
			var b strings.Builder
			stdcopy.StdCopy(&b, &b, io.LimitReader(r, 8192))
			r.Close()
			logs = b.String()
		}
		return fmt.Errorf("container stopped while booting (status %s, exit %d %s): %s", st.Status, st.ExitCode, st.Error, logs)
	}
	return nil
}

// StartHost starts a stopped host (a no-op for a running one) and waits
// until it answers SSH. Its disk and host keys are those it had.
func (s *Sandbox) StartHost(ctx context.Context, name string) (Host, error) {
	c, err := s.findHost(ctx, name)
	if err != nil {
		return Host{}, fmt.Errorf("start host: %w", err)
	}
	if c.State != container.StateRunning {
		if err := s.ensurePublic(ctx, name, c.Labels[LabelAddress], c.Labels[LabelBlock]); err != nil {
			return Host{}, fmt.Errorf("start host %s: %w", name, err)
		}
		if _, err := s.docker.ContainerStart(ctx, c.ID, client.ContainerStartOptions{}); err != nil {
			return Host{}, fmt.Errorf("start host %s: %w", name, portTakenHint(err))
		}
	}
	h, err := s.waitReady(ctx, c.ID, c.Labels[LabelAddress])
	if err != nil {
		return Host{}, fmt.Errorf("start host %s: %w", name, err)
	}
	return h, nil
}

// stopTimeout is how long systemd gets to shut down before a kill.
const stopTimeout = 20

// StopHost shuts the host down (systemd gets SIGRTMIN+3). Its container
// and volume stay, so a later StartHost resumes the same disk.
func (s *Sandbox) StopHost(ctx context.Context, name string) error {
	c, err := s.findHost(ctx, name)
	if err != nil {
		return fmt.Errorf("stop host: %w", err)
	}
	t := stopTimeout
	if _, err := s.docker.ContainerStop(ctx, c.ID, client.ContainerStopOptions{Timeout: &t}); err != nil {
		return fmt.Errorf("stop host %s: %w", name, err)
	}
	return nil
}

// RebootHost restarts the host's container (disk kept) and waits until
// it answers SSH again.
func (s *Sandbox) RebootHost(ctx context.Context, name string) error {
	c, err := s.findHost(ctx, name)
	if err != nil {
		return fmt.Errorf("reboot host: %w", err)
	}
	if err := s.ensurePublic(ctx, name, c.Labels[LabelAddress], c.Labels[LabelBlock]); err != nil {
		return fmt.Errorf("reboot host %s: %w", name, err)
	}
	t := stopTimeout
	if _, err := s.docker.ContainerRestart(ctx, c.ID, client.ContainerRestartOptions{Timeout: &t}); err != nil {
		return fmt.Errorf("reboot host %s: %w", name, err)
	}
	if _, err := s.waitReady(ctx, c.ID, c.Labels[LabelAddress]); err != nil {
		return fmt.Errorf("reboot host %s: %w", name, err)
	}
	return nil
}

// DeleteHost removes the host's container and its volume.
func (s *Sandbox) DeleteHost(ctx context.Context, name string) error {
	c, err := s.findHost(ctx, name)
	if errors.Is(err, ErrNotFound) {
		// A crash may have left the volume or the public network behind;
		// remove them all the same.
		_, verr := s.docker.VolumeRemove(ctx, s.volumeName(name), client.VolumeRemoveOptions{})
		if perr := s.removePublic(ctx, name); perr != nil {
			return fmt.Errorf("delete host %s: %w", name, perr)
		}
		if verr == nil {
			return nil
		}
		return fmt.Errorf("delete host: %w", err)
	} else if err != nil {
		return fmt.Errorf("delete host: %w", err)
	}
	if err := s.removeHost(ctx, c.ID, name); err != nil {
		return fmt.Errorf("delete host %s: %w", name, err)
	}
	return nil
}

// removeHost removes a host's container, volume and public network, and
// returns once all are gone (waiting for a removal already in progress
// elsewhere).
func (s *Sandbox) removeHost(ctx context.Context, id, name string) error {
	if err := s.removeContainer(ctx, id); err != nil {
		return err
	}
	s.pruneSnapshotImages(ctx)
	return errors.Join(s.removeVolume(ctx, s.volumeName(name)), s.removePublic(ctx, name))
}
