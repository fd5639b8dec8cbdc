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

// OpenSearch apt sources: the official ones unless configured.
func (e *Engine) opensearchRepo() (repo, key string) {
	repo, key = OpenSearchAptRepo, OpenSearchAptKey
	if e.OpenSearchRepo != "" {
		repo = e.OpenSearchRepo
	}
	if e.OpenSearchKey != "" {
		key = e.OpenSearchKey
	}
	return repo, key
}

func secretScope(h *Host) string { return "opensearch:" + h.Key() }

// CheckOpenSearchFit answers, before anything runs, whether a known
// instance's plan can hold OpenSearch (422 naming the plans that fit).
// Unknown hosts are checked by their MemTotal during the deploy.
func (e *Engine) CheckOpenSearchFit(ctx context.Context, h *Host, in OpenSearchInput) error {
	if h.Instance == nil || h.Instance.RAMMiB == 0 {
		return nil
	}
	what := fmt.Sprintf("instance %s (%s)", h.Instance.Name, h.Instance.BundleID)
	return FitOpenSearch(h.Instance.RAMMiB, what, in.Force, e.bundles(ctx, h.Instance.Region))
}

func (e *Engine) bundles(ctx context.Context, region string) []Bundle {
	if b, ok := e.Instances.(Bundles); ok {
		if list, err := b.Bundles(ctx, region); err == nil {
			return list
		}
	}
	return nil
}

// DeployOpenSearch installs OpenSearch from its apt repository (signed-by
// keyring, pinned version, the initial admin password in apt's
// environment only), sets vm.max_map_count, single-node discovery,
// network.host and the heap, enables and starts the service, and waits
// for cluster health through an SSH tunnel. A second run with nothing to
// change restarts nothing.
func (e *Engine) DeployOpenSearch(ctx context.Context, rec fountain.Recorder, h *Host, in OpenSearchInput) (fountain.Outcome, error) {
	res := OpenSearchResult{Host: h.HostPort(), ClusterName: in.ClusterName}
	if h.Instance != nil {
		res.Instance = h.Instance.Name
	}
	if e.Sandbox {
		res.StandIn = "the sandbox's OpenSearch stand-in package, from a signed apt repository served as artifacts.opensearch.org (not OpenSearch)"
		rec.Log("sandbox: " + res.StandIn)
	}
	if err := e.standInsReady(ctx, rec, "OpenSearch"); err != nil {
		return fountain.Outcome{Result: res}, err
	}
	repo, key := e.opensearchRepo()
	if err := errors.Join(checkRepoURL("OpenSearch apt repository", repo), checkRepoURL("OpenSearch apt key", key)); err != nil {
		return fountain.Outcome{Result: res}, err
	}
	c, err := e.connect(ctx, rec, h)
	if err != nil {
		return fountain.Outcome{Result: res}, err
	}
	defer c.Close()
	f, err := probeOpenSearch(ctx, c)
	if err != nil {
		return fountain.Outcome{Result: res}, err
	}
	res.MemoryMB = f.MemMiB
	if h.Instance != nil && h.Instance.RAMMiB > 0 {
		res.MemoryMB = h.Instance.RAMMiB
	}
	heap := in.HeapMB
	if heap == 0 {
		heap = max(res.MemoryMB/2, 256)
	}
	res.HeapMB = heap
	netHost := in.NetworkHost
	if netHost == "" {
		netHost = f.PrivateIP
		if h.Instance != nil && h.Instance.PrivateIP != "" {
			netHost = h.Instance.PrivateIP
		}
		if netHost == "" {
			netHost = "_local_"
		}
	}
	res.NetworkHost = netHost

	// The admin password: given, kept from an earlier deploy, or new.
	password, generated := in.AdminPassword, false
	if e.Keeper != nil {
		kept, err := e.Keeper.GetSecret(ctx, secretScope(h), "admin_password")
		if err != nil {
			return fountain.Outcome{Result: res}, fmt.Errorf("read the kept admin password: %w", err)
		}
		if password == "" {
			password = kept
		}
		if kept != "" {
			rec.AddSecret(kept)
		}
	}
	if password == "" {
		if f.Installed != "" {
			return fountain.Outcome{Result: res}, &fountain.Error{Code: fountain.EINVALID, Field: "admin_password",
				Message: "OpenSearch is installed on " + h.Target() + " but Fountain does not know its admin password",
				Hint:    "send admin_password (it is kept encrypted for health checks)"}
		}
		password, generated = generatePassword(), true
		rec.AddSecret(password)
	}

	restart := false
	settings := [][2]string{{"cluster.name", in.ClusterName}, {"network.host", netHost}, {"discovery.type", "single-node"}}
	write := func(name, path, body, mode, owner string) func(ctx context.Context, need fountain.Need) (fountain.StepResult, error) {
		return func(ctx context.Context, need fountain.Need) (fountain.StepResult, error) {
			if err := writeRemoteFile(ctx, c, name, path, body, mode, owner); err != nil {
				return fountain.StepResult{}, err
			}
			return fountain.StepResult{Changed: true}, nil
		}
	}
	logLine := func(_, line string) { rec.Log(line) }
	// A change to the package, opensearch.yml or the heap means a restart:
	// the check says so, so that a dry run shows the restart too.
	restarts := func(check func(context.Context) (fountain.Need, error)) func(context.Context) (fountain.Need, error) {
		return func(ctx context.Context) (fountain.Need, error) {
			n, err := check(ctx)
			if err == nil && n.Change {
				restart = true
			}
			return n, err
		}
	}
	plan := fountain.Checks{
		{Name: "memory fits OpenSearch",
			Check: func(ctx context.Context) (fountain.Need, error) {
				if err := FitOpenSearch(res.MemoryMB, h.Target(), in.Force, nil); err != nil {
					return fountain.Need{}, err
				}
				return fountain.Need{Reason: fmt.Sprintf("%s of memory; heap %d MB", mib(res.MemoryMB), heap)}, nil
			}},
		{Name: "apt key in a signed-by keyring",
			Check: func(ctx context.Context) (fountain.Need, error) {
				if f.Keyring {
					return fountain.Need{Reason: opensearchKeyring + " is there"}, nil
				}
				return fountain.Need{Change: true, Reason: "no " + opensearchKeyring}, nil
			},
			Apply: func(ctx context.Context, need fountain.Need) (fountain.StepResult, error) {
				script := "set -e\ncurl -fsSL " + ssh.Quote(key) + " | gpg --batch --yes --dearmor -o " + opensearchKeyring + "\nchmod 0644 " + opensearchKeyring
				if _, err := c.Run(ctx, ssh.Cmd{Name: "fetch OpenSearch's apt key", Script: script, Sudo: true, Timeout: 2 * time.Minute, OnLine: logLine}); err != nil {
					return fountain.StepResult{}, err
				}
				return fountain.StepResult{Changed: true, Output: "from " + key}, nil
			}},
		{Name: "apt repository " + opensearchSources,
			Check: func(ctx context.Context) (fountain.Need, error) {
				if f.Sources == opensearchSourcesLine(repo) {
					return fountain.Need{Reason: "the source is as it should be"}, nil
				}
				return fountain.Need{Change: true, Reason: "the source is missing or differs"}, nil
			},
			Apply: write("write the OpenSearch apt source", opensearchSources, opensearchSourcesLine(repo), "0644", "root:root")},
		{Name: "opensearch " + in.Version + " installed",
			Check: restarts(func(ctx context.Context) (fountain.Need, error) {
				switch {
				case f.Installed == in.Version:
					return fountain.Need{Reason: "opensearch " + f.Installed + " is installed"}, nil
				case f.Installed == "":
					return fountain.Need{Change: true, Reason: "opensearch is not installed"}, nil
				}
				return fountain.Need{Change: true, Reason: "opensearch " + f.Installed + " is installed, not " + in.Version}, nil
			}),
			Apply: func(ctx context.Context, need fountain.Need) (fountain.StepResult, error) {
				script := "set -e\nexport DEBIAN_FRONTEND=noninteractive\n" +
					"apt-get -o DPkg::Lock::Timeout=300 update -q\n" +
					"apt-get -o DPkg::Lock::Timeout=300 install -y -q --allow-downgrades " + ssh.Quote("opensearch="+in.Version)
				// The password travels in the command's environment (on
				// stdin), never on a command line.
				_, err := c.Run(ctx, ssh.Cmd{Name: "install opensearch " + in.Version, Script: script, Sudo: true,
					Env: map[string]string{"OPENSEARCH_INITIAL_ADMIN_PASSWORD": password}, Timeout: 20 * time.Minute, OnLine: logLine})
				if err != nil {
					return fountain.StepResult{}, err
				}
				f.Installed, restart = in.Version, true
				// The package set this password: it is kept now, so that a
				// later step failing does not leave OpenSearch with a
				// password nobody knows.
				if e.Keeper != nil {
					if err := e.Keeper.PutSecret(ctx, secretScope(h), "admin_password", password); err != nil {
						return fountain.StepResult{Changed: true}, fmt.Errorf("keep the admin password: %w", err)
					}
					res.PasswordSaved = true
				}
				return fountain.StepResult{Changed: true}, nil
			}},
		{Name: fmt.Sprintf("vm.max_map_count %d, persisted", maxMapCount),
			Check: func(ctx context.Context) (fountain.Need, error) {
				if f.SysctlFile == opensearchSysctlFile() && f.MaxMap >= maxMapCount {
					return fountain.Need{Reason: fmt.Sprintf("vm.max_map_count is %d, in %s", f.MaxMap, opensearchSysctl)}, nil
				}
				return fountain.Need{Change: true, Reason: fmt.Sprintf("vm.max_map_count is %d", f.MaxMap)}, nil
			},
			Apply: func(ctx context.Context, need fountain.Need) (fountain.StepResult, error) {
				if err := writeRemoteFile(ctx, c, "write "+opensearchSysctl, opensearchSysctl, opensearchSysctlFile(), "0644", "root:root"); err != nil {
					return fountain.StepResult{}, err
				}
				if f.MaxMap < maxMapCount {
					if _, err := c.Run(ctx, ssh.Cmd{Name: "set vm.max_map_count", Argv: []string{"sysctl", "-w", fmt.Sprintf("vm.max_map_count=%d", maxMapCount)},
						Sudo: true, Timeout: time.Minute, OnLine: logLine}); err != nil {
						return fountain.StepResult{}, err
					}
				}
				return fountain.StepResult{Changed: true}, nil
			}},
		{Name: "opensearch.yml: single node, network.host " + netHost,
			Check: restarts(func(ctx context.Context) (fountain.Need, error) {
				if f.Installed == "" {
					return fountain.Need{Change: true, Reason: "set once the package is installed"}, nil
				}
				if f.Config == opensearchConfigFile(f.Config, settings) {
					return fountain.Need{Reason: "the settings are as asked"}, nil
				}
				return fountain.Need{Change: true, Reason: "cluster.name, network.host or discovery.type differ"}, nil
			}),
			Apply: func(ctx context.Context, need fountain.Need) (fountain.StepResult, error) {
				current := f.Config
				if cur, err := readRemoteFile(ctx, c, opensearchYML); err == nil {
					current = cur
				}
				if err := writeRemoteFile(ctx, c, "write "+opensearchYML, opensearchYML, opensearchConfigFile(current, settings), "0640", "root:opensearch"); err != nil {
					return fountain.StepResult{}, err
				}
				restart = true
				return fountain.StepResult{Changed: true}, nil
			}},
		{Name: fmt.Sprintf("JVM heap %d MB", heap),
			Check: restarts(func(ctx context.Context) (fountain.Need, error) {
				if f.Heap == opensearchHeapFile(heap) {
					return fountain.Need{Reason: "-Xms and -Xmx are set in " + opensearchHeap}, nil
				}
				return fountain.Need{Change: true, Reason: "the heap is not set as asked"}, nil
			}),
			Apply: func(ctx context.Context, need fountain.Need) (fountain.StepResult, error) {
				if err := writeRemoteFile(ctx, c, "write "+opensearchHeap, opensearchHeap, opensearchHeapFile(heap), "0640", "root:opensearch"); err != nil {
					return fountain.StepResult{}, err
				}
				restart = true
				return fountain.StepResult{Changed: true}, nil
			}},
		{Name: "opensearch enabled and running",
			Check: func(ctx context.Context) (fountain.Need, error) {
				switch {
				case restart:
					return fountain.Need{Change: true, Reason: "its settings or package changed: restart it once"}, nil
				case !f.Enabled || !f.Active:
					return fountain.Need{Change: true, Reason: "the service is not enabled and running"}, nil
				}
				return fountain.Need{Reason: "enabled and running; nothing to restart"}, nil
			},
			Apply: func(ctx context.Context, need fountain.Need) (fountain.StepResult, error) {
				script := "set -e\nsystemctl daemon-reload\nsystemctl enable opensearch\n"
				if f.Active {
					script += "systemctl restart opensearch\n"
				} else {
					script += "systemctl start opensearch\n"
				}
				if _, err := c.Run(ctx, ssh.Cmd{Name: "start opensearch", Script: script, Sudo: true, Timeout: 5 * time.Minute, OnLine: logLine}); err != nil {
					tail, _ := c.Run(context.WithoutCancel(ctx), ssh.Cmd{Name: "read the journal", Argv: []string{"journalctl", "-u", "opensearch", "-n", "30", "--no-pager"}, Sudo: true, Timeout: 30 * time.Second})
					return fountain.StepResult{Output: tail.Stdout}, err
				}
				return fountain.StepResult{Changed: true}, nil
			}},
		{Name: "cluster health yellow or green",
			Apply: func(ctx context.Context, need fountain.Need) (fountain.StepResult, error) {
				h, err := openSearchHealth(ctx, c, netHost, password, 3*time.Minute)
				if err != nil {
					return fountain.StepResult{}, err
				}
				res.Version, res.Status = h.Version, h.Status
				return fountain.StepResult{Output: fmt.Sprintf("OpenSearch %s, cluster %s is %s", h.Version, h.ClusterName, h.Status)}, nil
			}},
	}
	res.Plan, err = plan.Run(ctx, rec, in.DryRun)
	if err == nil && !in.DryRun && e.Keeper != nil {
		if err = e.Keeper.PutSecret(ctx, secretScope(h), "admin_password", password); err == nil {
			res.PasswordSaved = true
		}
	}
	if err != nil {
		// A failed answer shows no secret: a generated password the host
		// got is kept, and the hint says where to read it.
		if generated && res.PasswordSaved {
			if fe := (*fountain.Error)(nil); errors.As(err, &fe) && fe.Hint == "" {
				fe.Hint = "the admin password the package was given is kept: deploy again to finish, or read it with POST /services/opensearch/admin-password"
			} else {
				rec.Log("the admin password the package was given is kept: deploy again to finish, or read it with POST /services/opensearch/admin-password")
			}
		}
		return fountain.Outcome{Result: res}, err
	}
	if generated && !in.DryRun {
		rec.ShowOnce("admin_password", password)
	}
	msg := fmt.Sprintf("OpenSearch %s on %s is %s", res.Version, h.Target(), res.Status)
	if in.DryRun {
		msg = "Dry run: " + planSummary(res.Plan)
	} else if generated {
		msg += "; its admin password was generated: it is in this answer once (\"once\"), and kept encrypted by Fountain"
	}
	return fountain.Outcome{Message: msg, Result: res}, nil
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

// OpenSearchHealth reports the node's cluster health through an SSH
// tunnel, with the admin password Fountain keeps.
func (e *Engine) OpenSearchHealth(ctx context.Context, rec fountain.Recorder, h *Host) (*OpenSearchHealth, error) {
	if e.Keeper == nil {
		return nil, fountain.Errorf(fountain.EUNAVAILABLE, "no secret store is configured")
	}
	password, err := e.Keeper.GetSecret(ctx, secretScope(h), "admin_password")
	if err != nil {
		return nil, err
	}
	if password == "" {
		return nil, fountain.Errorf(fountain.ENOTFOUND, "Fountain has not deployed OpenSearch on %s (it keeps no admin password for it)", h.Target())
	}
	c, err := e.connect(ctx, rec, h)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	f, err := probeOpenSearch(ctx, c)
	if err != nil {
		return nil, err
	}
	netHost := "_local_"
	for _, line := range strings.Split(f.Config, "\n") {
		if v, ok := strings.CutPrefix(line, "network.host: "); ok {
			netHost = strings.Trim(v, `"`)
		}
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
	addr := netHost
	if addr == "" || strings.HasPrefix(addr, "_") || addr == "0.0.0.0" || addr == "::" {
		addr = "127.0.0.1"
	}
	client, err := opensearchapi.NewClient(opensearchapi.Config{Client: opensearch.Config{
		Addresses: []string{"https://" + net.JoinHostPort(addr, "9200")},
		Username:  "admin", Password: password,
		Transport: &http.Transport{DialContext: c.DialContext, DisableKeepAlives: true,
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, //nolint:gosec // demo certs, reached through the verified SSH connection
		DisableRetry: true,
	}})
	if err != nil {
		return nil, fmt.Errorf("opensearch client: %w", err)
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

// OpenSearchAdminPassword returns the admin password Fountain keeps for
// the OpenSearch it deployed on h (for a caller who did not see it shown
// once, e.g. after an async deploy).
func (e *Engine) OpenSearchAdminPassword(ctx context.Context, h *Host) (string, error) {
	if e.Keeper == nil {
		return "", fountain.Errorf(fountain.EUNAVAILABLE, "no secret store is configured")
	}
	pw, err := e.Keeper.GetSecret(ctx, secretScope(h), "admin_password")
	if err != nil {
		return "", err
	}
	if pw == "" {
		return "", fountain.Errorf(fountain.ENOTFOUND, "Fountain keeps no OpenSearch admin password for %s", h.Target())
	}
	return pw, nil
}
