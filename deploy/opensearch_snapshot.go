package deploy

import (
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/fountainai/fountain"
)

// OpenSearch's snapshots, observe -> plan -> apply like the deploy: the
// facts are what OpenSearch answers through the SSH tunnel (its
// repositories, the snapshots of one, its indices) and what the node
// has (path.repo, the repository-s3 plugin, the keystore's entries);
// PlanSnapshotRepository, PlanSnapshot and PlanRestore are pure; the
// executor (opensearch_snapshot_run.go) calls the _snapshot API with
// opensearch-go and shows the snapshot's states (IN_PROGRESS, SUCCESS,
// PARTIAL, FAILED) as steps of the operation.

// DefaultSnapshotRepository is the repository a snapshot goes to unless
// the request names another: an fs repository in path.repo, registered
// by the first snapshot.
const DefaultSnapshotRepository = "fountain"

var (
	// repoNameRE and snapshotNameRE are stricter than OpenSearch (which
	// refuses upper case in snapshot names, whitespace, ',', '#', and
	// \ / * ? " < > |): what Fountain puts in URLs and on disk.
	repoNameRE     = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)
	snapshotNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,127}$`)
	// indexExprRE is an index name or a * pattern (no exclusions).
	indexExprRE = regexp.MustCompile(`^[a-z0-9*][a-z0-9._*+-]{0,254}$`)
	// s3BucketRE is an S3 (and Lightsail) bucket name.
	s3BucketRE  = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	accessKeyRE = regexp.MustCompile(`^[A-Z0-9]{16,128}$`)
	basePathRE  = regexp.MustCompile(`^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$`)
	hostPortRE  = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?(:[0-9]{1,5})?$`)
)

// OpenSearchRepositoryInput registers a snapshot repository.
type OpenSearchRepositoryInput struct {
	HostInput
	Repository string             `json:"repository,omitempty" maxLength:"64" doc:"The repository's name (default fountain)." example:"fountain"`
	Type       string             `json:"type,omitempty" enum:"fs,s3" doc:"fs (default): a directory under the node's path.repo; s3: a bucket (a Lightsail bucket, say) through OpenSearch's repository-s3 plugin."`
	Location   string             `json:"location,omitempty" maxLength:"200" doc:"fs: the directory, absolute under path.repo or relative to it (default: the repository's name under path.repo). On a cluster, OpenSearch accepts it only if every node sees it (a file system they share)." example:"/var/backups/opensearch/fountain"`
	S3         *OpenSearchS3Input `json:"s3,omitempty" doc:"s3: the bucket and the keys that write to it."`
}

// OpenSearchS3Input is an S3 repository's bucket and keys.
type OpenSearchS3Input struct {
	Bucket          string `json:"bucket" maxLength:"63" doc:"The bucket (a Lightsail bucket's name)." example:"search-snapshots"`
	Region          string `json:"region" maxLength:"32" doc:"The bucket's region." example:"eu-central-1"`
	BasePath        string `json:"base_path,omitempty" maxLength:"200" doc:"A folder in the bucket (default: its root)." example:"logs-cluster"`
	Endpoint        string `json:"endpoint,omitempty" maxLength:"255" doc:"The S3 endpoint (default s3.REGION.amazonaws.com, where Lightsail buckets are)."`
	AccessKeyID     string `json:"access_key_id" maxLength:"128" doc:"An access key of the bucket (Lightsail: CreateBucketAccessKey), put in OpenSearch's keystore as s3.client.default.access_key."`
	SecretAccessKey string `json:"secret_access_key" maxLength:"128" doc:"Its secret, put in the keystore as s3.client.default.secret_key; kept encrypted by Fountain, never logged or shown."`
}

func validRepoName(field, name string) error {
	if !repoNameRE.MatchString(name) {
		return fountain.Invalid(field, "%q is not a repository name (lower-case letters, digits, '.', '_', '-')", short(name))
	}
	return nil
}

// Validate checks the request without I/O and fills in defaults.
func (in *OpenSearchRepositoryInput) Validate() error {
	if err := in.HostInput.Validate(); err != nil {
		return err
	}
	if in.Repository == "" {
		in.Repository = DefaultSnapshotRepository
	}
	if err := validRepoName("repository", in.Repository); err != nil {
		return err
	}
	if in.Type == "" {
		in.Type = "fs"
	}
	switch in.Type {
	case "fs":
		if in.S3 != nil {
			return fountain.Invalid("s3", "is for type s3")
		}
		if l := in.Location; l != "" && (path.Clean(l) != l || strings.HasPrefix(l, "..") || !basePathRE.MatchString(strings.TrimPrefix(l, "/"))) {
			return fountain.Invalid("location", "%q is not a clean path of plain characters", short(l))
		}
	case "s3":
		s := in.S3
		switch {
		case s == nil:
			return fountain.Invalid("s3", "is required with type s3 (bucket, region, access_key_id, secret_access_key)")
		case in.Location != "":
			return fountain.Invalid("location", "is for type fs (s3 has base_path)")
		case !s3BucketRE.MatchString(s.Bucket) || strings.Contains(s.Bucket, ".."):
			return fountain.Invalid("s3.bucket", "%q is not a bucket name", short(s.Bucket))
		case !regionRE.MatchString(s.Region):
			return fountain.Invalid("s3.region", "%q is not an AWS region name (like eu-central-1)", short(s.Region))
		case s.BasePath != "" && (!basePathRE.MatchString(s.BasePath) || slices.Contains(strings.Split(s.BasePath, "/"), "..")):
			return fountain.Invalid("s3.base_path", "%q is not a folder of the bucket (no leading '/')", short(s.BasePath))
		case s.Endpoint != "" && !hostPortRE.MatchString(s.Endpoint):
			return fountain.Invalid("s3.endpoint", "%q is not a host name (like s3.eu-central-1.amazonaws.com)", short(s.Endpoint))
		case !accessKeyRE.MatchString(s.AccessKeyID):
			return fountain.Invalid("s3.access_key_id", "is not an access key id")
		case len(s.SecretAccessKey) < 16 || strings.ContainsAny(s.SecretAccessKey, " \t\r\n\x00"):
			return fountain.Invalid("s3.secret_access_key", "is not a secret access key")
		}
		if s.Endpoint == "" {
			s.Endpoint = "s3." + s.Region + ".amazonaws.com"
		}
	default:
		return fountain.Invalid("type", "%q is not fs or s3", short(in.Type))
	}
	return nil
}

// Secrets are the request's secret values.
func (in *OpenSearchRepositoryInput) Secrets() []string {
	if in.S3 != nil {
		return []string{in.S3.SecretAccessKey}
	}
	return nil
}

// OpenSearchSnapshotInput takes a snapshot.
type OpenSearchSnapshotInput struct {
	HostInput
	Repository         string   `json:"repository,omitempty" maxLength:"64" doc:"The repository (default fountain: an fs repository under path.repo, registered by the first snapshot)."`
	Snapshot           string   `json:"snapshot" maxLength:"128" doc:"The snapshot's name: lower-case letters, digits, '.', '_', '-'. Taking one that exists (SUCCESS) changes nothing." example:"nightly-2026-01-31"`
	Indices            []string `json:"indices,omitempty" maxItems:"100" doc:"The indices (names or * patterns; default all)." example:"[\"logs-*\"]"`
	IncludeGlobalState bool     `json:"include_global_state,omitempty" doc:"Include the cluster state (persistent settings, templates)."`
	Partial            bool     `json:"partial,omitempty" doc:"Accept a PARTIAL snapshot (some shards unavailable) instead of failing."`
}

// Validate checks the request without I/O and fills in defaults.
func (in *OpenSearchSnapshotInput) Validate() error {
	if err := in.HostInput.Validate(); err != nil {
		return err
	}
	if in.Repository == "" {
		in.Repository = DefaultSnapshotRepository
	}
	if err := validRepoName("repository", in.Repository); err != nil {
		return err
	}
	if !snapshotNameRE.MatchString(in.Snapshot) {
		return fountain.Invalid("snapshot", "%q is not a snapshot name (lower-case letters, digits, '.', '_', '-')", short(in.Snapshot))
	}
	return validIndexExprs("indices", in.Indices)
}

func validIndexExprs(field string, exprs []string) error {
	for i, e := range exprs {
		if !indexExprRE.MatchString(e) {
			return fountain.Invalid(fmt.Sprintf("%s[%d]", field, i), "%q is not an index name or a * pattern", short(e))
		}
	}
	return nil
}

// OpenSearchRestoreInput restores indices from a snapshot.
type OpenSearchRestoreInput struct {
	HostInput
	Repository         string   `json:"repository,omitempty" maxLength:"64" doc:"The repository (default fountain)."`
	Snapshot           string   `json:"snapshot" maxLength:"128" doc:"The snapshot to restore."`
	Indices            []string `json:"indices,omitempty" maxItems:"100" doc:"The indices to restore (names or * patterns; default all in the snapshot)."`
	RenamePattern      string   `json:"rename_pattern,omitempty" maxLength:"200" doc:"A regular expression on the indices' names; with rename_replacement, they are restored under other names (beside the ones that exist)." example:"(.+)"`
	RenameReplacement  string   `json:"rename_replacement,omitempty" maxLength:"200" doc:"The new names, with $1 for the pattern's groups." example:"restored-$1"`
	IncludeGlobalState bool     `json:"include_global_state,omitempty" doc:"Restore the cluster state too."`
	Partial            bool     `json:"partial,omitempty" doc:"Restore a PARTIAL snapshot's indices (missing shards are empty)."`
}

// Validate checks the request without I/O and fills in defaults.
func (in *OpenSearchRestoreInput) Validate() error {
	if err := in.HostInput.Validate(); err != nil {
		return err
	}
	if in.Repository == "" {
		in.Repository = DefaultSnapshotRepository
	}
	if err := validRepoName("repository", in.Repository); err != nil {
		return err
	}
	if !snapshotNameRE.MatchString(in.Snapshot) {
		return fountain.Invalid("snapshot", "%q is not a snapshot name", short(in.Snapshot))
	}
	if err := validIndexExprs("indices", in.Indices); err != nil {
		return err
	}
	if (in.RenamePattern == "") != (in.RenameReplacement == "") {
		return fountain.Invalid("rename_replacement", "rename_pattern and rename_replacement go together")
	}
	if in.RenamePattern != "" {
		if _, err := regexp.Compile(in.RenamePattern); err != nil {
			return fountain.Invalid("rename_pattern", "%v", err)
		}
	}
	return nil
}

// SnapshotRepository is a registered repository.
type SnapshotRepository struct {
	Name     string            `json:"name" doc:"The repository's name."`
	Type     string            `json:"type" doc:"fs or s3."`
	Settings map[string]string `json:"settings" doc:"Its settings (location; bucket, base_path...)."`
}

// SnapshotInfo is a snapshot as OpenSearch reports it.
type SnapshotInfo struct {
	Repository   string   `json:"repository" doc:"The repository it is in."`
	Name         string   `json:"snapshot" doc:"The snapshot's name."`
	UUID         string   `json:"uuid" doc:"Its UUID."`
	State        string   `json:"state" doc:"IN_PROGRESS, SUCCESS, PARTIAL or FAILED."`
	Reason       string   `json:"reason,omitempty" doc:"Why it failed."`
	Indices      []string `json:"indices" doc:"Its indices."`
	StartMillis  int64    `json:"start_time_in_millis" doc:"When it started (ms since the epoch)."`
	EndMillis    int64    `json:"end_time_in_millis,omitempty" doc:"When it ended."`
	Shards       int      `json:"shards_total" doc:"Its shards."`
	FailedShards int      `json:"shards_failed" doc:"The shards that failed."`
}

// IndexFact is an index of the cluster.
type IndexFact struct {
	Name string
	Open bool
}

// OpenSearchDataFacts is what the snapshot plans decide on.
type OpenSearchDataFacts struct {
	Target    string
	RepoPaths []string // path.repo
	Nodes     int      // the cluster's nodes
	Repos     map[string]SnapshotRepository
	// Snapshots are the snapshots of the repository asked for (none when
	// it is not registered).
	Snapshots []SnapshotInfo
	Indices   []IndexFact
	// For an s3 repository: the plugin is installed; the keystore has the
	// default client's keys; Fountain keeps the ones given for this node.
	S3Plugin, S3Keystore, S3KeysKept bool
}

// Effects of the snapshot plans.
type (
	// osPutRepository registers (or replaces) a repository.
	osPutRepository struct {
		Name, Type string
		Settings   map[string]string
	}
	// osInstallPlugin installs an OpenSearch plugin.
	osInstallPlugin struct{ Name string }
	// osKeystoreS3 puts the request's S3 keys in the keystore, and keeps
	// them (encrypted).
	osKeystoreS3 struct{}
	// osReloadSecureSettings has the nodes read the keystore again.
	osReloadSecureSettings struct{}
	// osRestartNode restarts OpenSearch and waits for it (a plugin).
	osRestartNode struct{ Wait time.Duration }
	// osCreateSnapshot starts a snapshot (without waiting for it).
	osCreateSnapshot struct {
		Repository, Snapshot string
		Indices              []string
		IncludeGlobalState   bool
		Partial              bool
	}
	// osWaitSnapshot follows a snapshot's state to its end.
	osWaitSnapshot struct {
		Repository, Snapshot string
		Partial              bool
		Wait                 time.Duration
	}
	// osRestore restores indices.
	osRestore struct {
		Repository, Snapshot             string
		Indices                          []string
		RenamePattern, RenameReplacement string
		IncludeGlobalState, Partial      bool
	}
	// osWaitIndices waits for indices to be yellow or green.
	osWaitIndices struct {
		Indices []string
		Wait    time.Duration
	}
)

const osSnapshotWait = 30 * time.Minute

// body is the JSON a change sends.
func (e osPutRepository) body() string {
	b, _ := json.Marshal(map[string]any{"type": e.Type, "settings": e.Settings})
	return string(b)
}

func (e osCreateSnapshot) body() string {
	m := map[string]any{"include_global_state": e.IncludeGlobalState, "partial": e.Partial}
	if len(e.Indices) > 0 {
		m["indices"] = strings.Join(e.Indices, ",")
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func (e osRestore) body() string {
	m := map[string]any{"include_global_state": e.IncludeGlobalState, "partial": e.Partial}
	if len(e.Indices) > 0 {
		m["indices"] = strings.Join(e.Indices, ",")
	}
	if e.RenamePattern != "" {
		m["rename_pattern"], m["rename_replacement"] = e.RenamePattern, e.RenameReplacement
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// fsLocation resolves an fs repository's location as OpenSearch does:
// relative to the first path.repo; ok says it is under one of them.
func fsLocation(loc string, repoPaths []string) (string, bool) {
	if len(repoPaths) == 0 {
		return loc, false
	}
	if !path.IsAbs(loc) {
		loc = path.Join(repoPaths[0], loc)
	}
	for _, root := range repoPaths {
		root = path.Clean(root)
		if loc == root || strings.HasPrefix(loc, root+"/") {
			return loc, true
		}
	}
	return loc, false
}

// planRegister is the step that registers a repository, unless it is
// registered with these settings.
func planRegister(name, typ string, settings map[string]string, f OpenSearchDataFacts, what, note string) fountain.Change {
	c := fountain.Change{Name: "repository " + name + ": " + what}
	cur, ok := f.Repos[name]
	switch {
	case ok && cur.Type == typ && sameSettings(cur.Settings, settings):
		c.Reason = "registered with these settings"
		return c
	case !ok:
		c.Reason = "not registered"
	case cur.Type != typ:
		c.Reason = "registered as a " + cur.Type + " repository: registered again as " + typ
	default:
		c.Reason = "registered with other settings (" + settingsText(cur.Settings) + "): registered again"
	}
	c.Reason += note
	e := osPutRepository{Name: name, Type: typ, Settings: settings}
	c.Change, c.Effect = true, e
	c.Calls = []string{"PUT _snapshot/" + name + " " + e.body() + " (OpenSearch verifies that its nodes can write there)"}
	return c
}

func sameSettings(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

func settingsText(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + " " + m[k]
	}
	return strings.Join(parts, ", ")
}

// clusterNote says what a cluster asks of an fs repository.
func clusterNote(f OpenSearchDataFacts) string {
	if f.Nodes > 1 {
		return fmt.Sprintf(" (a cluster of %d nodes: OpenSearch accepts it only if every node sees the directory, a file system they share)", f.Nodes)
	}
	return ""
}

// PlanSnapshotRepository is the plan of registering a repository: for fs,
// its directory under path.repo; for s3, the repository-s3 plugin, the
// keys in the keystore, the restart (a new plugin) or reload (new keys),
// then the registration.
func PlanSnapshotRepository(in OpenSearchRepositoryInput, f OpenSearchDataFacts) (fountain.Plan, error) {
	var p fountain.Plan
	if in.Type == "fs" {
		loc := in.Location
		if loc == "" {
			loc = in.Repository
		}
		if len(f.RepoPaths) == 0 {
			return p, &fountain.Error{Code: fountain.ECONFLICT, Message: "path.repo is not set on " + f.Target + ": OpenSearch takes fs repositories only under it",
				Hint: "deploy-opensearch sets it (snapshot_path, default " + OpenSearchDefaultSnapshotPath + ")"}
		}
		dir, ok := fsLocation(loc, f.RepoPaths)
		if !ok {
			return p, &fountain.Error{Code: fountain.EINVALID, Field: "location",
				Message: fmt.Sprintf("%s is not under path.repo (%s) on %s", dir, strings.Join(f.RepoPaths, ", "), f.Target),
				Hint:    "give a location under it, or deploy-opensearch with that snapshot_path"}
		}
		p.Add(fountain.Change{Name: "path.repo holds " + dir, Reason: dir + " is under " + strings.Join(f.RepoPaths, ", ")})
		p.Add(planRegister(in.Repository, "fs", map[string]string{"location": dir}, f, "fs at "+dir, clusterNote(f)))
		return p, nil
	}
	s := in.S3
	plugin := fountain.Change{Name: "repository-s3 plugin installed", Reason: "installed"}
	if !f.S3Plugin {
		plugin.Change, plugin.Reason, plugin.Effect = true, "not installed", osInstallPlugin{Name: "repository-s3"}
		plugin.Calls = []string{"/usr/share/opensearch/bin/opensearch-plugin install --batch repository-s3"}
	}
	p.Add(plugin)
	keys := fountain.Change{Name: "S3 keys in OpenSearch's keystore", Reason: "s3.client.default.access_key and secret_key are the ones given (Fountain keeps them)"}
	if !f.S3Keystore || !f.S3KeysKept {
		keys.Change, keys.Effect = true, osKeystoreS3{}
		keys.Reason = "the keystore has other keys, or keys Fountain did not put there"
		if !f.S3Keystore {
			keys.Reason = "the keystore has no s3.client.default keys"
		}
		keys.Calls = []string{"opensearch-keystore add --stdin --force s3.client.default.access_key (the value on stdin)",
			"opensearch-keystore add --stdin --force s3.client.default.secret_key (the value on stdin)", "keep both in Fountain's vault (encrypted)"}
	}
	p.Add(keys)
	reload := fountain.Change{Name: "OpenSearch reads the keystore", Reason: "nothing new to read"}
	switch {
	case plugin.Change:
		reload.Change, reload.Reason, reload.Effect = true, "a new plugin: restart OpenSearch once", osRestartNode{Wait: osHealthWait}
		reload.Calls = []string{"systemctl restart opensearch", "GET _cluster/health?wait_for_status=yellow"}
	case keys.Change:
		reload.Change, reload.Reason, reload.Effect = true, "new keys: reload the secure settings (no restart)", osReloadSecureSettings{}
		reload.Calls = []string{"POST _nodes/reload_secure_settings"}
	}
	p.Add(reload)
	settings := map[string]string{"bucket": s.Bucket, "region": s.Region, "endpoint": s.Endpoint}
	where := s.Bucket
	if s.BasePath != "" {
		settings["base_path"] = s.BasePath
		where += "/" + s.BasePath
	}
	note := ""
	if f.Nodes > 1 {
		note = fmt.Sprintf(" (a cluster of %d nodes: each needs the plugin and the keys; register it from each node)", f.Nodes)
	}
	p.Add(planRegister(in.Repository, "s3", settings, f, "s3 bucket "+where, note))
	return p, nil
}

// findSnapshot is the snapshot of that name among the facts', if any.
func findSnapshot(list []SnapshotInfo, name string) (SnapshotInfo, bool) {
	for _, s := range list {
		if s.Name == name {
			return s, true
		}
	}
	return SnapshotInfo{}, false
}

// snapshotSummary says in a line what a snapshot holds.
func snapshotSummary(s SnapshotInfo) string {
	out := fmt.Sprintf("%s, %d %s, %d/%d shards", s.State, len(s.Indices), plural(len(s.Indices), "index", "indices"), s.Shards-s.FailedShards, s.Shards)
	if s.StartMillis > 0 {
		out += ", taken " + time.UnixMilli(s.StartMillis).UTC().Format(time.RFC3339)
	}
	return out
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// PlanSnapshot is the plan of taking a snapshot: the repository (the
// default one is registered by the first snapshot), the snapshot (not
// taken again if it exists), and the wait for its end.
func PlanSnapshot(in OpenSearchSnapshotInput, f OpenSearchDataFacts) (fountain.Plan, error) {
	var p fountain.Plan
	if repo, ok := f.Repos[in.Repository]; ok {
		p.Add(fountain.Change{Name: "repository " + in.Repository, Reason: "registered: " + repo.Type + " " + settingsText(repo.Settings)})
	} else {
		if in.Repository != DefaultSnapshotRepository || len(f.RepoPaths) == 0 {
			return p, &fountain.Error{Code: fountain.ENOTFOUND, Message: "no snapshot repository " + in.Repository + " on " + f.Target,
				Hint: "register it first: POST /services/opensearch/snapshot-repository (or fountain opensearch snapshot repository)"}
		}
		dir, _ := fsLocation(DefaultSnapshotRepository, f.RepoPaths)
		reg := planRegister(in.Repository, "fs", map[string]string{"location": dir}, f, "fs at "+dir, clusterNote(f))
		reg.Name = "repository " + in.Repository
		reg.Reason = "not registered: the default repository, fs at " + dir + " (under path.repo)" + clusterNote(f)
		p.Add(reg)
	}
	take := fountain.Change{Name: "snapshot " + in.Snapshot + " of " + indicesText(in.Indices)}
	if s, ok := findSnapshot(f.Snapshots, in.Snapshot); ok {
		switch s.State {
		case "SUCCESS", "IN_PROGRESS":
			take.Reason = "it exists: " + snapshotSummary(s)
		case "PARTIAL":
			if in.Partial {
				take.Reason = "it exists: " + snapshotSummary(s)
				break
			}
			fallthrough
		default:
			return p, &fountain.Error{Code: fountain.ECONFLICT, Message: fmt.Sprintf("snapshot %s exists in %s and is %s", in.Snapshot, in.Repository, s.State),
				Hint: "take it under another name"}
		}
	} else {
		var missing []string
		for _, e := range in.Indices {
			if !strings.Contains(e, "*") && !slices.ContainsFunc(f.Indices, func(ix IndexFact) bool { return ix.Name == e }) {
				missing = append(missing, e)
			}
		}
		if len(missing) > 0 {
			return p, &fountain.Error{Code: fountain.ENOTFOUND, Field: "indices", Message: "no index " + strings.Join(missing, ", ") + " on " + f.Target}
		}
		e := osCreateSnapshot{Repository: in.Repository, Snapshot: in.Snapshot, Indices: in.Indices, IncludeGlobalState: in.IncludeGlobalState, Partial: in.Partial}
		take.Change, take.Reason, take.Effect = true, "no snapshot "+in.Snapshot+" in "+in.Repository, e
		take.Calls = []string{"PUT _snapshot/" + in.Repository + "/" + in.Snapshot + " " + e.body()}
	}
	p.Add(take)
	p.Add(fountain.Change{Name: "snapshot " + in.Snapshot + " ends SUCCESS", Verify: true,
		Calls:  []string{"GET _snapshot/" + in.Repository + "/" + in.Snapshot + " until its state is not IN_PROGRESS"},
		Effect: osWaitSnapshot{Repository: in.Repository, Snapshot: in.Snapshot, Partial: in.Partial, Wait: osSnapshotWait}})
	return p, nil
}

func indicesText(ix []string) string {
	if len(ix) == 0 {
		return "all indices"
	}
	return strings.Join(ix, ", ")
}

// matchIndex matches a name against an index expression with *.
func matchIndex(expr, name string) bool {
	if !strings.Contains(expr, "*") {
		return expr == name
	}
	re := "^" + strings.ReplaceAll(regexp.QuoteMeta(expr), `\*`, ".*") + "$"
	ok, _ := regexp.MatchString(re, name)
	return ok
}

// javaReplacement turns a Java replacement string ($1, \$), as OpenSearch
// reads rename_replacement, into Go's template syntax (${1}, $$).
func javaReplacement(repl string, groups int) string {
	var b strings.Builder
	for i := 0; i < len(repl); i++ {
		c := repl[i]
		switch {
		case c == '\\' && i+1 < len(repl):
			i++
			if repl[i] == '$' {
				b.WriteString("$$")
			} else {
				b.WriteByte(repl[i])
			}
		case c == '$' && i+1 < len(repl) && repl[i+1] >= '0' && repl[i+1] <= '9':
			j, num := i+1, int(repl[i+1]-'0')
			for j+1 < len(repl) && repl[j+1] >= '0' && repl[j+1] <= '9' && num*10+int(repl[j+1]-'0') <= groups {
				j++
				num = num*10 + int(repl[j]-'0')
			}
			b.WriteString("${" + strconv.Itoa(num) + "}")
			i = j
		case c == '$' && (i+1 >= len(repl) || repl[i+1] != '{'):
			b.WriteString("$$")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// PlanRestore is the plan of a restore: the snapshot (SUCCESS, or PARTIAL
// with partial), its indices as they will be named, none of which may be
// an open index (a closed one is replaced), the restore and the wait for
// the indices.
func PlanRestore(in OpenSearchRestoreInput, f OpenSearchDataFacts) (fountain.Plan, error) {
	var p fountain.Plan
	if _, ok := f.Repos[in.Repository]; !ok {
		return p, fountain.Errorf(fountain.ENOTFOUND, "no snapshot repository %s on %s", in.Repository, f.Target)
	}
	s, ok := findSnapshot(f.Snapshots, in.Snapshot)
	if !ok {
		return p, fountain.Errorf(fountain.ENOTFOUND, "no snapshot %s in %s on %s", in.Snapshot, in.Repository, f.Target)
	}
	if s.State != "SUCCESS" && !(s.State == "PARTIAL" && in.Partial) {
		return p, &fountain.Error{Code: fountain.ECONFLICT, Message: fmt.Sprintf("snapshot %s is %s: only a SUCCESS snapshot is restored", in.Snapshot, s.State),
			Hint: "a PARTIAL one with partial: true"}
	}
	p.Add(fountain.Change{Name: "snapshot " + in.Snapshot + " in " + in.Repository, Reason: snapshotSummary(s)})
	var sources []string
	for _, name := range s.Indices {
		if len(in.Indices) == 0 || slices.ContainsFunc(in.Indices, func(e string) bool { return matchIndex(e, name) }) {
			sources = append(sources, name)
		}
	}
	for _, e := range in.Indices {
		if !strings.Contains(e, "*") && !slices.Contains(s.Indices, e) {
			return p, &fountain.Error{Code: fountain.ENOTFOUND, Field: "indices", Message: fmt.Sprintf("snapshot %s has no index %s (it has %s)", in.Snapshot, e, strings.Join(s.Indices, ", "))}
		}
	}
	sort.Strings(sources)
	var re *regexp.Regexp
	repl := ""
	if in.RenamePattern != "" {
		re = regexp.MustCompile(in.RenamePattern) // Validate compiled it
		repl = javaReplacement(in.RenameReplacement, re.NumSubexp())
	}
	var pairs, open, replaced []string
	for _, name := range sources {
		target := name
		if re != nil {
			target = re.ReplaceAllString(name, repl)
		}
		if target == name {
			pairs = append(pairs, name)
		} else {
			pairs = append(pairs, name+" as "+target)
		}
		i := slices.IndexFunc(f.Indices, func(ix IndexFact) bool { return ix.Name == target })
		switch {
		case i < 0:
		case f.Indices[i].Open:
			open = append(open, target)
		default:
			replaced = append(replaced, target)
		}
	}
	if len(sources) == 0 {
		return p, &fountain.Error{Code: fountain.ENOTFOUND, Field: "indices", Message: "snapshot " + in.Snapshot + " has no index that matches " + indicesText(in.Indices)}
	}
	if len(open) > 0 {
		return p, &fountain.Error{Code: fountain.ECONFLICT, Field: "indices",
			Message: fmt.Sprintf("%s exists on %s and is open: OpenSearch restores an index only where none is, or a closed one", strings.Join(open, ", "), f.Target),
			Hint:    "delete or close it first, or restore under other names with rename_pattern and rename_replacement"}
	}
	e := osRestore{Repository: in.Repository, Snapshot: in.Snapshot, Indices: in.Indices, RenamePattern: in.RenamePattern, RenameReplacement: in.RenameReplacement,
		IncludeGlobalState: in.IncludeGlobalState, Partial: in.Partial}
	reason := "restore " + strings.Join(pairs, ", ")
	if len(replaced) > 0 {
		reason += " (replacing the closed " + strings.Join(replaced, ", ") + ")"
	}
	p.Add(fountain.Change{Name: "restore " + indicesText(sources) + " from " + in.Snapshot, Change: true, Reason: reason, Effect: e,
		Calls: []string{"POST _snapshot/" + in.Repository + "/" + in.Snapshot + "/_restore " + e.body()}})
	targets := make([]string, len(sources))
	for i, name := range sources {
		targets[i] = name
		if re != nil {
			targets[i] = re.ReplaceAllString(name, repl)
		}
	}
	p.Add(fountain.Change{Name: "restored indices yellow or green", Verify: true,
		Calls:  []string{"GET _cluster/health/" + strings.Join(targets, ",") + "?wait_for_status=yellow"},
		Effect: osWaitIndices{Indices: targets, Wait: osHealthWait}})
	return p, nil
}
