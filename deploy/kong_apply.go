package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/container"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/kong"
	"github.com/fountainai/fountain/ssh"
)

// kongExec observes a gateway (its Admin API through the SSH connection,
// its config file, Fountain's versions) and applies the effects of Kong
// plans there; Docker's effects (deploy-kong runs Kong as an app) go to
// its dockerExec. It lives for one operation.
type kongExec struct {
	g     *Gateway
	key   string     // the gateway's history key
	nodes []kongNode // node 0 is where deploy-kong runs Kong
	opID  string
	// docker runs deploy-kong's Docker effects (on node 0).
	docker *dockerExec

	version    int  // the version recorded last (0: none)
	adopted    bool // a config found on the host was recorded
	kongErrors []kong.FlattenedError
}

// kongNode is one node of the gateway and the operation's connection to
// it.
type kongNode struct {
	h *Host
	c *ssh.Client
}

// exec is the executor of Kong effects on the gateway's nodes, whose
// versions are kept under key.
func (g *Gateway) exec(key string, nodes []kongNode, rec fountain.Recorder) *kongExec {
	return &kongExec{g: g, key: key, nodes: nodes, opID: rec.ID()}
}

// connectNodes connects to each node of n (a recorded step each); the
// function returned closes the connections.
func (g *Gateway) connectNodes(ctx context.Context, rec fountain.Recorder, n Nodes) ([]kongNode, func(), error) {
	var nodes []kongNode
	closeAll := func() {
		for _, kn := range nodes {
			kn.c.Close()
		}
	}
	for _, h := range n.Hosts {
		c, err := g.e.connect(ctx, rec, h)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		nodes = append(nodes, kongNode{h: h, c: c})
	}
	return nodes, closeAll, nil
}

// kongAdmin is the Admin API client, through the SSH connection to the
// host's loopback.
func kongAdmin(c *ssh.Client) *kong.Client {
	return &kong.Client{HTTP: c.HTTPClient(kongAdminTimeout), BaseURL: "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(kongAdminPort))}
}

// observeDeploy reads what deploy-kong's plan needs: the host and Kong as
// a Docker app, Fountain's versions, the config file, and what the Admin
// API says (Kong's export only for a config Fountain has no version of
// that is not the file's).
func (k *kongExec) observeDeploy(ctx context.Context, in KongInput) (KongFacts, error) {
	var f KongFacts
	var err error
	if f.Versions, err = k.g.e.kongVersionsOf(ctx, k.key); err != nil {
		return f, err
	}
	if f.App, err = k.docker.observeApp(ctx, in.kongApp("")); err != nil {
		return f, err
	}
	c := k.nodes[0].c
	if f.File, err = readRemoteFileIfAny(ctx, c, KongConfigPath); err != nil && !errors.Is(err, errNoFile) {
		return f, err
	}
	admin := kongAdmin(c)
	st, err := admin.Status(ctx)
	if err != nil {
		return f, nil // Kong does not answer (not deployed yet, or stopped)
	}
	f.Admin = &KongAdminFacts{Hash: st.ConfigurationHash}
	if _, known := f.Versions.knows(st.ConfigurationHash); !known && !fileHolds(f.File, st.ConfigurationHash) {
		if text, err := admin.Config(ctx); err == nil {
			f.Admin.Export = text
		}
	}
	return f, nil
}

// observeChange reads what a config change's plan needs: Fountain's
// versions, and on each node what Kong runs (it must answer), its export
// when Fountain has no version of it (the first node's: the others'
// are never adopted), and the config file.
func (k *kongExec) observeChange(ctx context.Context) (KongChangeFacts, error) {
	var f KongChangeFacts
	var err error
	if f.Versions, err = k.g.e.kongVersionsOf(ctx, k.key); err != nil {
		return f, err
	}
	for i, n := range k.nodes {
		admin := kongAdmin(n.c)
		st, err := admin.Status(ctx)
		if err != nil {
			return f, kongUnreachable(n.h, err)
		}
		nf := KongNodeFacts{Node: nodeName(n.h), Admin: KongAdminFacts{Hash: st.ConfigurationHash}}
		if _, known := f.Versions.knows(st.ConfigurationHash); !known && i == 0 {
			if nf.Admin.Export, err = admin.Config(ctx); err != nil {
				return f, kongUnreachable(n.h, err)
			}
		}
		// A file that cannot be read is written again.
		nf.File, _ = readRemoteFileIfAny(ctx, n.c, KongConfigPath)
		if i == 0 {
			f.Admin, f.File = nf.Admin, nf.File
			if len(k.nodes) > 1 {
				f.Node = nf.Node
			}
			continue
		}
		f.Others = append(f.Others, nf)
	}
	return f, nil
}

// nodeName names a node in step names: its instance, else its address.
func nodeName(h *Host) string {
	if h.Instance != nil {
		return h.Instance.Name
	}
	return h.Address
}

// observeApps finds where an app Fountain deployed answers on each of its
// hosts: the host's private address, the port Kong is to send to, the
// health check it was deployed with. The app is on the gateway's first
// node unless the request names its hosts (reached with the same key).
func (k *kongExec) observeApps(ctx context.Context, rec fountain.Recorder, in KongRouteInput) ([]AppUpstreamFacts, error) {
	a := in.App
	hosts := a.hostInputs(in.HostInput)
	if hosts == nil {
		f, err := observeAppUpstream(ctx, rec, k.nodes[0].h, k.nodes[0].c, a.ContainerName)
		if err != nil {
			return nil, err
		}
		return []AppUpstreamFacts{f}, nil
	}
	var out []AppUpstreamFacts
	for _, hi := range hosts {
		if err := hi.Validate(); err != nil {
			return nil, err
		}
		h, err := k.g.e.Resolve(ctx, hi)
		if err != nil {
			return nil, err
		}
		c, err := k.g.e.connect(ctx, rec, h)
		if err != nil {
			return nil, err
		}
		f, err := observeAppUpstream(ctx, rec, h, c, a.ContainerName)
		c.Close()
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// observeAppUpstream reads where the app name answers on host: its
// private address, the port Fountain picked for it (its label) or the
// TCP ports it publishes, and its health check.
func observeAppUpstream(ctx context.Context, rec fountain.Recorder, host *Host, conn *ssh.Client, name string) (AppUpstreamFacts, error) {
	x := &dockerExec{d: &dockerHost{ssh: conn, rec: rec}}
	defer x.d.close()
	f := AppUpstreamFacts{Target: host.Target(), Node: nodeName(host)}
	cur, err := x.inspect(ctx, name)
	if err != nil || cur == nil {
		return f, err
	}
	f.Exists = true
	f.TCPPorts = tcpPorts(cur)
	if cur.Config != nil {
		f.Port, _ = strconv.Atoi(cur.Config.Labels[LabelPort])
		_ = json.Unmarshal([]byte(cur.Config.Labels[LabelHealth]), &f.Health)
	}
	if f.Address, err = privateAddress(ctx, host, conn); err != nil {
		return f, err
	}
	return f, nil
}

// tcpPorts are the host ports a container publishes for TCP, sorted.
func tcpPorts(c *container.InspectResponse) []int {
	var out []int
	if c.HostConfig != nil {
		for p, bs := range c.HostConfig.PortBindings {
			if p.Proto() == "tcp" && len(bs) > 0 {
				if n, err := strconv.Atoi(bs[0].HostPort); err == nil {
					out = append(out, n)
				}
			}
		}
		sort.Ints(out)
	}
	return out
}

// privateAddress is the host's private address: its instance's, else the
// first the host reports.
func privateAddress(ctx context.Context, h *Host, c *ssh.Client) (string, error) {
	if h.Instance != nil && h.Instance.PrivateIP != "" {
		return h.Instance.PrivateIP, nil
	}
	res, err := c.Run(ctx, ssh.Cmd{Name: "read the host's private address", Script: "hostname -I | cut -d' ' -f1"})
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(res.Stdout), nil
}

// Apply applies one change's effect.
func (k *kongExec) Apply(ctx context.Context, rec fountain.Recorder, ch fountain.Change) (fountain.StepResult, error) {
	switch e := ch.Effect.(type) {
	case recordKongVersion:
		configs := k.g.e.KongConfigs
		if configs == nil {
			return fountain.StepResult{}, nil
		}
		n, err := configs.AddKongConfig(ctx, k.key, fountain.ConfigVersion{Hash: e.Hash, Text: e.Text, Source: e.Source, OperationID: k.opID})
		if err != nil {
			return fountain.StepResult{}, err
		}
		k.version = n
		if e.Adopt {
			// Fountain's record changed, the host did not.
			k.adopted = true
			return fountain.StepResult{Output: fmt.Sprintf("version %d recorded (%s)", n, KongSourceFound)}, nil
		}
		return fountain.StepResult{Changed: true, Output: fmt.Sprintf("version %d", n)}, nil
	case loadKongConfig:
		changed, err := kongAdmin(k.nodes[e.Node].c).Load(ctx, e.Text)
		var ce *kong.ConfigError
		if errors.As(err, &ce) {
			k.kongErrors = ce.FlattenedErrors
		}
		if err != nil {
			return fountain.StepResult{}, err
		}
		return fountain.StepResult{Changed: changed, Output: ch.Diff}, nil
	case writeFile:
		if err := writeRemoteFile(ctx, k.nodes[e.Node].c, "write "+e.Path, e.Path, e.Body, e.Mode, e.Owner); err != nil {
			return fountain.StepResult{}, err
		}
		return fountain.StepResult{Changed: true}, nil
	}
	if k.docker != nil {
		return k.docker.Apply(ctx, rec, ch)
	}
	return fountain.StepResult{}, fmt.Errorf("deploy: no Kong executor for %T (step %q)", ch.Effect, ch.Name)
}
