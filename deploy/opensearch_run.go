package deploy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/opensearch-project/opensearch-go/v4"
	"github.com/opensearch-project/opensearch-go/v4/opensearchapi"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/ssh"
)

// SecretKeeper keeps service secrets (an OpenSearch admin password)
// encrypted at rest.
type SecretKeeper interface {
	PutSecret(ctx context.Context, scope, name, value string) error
	// GetSecret returns the secret, or "" if none is kept.
	GetSecret(ctx context.Context, scope, name string) (string, error)
}

// OpenSearch deploys OpenSearch onto hosts and reads it back: the
// engine's service for deploy-opensearch, its health and its admin
// password. It shares the engine's hosts (connections, stand-ins), its
// keeper and its configuration.
type OpenSearch struct{ e *Engine }

// OpenSearch hands out the engine's OpenSearch service.
func (e *Engine) OpenSearch() *OpenSearch { return &OpenSearch{e: e} }

// apt is OpenSearch's apt repository and key: the official ones unless
// configured.
func (o *OpenSearch) apt() AptSource {
	src := AptSource{Repo: OpenSearchAptRepo, Key: OpenSearchAptKey}
	if o.e.OpenSearchRepo != "" {
		src.Repo = o.e.OpenSearchRepo
	}
	if o.e.OpenSearchKey != "" {
		src.Key = o.e.OpenSearchKey
	}
	return src
}

func secretScope(h *Host) string { return "opensearch:" + h.Key() }

// CheckFit answers, before anything runs, whether a known instance's plan
// can hold OpenSearch (422 naming the plans that fit). Unknown hosts are
// checked by their MemTotal when the deploy plans.
func (o *OpenSearch) CheckFit(ctx context.Context, h *Host, in OpenSearchInput) error {
	if h.Instance == nil || h.Instance.RAMMiB == 0 {
		return nil
	}
	what := fmt.Sprintf("instance %s (%s)", h.Instance.Name, h.Instance.BundleID)
	return FitOpenSearch(h.Instance.RAMMiB, what, in.Force, o.bundles(ctx, h.Instance.Region))
}

func (o *OpenSearch) bundles(ctx context.Context, region string) []Bundle {
	if b, ok := o.e.Instances.(Bundles); ok {
		if list, err := b.Bundles(ctx, region); err == nil {
			return list
		}
	}
	return nil
}

// Deploy installs OpenSearch from its apt repository (signed-by keyring,
// pinned version, the initial admin password in apt's environment only),
// sets vm.max_map_count, single-node discovery, network.host and the
// heap, enables and starts the service, and waits for cluster health
// through an SSH tunnel: it looks at the host once, plans
// (PlanOpenSearch) and applies the plan. A second run with nothing to
// change restarts nothing; a dry run shows the plan and changes nothing.
func (o *OpenSearch) Deploy(ctx context.Context, rec fountain.Recorder, h *Host, in OpenSearchInput) (fountain.Outcome, error) {
	res := OpenSearchResult{Host: h.HostPort(), ClusterName: in.ClusterName}
	if h.Instance != nil {
		res.Instance = h.Instance.Name
	}
	if o.e.Sandbox {
		res.StandIn = "the sandbox's OpenSearch stand-in package, from a signed apt repository served as artifacts.opensearch.org (not OpenSearch)"
		rec.Log("sandbox: " + res.StandIn)
	}
	if err := o.e.standInsReady(ctx, rec, "OpenSearch"); err != nil {
		return fountain.Outcome{Result: res}, err
	}
	src := o.apt()
	if err := errors.Join(checkRepoURL("OpenSearch apt repository", src.Repo), checkRepoURL("OpenSearch apt key", src.Key)); err != nil {
		return fountain.Outcome{Result: res}, err
	}
	c, err := o.e.connect(ctx, rec, h)
	if err != nil {
		return fountain.Outcome{Result: res}, err
	}
	defer c.Close()
	x := &opensearchExec{c: c, keeper: o.e.Keeper, scope: secretScope(h)}
	var p fountain.Plan
	err = rec.Step(ctx, "look at the host", func(ctx context.Context) (fountain.StepResult, error) {
		f, err := x.observe(ctx, rec, h, in.AdminPassword, in.SnapshotPath)
		if err != nil {
			return fountain.StepResult{}, err
		}
		res.MemoryMB, res.HeapMB, res.NetworkHost = openSearchMemory(f), openSearchHeap(in, f), openSearchNetworkHost(in, f)
		p, err = PlanOpenSearch(in, src, f)
		p = withSnapshotFirst(p, snapshotFirst(in.SnapshotFirstAsked(), h, "opensearch", openSearchRisk(in, f), time.Now()))
		return fountain.StepResult{Output: f.summary()}, err
	})
	if err != nil {
		return fountain.Outcome{Result: res}, err
	}
	// Only the snapshots taken: a failed one is not named.
	res.Plan, err = p.Apply(ctx, rec, snapshotExec{Executor: x, snaps: o.e.Snapshots, taken: &res.SnapshotNames}, in.DryRun)
	res.PasswordSaved = x.kept
	if x.health != nil {
		res.Version, res.Status = x.health.Version, x.health.Status
	}
	if err != nil {
		// A failed answer shows no secret: a generated password the host
		// got is kept, and the hint says where to read it.
		if x.generated && x.kept {
			const kept = "the admin password the package was given is kept: deploy again to finish, or read it with POST /services/opensearch/admin-password"
			var hinted bool
			if err, hinted = withHint(err, kept); !hinted {
				rec.Log(kept)
			}
		}
		return fountain.Outcome{Result: res}, err
	}
	if x.generated {
		rec.ShowOnce("admin_password", x.password)
	}
	msg := fmt.Sprintf("OpenSearch %s on %s is %s", res.Version, h.Target(), res.Status)
	switch {
	case in.DryRun:
		msg = "Dry run: " + p.Summary()
	case x.generated && x.kept:
		msg += "; its admin password was generated: it is in this answer once (\"once\"), and kept encrypted by Fountain"
	case x.generated:
		msg += "; its admin password was generated: it is in this answer once (\"once\"), and nowhere else"
	}
	return fountain.Outcome{Message: msg, Result: res}, nil
}

// withHint returns err with hint, if err is a *fountain.Error (or wraps
// one, as an ssh.ExitError does) that has none; hinted says whether it
// was. The error returned is a copy: the one in err's chain may be made
// anew each time it is unwrapped.
func withHint(err error, hint string) (_ error, hinted bool) {
	var fe *fountain.Error
	if !errors.As(err, &fe) || fe.Hint != "" {
		return err, false
	}
	c := *fe
	c.Hint = hint
	return &c, true
}

// summary says in a line what the host has, for the record.
func (f OpenSearchFacts) summary() string {
	parts := []string{f.OS, mib(openSearchMemory(f)) + " of memory"}
	if f.OS == "" {
		parts[0] = "an unknown system"
	}
	switch {
	case f.Installed == "":
		parts = append(parts, "opensearch not installed")
	default:
		svc := "opensearch " + f.Installed + " installed"
		if f.Enabled {
			svc += ", enabled"
		}
		if f.Active {
			svc += ", running"
		}
		parts = append(parts, svc)
	}
	if f.PasswordKept {
		parts = append(parts, "an admin password kept")
	}
	return strings.Join(parts, "; ")
}

// OpenSearchHealth is what a health check reports.
type OpenSearchHealth struct {
	Host          string `json:"host" doc:"The host, address:port."`
	ClusterName   string `json:"cluster_name" doc:"cluster.name."`
	Status        string `json:"status" doc:"green, yellow or red."`
	Version       string `json:"version" doc:"OpenSearch's version."`
	Nodes         int    `json:"number_of_nodes" doc:"Nodes in the cluster."`
	ActiveShards  int    `json:"active_shards" doc:"Active shards."`
	Unassigned    int    `json:"unassigned_shards" doc:"Unassigned shards (replicas on one node)."`
	Tagline       string `json:"tagline,omitempty" doc:"OpenSearch's tagline (a stand-in says so here)."`
	ThroughTunnel bool   `json:"through_ssh_tunnel" doc:"Always true: Fountain reaches OpenSearch through the SSH connection, not over the internet."`
}

// Health reports the node's cluster health through an SSH tunnel, with
// the admin password Fountain keeps.
func (o *OpenSearch) Health(ctx context.Context, rec fountain.Recorder, h *Host) (*OpenSearchHealth, error) {
	password, err := o.AdminPassword(ctx, h)
	if fountain.ErrorCode(err) == fountain.ENOTFOUND {
		return nil, fountain.Errorf(fountain.ENOTFOUND, "Fountain has not deployed OpenSearch on %s (it keeps no admin password for it)", h.Target())
	}
	if err != nil {
		return nil, err
	}
	c, err := o.e.connect(ctx, rec, h)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	f, err := probeOpenSearch(ctx, c)
	if err != nil {
		return nil, err
	}
	netHost, ok := ymlValue(f.Config.Body, "network.host")
	if !ok {
		netHost = "_local_"
	}
	out, err := openSearchHealth(ctx, c, netHost, password, 0)
	if err != nil {
		return nil, err
	}
	out.Host = h.HostPort()
	return out, nil
}

// openSearchHealth asks the node for its cluster health with opensearch-go,
// its connections made from the host through the SSH connection. The node
// serves demo TLS certificates, so its certificate is not verified: the
// tunnel is what is trusted (the traffic never leaves the host). With a
// wait, it waits up to that long for yellow or green.
func openSearchHealth(ctx context.Context, c *ssh.Client, netHost, password string, wait time.Duration) (*OpenSearchHealth, error) {
	client, err := openSearchClient(c, netHost, password)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(wait)
	var last error
	for {
		hctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		health, err := client.Cluster.Health(hctx, &opensearchapi.ClusterHealthReq{Params: opensearchapi.ClusterHealthParams{
			WaitForStatus: "yellow", Timeout: 30 * time.Second}})
		var info *opensearchapi.InfoResp
		if err == nil {
			info, err = client.Info(hctx, nil)
		}
		cancel()
		if err == nil && (health.Status == "green" || health.Status == "yellow") {
			return &OpenSearchHealth{ClusterName: health.ClusterName, Status: health.Status, Version: info.Version.Number,
				Nodes: health.NumberOfNodes, ActiveShards: health.ActiveShards, Unassigned: health.UnassignedShards,
				Tagline: info.Tagline, ThroughTunnel: true}, nil
		}
		if err == nil {
			err = fmt.Errorf("the cluster is %s", health.Status)
		}
		last = err
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, &fountain.Error{Code: fountain.EUPSTREAM, Message: "OpenSearch is not healthy: " + last.Error(), Err: last}
		}
		select {
		case <-ctx.Done():
		case <-time.After(2 * time.Second):
		}
	}
}

// openSearchClient is an opensearch-go client of the node at network.host
// whose connections are made from the host through the SSH connection.
// The node serves demo TLS certificates, so its certificate is not
// verified: the tunnel is what is trusted (the traffic never leaves the
// host).
func openSearchClient(c *ssh.Client, netHost, password string) (*opensearchapi.Client, error) {
	client, err := opensearchapi.NewClient(opensearchapi.Config{Client: opensearch.Config{
		Addresses: []string{"https://" + net.JoinHostPort(osHealthAddr(netHost), "9200")},
		Username:  "admin", Password: password,
		Transport: &http.Transport{DialContext: c.DialContext, DisableKeepAlives: true,
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, //nolint:gosec // demo certs, reached through the verified SSH connection
		DisableRetry: true,
	}})
	if err != nil {
		return nil, fmt.Errorf("opensearch client: %w", err)
	}
	return client, nil
}

// writeRemoteFile replaces a file on the host atomically (a temporary file
// beside it, then a rename), as root, with the given mode and owner. The
// body travels on stdin; path, mode and owner are constants of the caller.
func writeRemoteFile(ctx context.Context, c *ssh.Client, name, path, body, mode, owner string) error {
	dir := path[:strings.LastIndexByte(path, '/')]
	script := "set -e\nmkdir -p " + ssh.Quote(dir) + "\ntmp=$(mktemp " + ssh.Quote(path+".XXXXXX") + ")\ncat > \"$tmp\"\nchmod " + ssh.Quote(mode) +
		" \"$tmp\"\nchown " + ssh.Quote(owner) + " \"$tmp\"\nmv -f \"$tmp\" " + ssh.Quote(path)
	_, err := c.Run(ctx, ssh.Cmd{Name: name, Script: script, Sudo: true, Stdin: strings.NewReader(body), Timeout: time.Minute})
	return err
}

// readRemoteFile reads a file on the host as root.
func readRemoteFile(ctx context.Context, c *ssh.Client, path string) (string, error) {
	res, err := c.Run(ctx, ssh.Cmd{Name: "read " + path, Argv: []string{"cat", path}, Sudo: true, Timeout: time.Minute})
	return res.Stdout, err
}

// AdminPassword returns the admin password Fountain keeps for the
// OpenSearch it deployed on h (for a caller who did not see it shown
// once, e.g. after an async deploy).
func (o *OpenSearch) AdminPassword(ctx context.Context, h *Host) (string, error) {
	if o.e.Keeper == nil {
		return "", fountain.Errorf(fountain.EUNAVAILABLE, "no secret store is configured")
	}
	pw, err := o.e.Keeper.GetSecret(ctx, secretScope(h), "admin_password")
	if err != nil {
		return "", err
	}
	if pw == "" {
		return "", fountain.Errorf(fountain.ENOTFOUND, "Fountain keeps no OpenSearch admin password for %s", h.Target())
	}
	return pw, nil
}
