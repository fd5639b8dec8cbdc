package deploy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/kong"
	"github.com/fountainai/fountain/ssh"
)

// kongExec observes a gateway (its Admin API through the SSH connection,
// its config file, Fountain's versions) and applies the effects of Kong
// plans there; Docker's effects (deploy-kong runs Kong as an app) go to
// its dockerExec. It lives for one operation.
type kongExec struct {
	g      *Gateway
	c      *ssh.Client
	h      *Host
	opID   string
	docker *dockerExec // deploy-kong only

	version    int  // the version recorded last (0: none)
	adopted    bool // a config found on the host was recorded
	kongErrors []kong.FlattenedError
}

// exec is the executor of Kong effects on h through c.
func (g *Gateway) exec(c *ssh.Client, h *Host, rec fountain.Recorder) *kongExec {
	return &kongExec{g: g, c: c, h: h, opID: rec.ID()}
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
	if f.Versions, err = k.g.e.kongVersionsOf(ctx, k.h); err != nil {
		return f, err
	}
	if f.App, err = k.docker.observeApp(ctx, in.kongApp("")); err != nil {
		return f, err
	}
	if f.File, err = readRemoteFileIfAny(ctx, k.c, KongConfigPath); err != nil && !errors.Is(err, errNoFile) {
		return f, err
	}
	admin := kongAdmin(k.c)
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
// versions, what Kong runs (it must answer) and its export when Fountain
// has no version of it, and the config file.
func (k *kongExec) observeChange(ctx context.Context) (KongChangeFacts, error) {
	var f KongChangeFacts
	var err error
	if f.Versions, err = k.g.e.kongVersionsOf(ctx, k.h); err != nil {
		return f, err
	}
	admin := kongAdmin(k.c)
	st, err := admin.Status(ctx)
	if err != nil {
		return f, kongUnreachable(k.h, err)
	}
	f.Admin.Hash = st.ConfigurationHash
	if _, known := f.Versions.knows(st.ConfigurationHash); !known {
		if f.Admin.Export, err = admin.Config(ctx); err != nil {
			return f, kongUnreachable(k.h, err)
		}
	}
	// A file that cannot be read is written again.
	f.File, _ = readRemoteFileIfAny(ctx, k.c, KongConfigPath)
	return f, nil
}

// observeApp finds where an app Fountain deployed answers: its host's
// private address and the TCP ports its container publishes. The app is
// on the gateway's host unless the request names another one (reached
// with the same key).
func (k *kongExec) observeApp(ctx context.Context, rec fountain.Recorder, in KongRouteInput) (*AppUpstreamFacts, error) {
	a := in.App
	host, conn := k.h, k.c
	if a.InstanceIP != "" || a.InstanceName != "" {
		hi := in.HostInput
		hi.InstanceIP, hi.InstanceName = a.InstanceIP, a.InstanceName
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
		defer c.Close()
		host, conn = h, c
	}
	x := &dockerExec{d: &dockerHost{ssh: conn, rec: rec}}
	defer x.d.close()
	f := &AppUpstreamFacts{Target: host.Target()}
	cur, err := x.inspect(ctx, a.ContainerName)
	if err != nil || cur == nil {
		return f, err
	}
	f.Exists = true
	if cur.HostConfig != nil {
		for p, bs := range cur.HostConfig.PortBindings {
			if p.Proto() == "tcp" && len(bs) > 0 {
				if n, err := strconv.Atoi(bs[0].HostPort); err == nil {
					f.TCPPorts = append(f.TCPPorts, n)
				}
			}
		}
		sort.Ints(f.TCPPorts)
	}
	if host.Instance != nil {
		f.Address = host.Instance.PrivateIP
	}
	if f.Address == "" {
		res, err := conn.Run(ctx, ssh.Cmd{Name: "read the host's private address", Script: "hostname -I | cut -d' ' -f1"})
		if err != nil {
			return f, err
		}
		f.Address = strings.TrimSpace(res.Stdout)
	}
	return f, nil
}

// Apply applies one change's effect.
func (k *kongExec) Apply(ctx context.Context, rec fountain.Recorder, ch fountain.Change) (fountain.StepResult, error) {
	switch e := ch.Effect.(type) {
	case recordKongVersion:
		configs := k.g.e.KongConfigs
		if configs == nil {
			return fountain.StepResult{}, nil
		}
		n, err := configs.AddKongConfig(ctx, k.h.Key(), fountain.ConfigVersion{Hash: e.Hash, Text: e.Text, Source: e.Source, OperationID: k.opID})
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
		changed, err := kongAdmin(k.c).Load(ctx, e.Text)
		var ce *kong.ConfigError
		if errors.As(err, &ce) {
			k.kongErrors = ce.FlattenedErrors
		}
		if err != nil {
			return fountain.StepResult{}, err
		}
		return fountain.StepResult{Changed: changed, Output: ch.Diff}, nil
	case writeFile:
		if err := writeRemoteFile(ctx, k.c, "write "+e.Path, e.Path, e.Body, e.Mode, e.Owner); err != nil {
			return fountain.StepResult{}, err
		}
		return fountain.StepResult{Changed: true}, nil
	}
	if k.docker != nil {
		return k.docker.Apply(ctx, rec, ch)
	}
	return fountain.StepResult{}, fmt.Errorf("deploy: no Kong executor for %T (step %q)", ch.Effect, ch.Name)
}
