package deploy

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/opensearch-project/opensearch-go/v4"
	"github.com/opensearch-project/opensearch-go/v4/opensearchapi"
	"go.yaml.in/yaml/v3"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/ssh"
)

// osData observes a node's snapshot facts and applies the snapshot plans'
// effects: the node's SSH connection, and an opensearch-go client whose
// connections go through it, with the admin password Fountain keeps.
type osData struct {
	c      *ssh.Client
	api    *opensearchapi.Client
	keeper SecretKeeper
	scope  string
	host   *Host
	yml    string             // opensearch.yml as observed
	s3     *OpenSearchS3Input // an s3 registration's keys
	// netHost and password reach the node's health (a restart).
	netHost, password string
}

// dataSession connects to the node and makes the client; close ends it.
func (o *OpenSearch) dataSession(ctx context.Context, rec fountain.Recorder, h *Host) (*osData, func(), error) {
	password, err := o.AdminPassword(ctx, h)
	if fountain.ErrorCode(err) == fountain.ENOTFOUND {
		return nil, nil, fountain.Errorf(fountain.ENOTFOUND, "Fountain has not deployed OpenSearch on %s (it keeps no admin password for it)", h.Target())
	}
	if err != nil {
		return nil, nil, err
	}
	rec.AddSecret(password)
	if err := o.e.standInsReady(ctx, rec, "OpenSearch"); err != nil {
		return nil, nil, err
	}
	c, err := o.e.connect(ctx, rec, h)
	if err != nil {
		return nil, nil, err
	}
	f, err := probeOpenSearch(ctx, c)
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	netHost, ok := ymlValue(f.Config.Body, "network.host")
	if !ok {
		netHost = "_local_"
	}
	api, err := openSearchClient(c, netHost, password)
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	x := &osData{c: c, api: api, keeper: o.e.Keeper, scope: secretScope(h), host: h, yml: f.Config.Body, netHost: netHost, password: password}
	return x, func() { c.Close() }, nil
}

// osAPIError is an error of OpenSearch's API as Fountain answers it:
// OpenSearch's type and reason, 404 for what is missing, 409 for what it
// refuses as things are, 502 otherwise.
func osAPIError(err error, what string) error {
	if err == nil {
		return nil
	}
	var se *opensearch.StructError
	if errors.As(err, &se) {
		code := fountain.EUPSTREAM
		switch {
		case se.Status == 404:
			code = fountain.ENOTFOUND
		case se.Status == 400 || se.Status == 409 || strings.HasPrefix(se.Err.Type, "snapshot_") || strings.HasPrefix(se.Err.Type, "repository_") ||
			se.Err.Type == "invalid_snapshot_name_exception" || se.Err.Type == "index_closed_exception":
			code = fountain.ECONFLICT
		}
		reason := se.Err.Reason
		if se.Err.CausedBy != nil && se.Err.CausedBy.Reason != "" && se.Err.CausedBy.Reason != reason {
			reason += ": " + se.Err.CausedBy.Reason
		}
		return &fountain.Error{Code: code, Message: fmt.Sprintf("OpenSearch refused to %s: %s: %s", what, se.Err.Type, reason), Err: err}
	}
	return &fountain.Error{Code: fountain.EUPSTREAM, Message: "OpenSearch did not " + what + ": " + err.Error(), Err: err}
}

// repoPaths reads path.repo from opensearch.yml: a path or a list.
func repoPaths(yml string) []string {
	v, ok := ymlValue(yml, "path.repo")
	if !ok || v == "" {
		return nil
	}
	var list []string
	if strings.HasPrefix(v, "[") {
		if yaml.Unmarshal([]byte(v), &list) == nil {
			return list
		}
		return nil
	}
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			list = append(list, p)
		}
	}
	return list
}

// observe reads the snapshot facts: path.repo, the cluster's size, its
// repositories, the snapshots of repo (if registered), its indices, and
// for s3 the plugin, the keystore's entries and the keys Fountain keeps.
func (x *osData) observe(ctx context.Context, repo string, s3 *OpenSearchS3Input) (OpenSearchDataFacts, error) {
	f := OpenSearchDataFacts{Target: x.host.Target(), RepoPaths: repoPaths(x.yml), Repos: map[string]SnapshotRepository{}}
	health, err := x.api.Cluster.Health(ctx, nil)
	if err != nil {
		return f, osAPIError(err, "tell its health")
	}
	f.Nodes = health.NumberOfNodes
	repos, err := x.api.Snapshot.Repository.Get(ctx, nil)
	if err != nil {
		return f, osAPIError(err, "list its snapshot repositories")
	}
	for name, r := range repos.Repos {
		f.Repos[name] = SnapshotRepository{Name: name, Type: r.Type, Settings: r.Settings}
	}
	if _, ok := f.Repos[repo]; ok {
		if f.Snapshots, err = x.snapshots(ctx, repo); err != nil {
			return f, err
		}
	}
	cat, err := x.api.Cat.Indices(ctx, &opensearchapi.CatIndicesReq{Params: opensearchapi.CatIndicesParams{H: []string{"index", "status"}}})
	if err != nil {
		return f, osAPIError(err, "list its indices")
	}
	for _, ix := range cat.Indices {
		f.Indices = append(f.Indices, IndexFact{Name: ix.Index, Open: ix.Status != "close"})
	}
	if s3 != nil {
		res, err := x.c.Run(ctx, ssh.Cmd{Name: "look at the plugins and the keystore", Sudo: true, Timeout: time.Minute,
			Script: "test -d " + opensearchHome + "/plugins/repository-s3 && echo plugin=yes\n" +
				"test -f /etc/opensearch/opensearch.keystore && " + opensearchHome + "/bin/opensearch-keystore list 2>/dev/null || true"})
		if err != nil {
			return f, err
		}
		f.S3Plugin = strings.Contains(res.Stdout, "plugin=yes")
		f.S3Keystore = strings.Contains(res.Stdout, "s3.client.default.access_key\n") && strings.Contains(res.Stdout, "s3.client.default.secret_key")
		if x.keeper != nil {
			id, err1 := x.keeper.GetSecret(ctx, x.scope, "s3.access_key_id")
			secret, err2 := x.keeper.GetSecret(ctx, x.scope, "s3.secret_access_key")
			if err := errors.Join(err1, err2); err != nil {
				return f, fmt.Errorf("read the kept S3 keys: %w", err)
			}
			f.S3KeysKept = id == s3.AccessKeyID && secret == s3.SecretAccessKey
		}
	}
	return f, nil
}

const opensearchHome = "/usr/share/opensearch"

// snapshots lists a repository's snapshots.
func (x *osData) snapshots(ctx context.Context, repo string) ([]SnapshotInfo, error) {
	resp, err := x.api.Snapshot.Get(ctx, opensearchapi.SnapshotGetReq{Repo: repo, Snapshots: []string{"_all"}})
	if err != nil {
		return nil, osAPIError(err, "list the snapshots of "+repo)
	}
	out := make([]SnapshotInfo, 0, len(resp.Snapshots))
	for _, s := range resp.Snapshots {
		out = append(out, snapshotInfo(repo, s))
	}
	return out, nil
}

func snapshotInfo(repo string, s opensearchapi.SnapshotGet) SnapshotInfo {
	indices := s.Indices
	if indices == nil {
		indices = []string{}
	}
	return SnapshotInfo{Repository: repo, Name: s.Snapshot, UUID: s.UUID, State: s.State, Indices: indices,
		StartMillis: s.StartTimeInMillis, EndMillis: s.EndTimeInMillis, Shards: s.Shards.Total, FailedShards: s.Shards.Failed}
}

// Apply applies one change's effect.
func (x *osData) Apply(ctx context.Context, rec fountain.Recorder, ch fountain.Change) (fountain.StepResult, error) {
	logLine := func(_, line string) { rec.Log(line) }
	switch e := ch.Effect.(type) {
	case osPutRepository:
		if _, err := x.api.Snapshot.Repository.Create(ctx, opensearchapi.SnapshotRepositoryCreateReq{Repo: e.Name, Body: strings.NewReader(e.body())}); err != nil {
			return fountain.StepResult{}, osAPIError(err, "register the repository "+e.Name)
		}
		return fountain.StepResult{Changed: true, Output: "registered and verified by OpenSearch"}, nil
	case osInstallPlugin:
		_, err := x.c.Run(ctx, ssh.Cmd{Name: "install the " + e.Name + " plugin", Argv: []string{opensearchHome + "/bin/opensearch-plugin", "install", "--batch", e.Name},
			Sudo: true, Timeout: 10 * time.Minute, OnLine: logLine})
		return fountain.StepResult{Changed: true}, err
	case osKeystoreS3:
		return x.keystoreS3(ctx, rec)
	case osReloadSecureSettings:
		if _, err := x.api.Nodes.ReloadSecurity(ctx, nil); err != nil {
			return fountain.StepResult{}, osAPIError(err, "reload its secure settings")
		}
		return fountain.StepResult{Changed: true}, nil
	case osRestartNode:
		if _, err := x.c.Run(ctx, ssh.Cmd{Name: "restart opensearch", Argv: []string{"systemctl", "restart", "opensearch"}, Sudo: true,
			Timeout: 5 * time.Minute, OnLine: logLine}); err != nil {
			return fountain.StepResult{}, err
		}
		h, err := openSearchHealth(ctx, x.c, x.netHost, x.password, e.Wait)
		if err != nil {
			return fountain.StepResult{Changed: true}, err
		}
		return fountain.StepResult{Changed: true, Output: "cluster " + h.ClusterName + " is " + h.Status}, nil
	case osCreateSnapshot:
		wait := false
		resp, err := x.api.Snapshot.Create(ctx, opensearchapi.SnapshotCreateReq{Repo: e.Repository, Snapshot: e.Snapshot, Body: strings.NewReader(e.body()),
			Params: opensearchapi.SnapshotCreateParams{WaitForCompletion: &wait}})
		if err != nil {
			return fountain.StepResult{}, osAPIError(err, "take the snapshot "+e.Snapshot)
		}
		return fountain.StepResult{Changed: true, Output: fmt.Sprintf("accepted: %v", resp.Accepted)}, nil
	case osWaitSnapshot:
		return x.waitSnapshot(ctx, rec, e)
	case osRestore:
		wait := false
		if _, err := x.api.Snapshot.Restore(ctx, opensearchapi.SnapshotRestoreReq{Repo: e.Repository, Snapshot: e.Snapshot, Body: strings.NewReader(e.body()),
			Params: opensearchapi.SnapshotRestoreParams{WaitForCompletion: &wait}}); err != nil {
			return fountain.StepResult{}, osAPIError(err, "restore "+e.Snapshot)
		}
		return fountain.StepResult{Changed: true, Output: "accepted"}, nil
	case osWaitIndices:
		return x.waitIndices(ctx, e)
	}
	return fountain.StepResult{}, fmt.Errorf("opensearch snapshots: no executor for %T (step %q)", ch.Effect, ch.Name)
}

// keystoreS3 puts the S3 keys in the keystore: the values travel on
// stdin, are read by the shell into variables and given to
// opensearch-keystore on its stdin, never on a command line; then they
// are kept encrypted for the next plan.
func (x *osData) keystoreS3(ctx context.Context, rec fountain.Recorder) (fountain.StepResult, error) {
	if x.s3 == nil {
		return fountain.StepResult{}, errors.New("opensearch snapshots: no S3 keys to put in the keystore")
	}
	ks := opensearchHome + "/bin/opensearch-keystore"
	script := "set -e\nIFS= read -r id\nIFS= read -r secret\n" +
		"test -f /etc/opensearch/opensearch.keystore || " + ks + " create\n" +
		"printf '%s' \"$id\" | " + ks + " add --stdin --force s3.client.default.access_key\n" +
		"printf '%s' \"$secret\" | " + ks + " add --stdin --force s3.client.default.secret_key\n" +
		"chown root:opensearch /etc/opensearch/opensearch.keystore\nchmod 0660 /etc/opensearch/opensearch.keystore"
	if _, err := x.c.Run(ctx, ssh.Cmd{Name: "put the S3 keys in the keystore", Script: script, Sudo: true, Timeout: 2 * time.Minute,
		Stdin: strings.NewReader(x.s3.AccessKeyID + "\n" + x.s3.SecretAccessKey + "\n"), OnLine: func(_, line string) { rec.Log(line) }}); err != nil {
		return fountain.StepResult{}, err
	}
	if x.keeper != nil {
		if err := errors.Join(x.keeper.PutSecret(ctx, x.scope, "s3.access_key_id", x.s3.AccessKeyID),
			x.keeper.PutSecret(ctx, x.scope, "s3.secret_access_key", x.s3.SecretAccessKey)); err != nil {
			return fountain.StepResult{Changed: true}, fmt.Errorf("keep the S3 keys: %w", err)
		}
	}
	return fountain.StepResult{Changed: true, Output: "s3.client.default.access_key and secret_key set"}, nil
}

// snapshotPoll is how often a snapshot's state is asked.
const snapshotPoll = 500 * time.Millisecond

// waitSnapshot follows a snapshot to its end, each of OpenSearch's states
// a step of its own: IN_PROGRESS while it runs, then SUCCESS (ok),
// PARTIAL (a failure unless partial) or FAILED (a failure with its
// reason).
func (x *osData) waitSnapshot(ctx context.Context, rec fountain.Recorder, e osWaitSnapshot) (fountain.StepResult, error) {
	deadline := time.Now().Add(e.Wait)
	name := "snapshot " + e.Repository + "/" + e.Snapshot
	get := func(ctx context.Context) (SnapshotInfo, error) {
		resp, err := x.api.Snapshot.Get(ctx, opensearchapi.SnapshotGetReq{Repo: e.Repository, Snapshots: []string{e.Snapshot}})
		if err != nil {
			return SnapshotInfo{}, osAPIError(err, "tell the state of "+e.Snapshot)
		}
		if len(resp.Snapshots) != 1 {
			return SnapshotInfo{}, fountain.Errorf(fountain.EUPSTREAM, "OpenSearch answered %d snapshots for %s", len(resp.Snapshots), e.Snapshot)
		}
		return snapshotInfo(e.Repository, resp.Snapshots[0]), nil
	}
	s, err := get(ctx)
	if err != nil {
		return fountain.StepResult{}, err
	}
	if s.State == "IN_PROGRESS" {
		err := rec.Step(ctx, name+": IN_PROGRESS", func(ctx context.Context) (fountain.StepResult, error) {
			for s.State == "IN_PROGRESS" {
				if time.Now().After(deadline) {
					return fountain.StepResult{}, fountain.Errorf(fountain.EUPSTREAM, "%s is still IN_PROGRESS after %s", name, e.Wait)
				}
				select {
				case <-ctx.Done():
					return fountain.StepResult{}, ctx.Err()
				case <-time.After(snapshotPoll):
				}
				if s, err = get(ctx); err != nil {
					return fountain.StepResult{}, err
				}
			}
			return fountain.StepResult{Output: fmt.Sprintf("%d shards, started %s", s.Shards, time.UnixMilli(s.StartMillis).UTC().Format(time.RFC3339))}, nil
		})
		if err != nil {
			return fountain.StepResult{}, err
		}
	}
	summary := snapshotSummary(s)
	if s.EndMillis > s.StartMillis {
		summary += fmt.Sprintf(", in %s", time.Duration(s.EndMillis-s.StartMillis)*time.Millisecond)
	}
	err = rec.Step(ctx, name+": "+s.State, func(context.Context) (fountain.StepResult, error) {
		switch s.State {
		case "SUCCESS":
			return fountain.StepResult{Output: summary}, nil
		case "PARTIAL":
			if e.Partial {
				return fountain.StepResult{Output: summary, Reason: "partial: true accepts it"}, nil
			}
			return fountain.StepResult{}, fountain.Errorf(fountain.EUPSTREAM, "%s is PARTIAL: %d of %d shards failed", name, s.FailedShards, s.Shards)
		case "FAILED":
			return fountain.StepResult{}, fountain.Errorf(fountain.EUPSTREAM, "%s FAILED: %s", name, orUnknown(s.Reason))
		}
		return fountain.StepResult{}, fountain.Errorf(fountain.EUPSTREAM, "%s is %s", name, s.State)
	})
	return fountain.StepResult{Output: summary}, err
}

// waitIndices waits for indices to be yellow or green.
func (x *osData) waitIndices(ctx context.Context, e osWaitIndices) (fountain.StepResult, error) {
	deadline := time.Now().Add(e.Wait)
	for {
		hctx, cancel := context.WithTimeout(ctx, 45*time.Second)
		h, err := x.api.Cluster.Health(hctx, &opensearchapi.ClusterHealthReq{Indices: e.Indices, Params: opensearchapi.ClusterHealthParams{
			WaitForStatus: "yellow", Timeout: 30 * time.Second}})
		cancel()
		if err == nil && (h.Status == "green" || h.Status == "yellow") {
			return fountain.StepResult{Output: fmt.Sprintf("%s: %s, %d active shards", strings.Join(e.Indices, ", "), h.Status, h.ActiveShards)}, nil
		}
		if err == nil {
			err = fmt.Errorf("they are %s", h.Status)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fountain.StepResult{}, &fountain.Error{Code: fountain.EUPSTREAM, Message: "the restored indices are not ready: " + err.Error(), Err: err}
		}
		select {
		case <-ctx.Done():
		case <-time.After(2 * time.Second):
		}
	}
}

// OpenSearchSnapshotResult is what a snapshot operation reports.
type OpenSearchSnapshotResult struct {
	Host       string                 `json:"host" doc:"The node, address:port."`
	Repository string                 `json:"repository" doc:"The repository."`
	Snapshot   *SnapshotInfo          `json:"snapshot,omitempty" doc:"The snapshot, as OpenSearch reports it at the end."`
	Restored   []string               `json:"restored,omitempty" doc:"The indices a restore made."`
	Plan       []fountain.PlannedStep `json:"plan,omitempty" doc:"Each step, whether it changed (or would change) something, and why."`
}

// runData observes, plans and applies one of the snapshot plans.
func (o *OpenSearch) runData(ctx context.Context, rec fountain.Recorder, h *Host, repo string, s3 *OpenSearchS3Input, dry bool,
	plan func(OpenSearchDataFacts) (fountain.Plan, error)) (*osData, fountain.Plan, []fountain.PlannedStep, func(), error) {
	x, closeFn, err := o.dataSession(ctx, rec, h)
	if err != nil {
		return nil, fountain.Plan{}, nil, nil, err
	}
	x.s3 = s3
	var p fountain.Plan
	err = rec.Step(ctx, "look at OpenSearch's snapshots", func(ctx context.Context) (fountain.StepResult, error) {
		f, err := x.observe(ctx, repo, s3)
		if err != nil {
			return fountain.StepResult{}, err
		}
		p, err = plan(f)
		return fountain.StepResult{Output: f.summary(repo)}, err
	})
	if err != nil {
		closeFn()
		return nil, p, nil, nil, err
	}
	steps, err := p.Apply(ctx, rec, x, dry)
	return x, p, steps, closeFn, err
}

func (f OpenSearchDataFacts) summary(repo string) string {
	out := fmt.Sprintf("%d %s, %d %s, path.repo %s", f.Nodes, plural(f.Nodes, "node", "nodes"), len(f.Indices), plural(len(f.Indices), "index", "indices"),
		orUnknown(strings.Join(f.RepoPaths, ", ")))
	if r, ok := f.Repos[repo]; ok {
		out += fmt.Sprintf("; repository %s (%s) has %d %s", repo, r.Type, len(f.Snapshots), plural(len(f.Snapshots), "snapshot", "snapshots"))
	} else {
		out += "; no repository " + repo
	}
	return out
}

// RegisterRepository registers a snapshot repository (fs under path.repo,
// or s3 through the repository-s3 plugin).
func (o *OpenSearch) RegisterRepository(ctx context.Context, rec fountain.Recorder, h *Host, in OpenSearchRepositoryInput) (fountain.Outcome, error) {
	res := OpenSearchSnapshotResult{Host: h.HostPort(), Repository: in.Repository}
	_, p, steps, closeFn, err := o.runData(ctx, rec, h, in.Repository, in.S3, in.DryRun, func(f OpenSearchDataFacts) (fountain.Plan, error) {
		return PlanSnapshotRepository(in, f)
	})
	res.Plan = steps
	if closeFn != nil {
		defer closeFn()
	}
	if err != nil {
		return fountain.Outcome{Result: res}, err
	}
	msg := "Repository " + in.Repository + " is registered on " + h.Target()
	switch {
	case in.DryRun:
		msg = "Dry run: " + p.Summary()
	case !p.Changed():
		msg = "Repository " + in.Repository + " on " + h.Target() + " is registered as asked; nothing changed"
	}
	return fountain.Outcome{Message: msg, Result: res}, nil
}

// Snapshot takes a snapshot and follows it to its end.
func (o *OpenSearch) Snapshot(ctx context.Context, rec fountain.Recorder, h *Host, in OpenSearchSnapshotInput) (fountain.Outcome, error) {
	res := OpenSearchSnapshotResult{Host: h.HostPort(), Repository: in.Repository}
	x, p, steps, closeFn, err := o.runData(ctx, rec, h, in.Repository, nil, in.DryRun, func(f OpenSearchDataFacts) (fountain.Plan, error) {
		return PlanSnapshot(in, f)
	})
	res.Plan = steps
	if closeFn != nil {
		defer closeFn()
	}
	if x != nil && !in.DryRun {
		if list, lerr := x.snapshots(context.WithoutCancel(ctx), in.Repository); lerr == nil {
			if s, ok := findSnapshot(list, in.Snapshot); ok {
				res.Snapshot = &s
			}
		}
	}
	if err != nil {
		return fountain.Outcome{Result: res}, err
	}
	msg := "Snapshot " + in.Snapshot + " of " + h.Target() + " in " + in.Repository
	switch {
	case in.DryRun:
		msg = "Dry run: " + p.Summary()
	case !p.Changed():
		msg += " exists; nothing changed"
	default:
		msg += " is taken"
	}
	if res.Snapshot != nil && !in.DryRun {
		msg += " (" + snapshotSummary(*res.Snapshot) + ")"
	}
	return fountain.Outcome{Message: msg, Result: res}, nil
}

// Restore restores indices from a snapshot and waits for them.
func (o *OpenSearch) Restore(ctx context.Context, rec fountain.Recorder, h *Host, in OpenSearchRestoreInput) (fountain.Outcome, error) {
	res := OpenSearchSnapshotResult{Host: h.HostPort(), Repository: in.Repository}
	_, p, steps, closeFn, err := o.runData(ctx, rec, h, in.Repository, nil, in.DryRun, func(f OpenSearchDataFacts) (fountain.Plan, error) {
		return PlanRestore(in, f)
	})
	res.Plan = steps
	if closeFn != nil {
		defer closeFn()
	}
	for _, c := range p.Changes {
		if w, ok := c.Effect.(osWaitIndices); ok {
			res.Restored = w.Indices
		}
	}
	if err != nil {
		return fountain.Outcome{Result: res}, err
	}
	msg := fmt.Sprintf("Restored %s from %s on %s", strings.Join(res.Restored, ", "), in.Snapshot, h.Target())
	if in.DryRun {
		msg = "Dry run: " + p.Summary()
	}
	return fountain.Outcome{Message: msg, Result: res}, nil
}

// OpenSearchSnapshots is what the snapshot list reports.
type OpenSearchSnapshots struct {
	Host         string               `json:"host" doc:"The node, address:port."`
	Repositories []SnapshotRepository `json:"repositories" doc:"The registered repositories."`
	Snapshots    []SnapshotInfo       `json:"snapshots" doc:"The snapshots of the repository asked for (default: of every repository), oldest first."`
}

// Snapshots lists the repositories and the snapshots of repo ("" every
// repository).
func (o *OpenSearch) Snapshots(ctx context.Context, rec fountain.Recorder, h *Host, repo string) (*OpenSearchSnapshots, error) {
	x, closeFn, err := o.dataSession(ctx, rec, h)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	f, err := x.observe(ctx, repo, nil)
	if err != nil {
		return nil, err
	}
	out := &OpenSearchSnapshots{Host: h.HostPort(), Repositories: []SnapshotRepository{}, Snapshots: []SnapshotInfo{}}
	for _, name := range sortedKeys(f.Repos) {
		out.Repositories = append(out.Repositories, f.Repos[name])
		if repo != "" && name != repo {
			continue
		}
		list := f.Snapshots
		if repo == "" {
			if list, err = x.snapshots(ctx, name); err != nil {
				return nil, err
			}
		}
		out.Snapshots = append(out.Snapshots, list...)
	}
	if _, ok := f.Repos[repo]; repo != "" && !ok {
		return nil, fountain.Errorf(fountain.ENOTFOUND, "no snapshot repository %s on %s", repo, h.Target())
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
