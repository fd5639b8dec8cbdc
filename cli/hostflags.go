package cli

import (
	"net/url"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fountainai/fountain/deploy"
)

// hostFlags name the host a deploy command acts on and how Fountain logs
// in: --host or --instance, with --region, --key, --user and --ssh-port.
// Every deploy, apps and opensearch verb has them.
type hostFlags struct {
	Host      string
	Instances []string
	Region    string
	Key       string
	User      string
	SSHPort   int
	// GatewayName names a Kong gateway of several instances (the Kong
	// commands' --gateway-name).
	GatewayName string
	// multi says the command takes several --instance (an app's rollout,
	// a gateway of several Kong nodes).
	multi string
}

// add adds the host flags to cmd.
func (h *hostFlags) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&h.Host, "host", "", "the host's `address` (IP or DNS name); needs --key")
	help := "a Lightsail instance `name`, instead of --host (its address and host keys come from Lightsail)"
	if h.multi != "" {
		help += "; repeatable: " + h.multi
	}
	f.StringArrayVar(&h.Instances, "instance", nil, help)
	f.StringVar(&h.Region, "region", "", "the instance's AWS `region` (default: the server's)")
	f.StringVar(&h.Key, "key", "", "the private key that logs in: a `path` on the server's machine, inside an allowed key directory\n(default with --instance: the region's default key pair)")
	f.StringVar(&h.User, "user", "", "the SSH login `user` (default ubuntu)")
	f.IntVar(&h.SSHPort, "ssh-port", 0, "the SSH `port` (default 22)")
}

// hostFlagsHelp is the paragraph the deploy commands' help shares.
const hostFlagsHelp = "Name the host with --host ADDRESS (and --key PATH), or with --instance NAME (its address, host keys\n" +
	"and, without --key, the region's default key pair come from Lightsail). The key path is read by the\n" +
	"server: it must be inside one of its allowed key directories (FOUNTAIN_SSH_KEY_DIRS; by default\n" +
	"<data dir>/keys and ~/.ssh); a relative path is made absolute here."

// input returns the API's host fields, or a usage error when neither or
// both of --host and --instance are given. A relative --key is made
// absolute (the server resolves it), and ~/ is the user's home.
func (h *hostFlags) input(cmd *cobra.Command, getenv func(string) string) (deploy.HostInput, error) {
	in, names, err := h.inputs(cmd, getenv)
	if err == nil && len(names) > 0 {
		return in, usagef(cmd, "this command acts on one host: give one --instance")
	}
	return in, err
}

// addGatewayName adds --gateway-name, the name of a Kong gateway of
// several instances.
func (h *hostFlags) addGatewayName(cmd *cobra.Command) {
	cmd.Flags().StringVar(&h.GatewayName, "gateway-name", "", "the `name` of a gateway of several --instance (its one version history; default kong)")
}

// inputs is input for a command that takes several --instance: with
// more than one, the names come apart (instance_names) and the host
// fields hold the rest.
func (h *hostFlags) inputs(cmd *cobra.Command, getenv func(string) string) (deploy.HostInput, []string, error) {
	instance := ""
	if len(h.Instances) == 1 {
		instance = h.Instances[0]
	}
	switch {
	case h.Host == "" && len(h.Instances) == 0:
		return deploy.HostInput{}, nil, usagef(cmd, "name the host: --host ADDRESS or --instance NAME")
	case h.Host != "" && len(h.Instances) > 0:
		return deploy.HostInput{}, nil, usagef(cmd, "give --host or --instance, not both")
	case h.SSHPort < 0 || h.SSHPort > 65535:
		return deploy.HostInput{}, nil, usagef(cmd, "--ssh-port %d: want a port, 1-65535", h.SSHPort)
	}
	key := h.Key
	if rest, ok := strings.CutPrefix(key, "~/"); ok && getenv("HOME") != "" {
		key = filepath.Join(getenv("HOME"), rest)
	}
	if key != "" && !filepath.IsAbs(key) {
		abs, err := filepath.Abs(key)
		if err != nil {
			return deploy.HostInput{}, nil, usagef(cmd, "--key %s: %v", key, err)
		}
		key = abs
	}
	in := deploy.HostInput{InstanceIP: h.Host, InstanceName: instance, Region: h.Region,
		SSHKeyPath: key, SSHUser: h.User, SSHPort: h.SSHPort}
	if len(h.Instances) > 1 {
		return in, h.Instances, nil
	}
	return in, nil, nil
}

// hostQuery is a host in the query string of a read (GET) route.
func hostQuery(in deploy.HostInput) url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"instance_ip": in.InstanceIP, "instance_name": in.InstanceName,
		"region": in.Region, "ssh_key_path": in.SSHKeyPath, "ssh_user": in.SSHUser} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if in.SSHPort != 0 {
		q.Set("ssh_port", strconv.Itoa(in.SSHPort))
	}
	return q
}

// hostReadFlags are the flags of a read on a host: the host, and --json.
type hostReadFlags struct {
	hostFlags
	JSON bool
}

// add adds the host flags and --json (described by jsonHelp, or the usual
// words when empty).
func (h *hostReadFlags) add(cmd *cobra.Command, jsonHelp string) {
	h.hostFlags.add(cmd)
	if jsonHelp == "" {
		jsonHelp = "print the API's JSON answer"
	}
	cmd.Flags().BoolVar(&h.JSON, "json", false, jsonHelp)
}

// hostGet reads path for the host the flags name, with the extra query
// values, decoding the answer into out; raw is the answer as it came.
func (a *app) hostGet(cmd *cobra.Command, h *hostFlags, path string, extra url.Values, out any) (raw []byte, err error) {
	host, names, err := h.inputs(cmd, a.getenv)
	if err != nil {
		return nil, err
	}
	if len(names) > 0 && h.multi == "" {
		return nil, usagef(cmd, "this command acts on one host: give one --instance")
	}
	c, err := a.newClient()
	if err != nil {
		return nil, err
	}
	q := hostQuery(host)
	if len(names) > 0 {
		q.Set("instance_names", strings.Join(names, ","))
	}
	if h.GatewayName != "" {
		q.Set("gateway", h.GatewayName)
	}
	for k, v := range extra {
		q[k] = v
	}
	return c.get(cmd.Context(), path, q, out)
}
