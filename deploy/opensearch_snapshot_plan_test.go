package deploy

import (
	"strings"
	"testing"
	"time"

	"github.com/fountainai/fountain"
)

// The snapshot plans, by exact value from hand-written facts.

var osHost = HostInput{InstanceIP: "203.0.113.7", SSHKeyPath: "/k"}

// osData1 is a single node with path.repo, no repository, two indices.
func osData1() OpenSearchDataFacts {
	return OpenSearchDataFacts{Target: "203.0.113.7 (search-1)", RepoPaths: []string{"/var/backups/opensearch"}, Nodes: 1,
		Repos: map[string]SnapshotRepository{}, Indices: []IndexFact{{"books", true}, {"logs-1", true}}}
}

func osWithRepo(f OpenSearchDataFacts, snaps ...SnapshotInfo) OpenSearchDataFacts {
	f.Repos = map[string]SnapshotRepository{"fountain": {Name: "fountain", Type: "fs", Settings: map[string]string{"location": "/var/backups/opensearch/fountain"}}}
	f.Snapshots = snaps
	return f
}

var osNightly = SnapshotInfo{Repository: "fountain", Name: "nightly-1", UUID: "u1", State: "SUCCESS", Indices: []string{"books", "logs-1"},
	StartMillis: 1767225600000, EndMillis: 1767225600120, Shards: 2}

func osErr(t *testing.T, what string, err error, code, msg string) {
	t.Helper()
	fe, ok := err.(*fountain.Error)
	if !ok || fe.Code != code || fe.Message != msg {
		t.Errorf("%s: %v, want %s %q", what, err, code, msg)
	}
}

func TestPlanSnapshotRepositoryFS(t *testing.T) {
	in := OpenSearchRepositoryInput{HostInput: osHost}
	if err := in.Validate(); err != nil {
		t.Fatal(err)
	}
	p, err := PlanSnapshotRepository(in, osData1())
	if err != nil {
		t.Fatal(err)
	}
	osEqual(t, "fresh", p, fountain.Plan{Changes: []fountain.Change{
		{Name: "path.repo holds /var/backups/opensearch/fountain", Reason: "/var/backups/opensearch/fountain is under /var/backups/opensearch"},
		{Name: "repository fountain: fs at /var/backups/opensearch/fountain", Change: true, Reason: "not registered",
			Calls:  []string{`PUT _snapshot/fountain {"settings":{"location":"/var/backups/opensearch/fountain"},"type":"fs"} (OpenSearch verifies that its nodes can write there)`},
			Effect: osPutRepository{Name: "fountain", Type: "fs", Settings: map[string]string{"location": "/var/backups/opensearch/fountain"}}},
	}})
	// Registered as asked: nothing; on a cluster, the plan says what
	// OpenSearch will ask of the directory.
	if p, _ := PlanSnapshotRepository(in, osWithRepo(osData1())); p.Changed() || p.Changes[1].Reason != "registered with these settings" {
		t.Errorf("registered: %#v", p)
	}
	f := osData1()
	f.Nodes = 3
	f.Repos = map[string]SnapshotRepository{"fountain": {Name: "fountain", Type: "fs", Settings: map[string]string{"location": "/mnt/old"}}}
	p, _ = PlanSnapshotRepository(in, f)
	osEqual(t, "cluster", p.Changes[1].Reason, "registered with other settings (location /mnt/old): registered again (a cluster of 3 nodes: OpenSearch accepts it only if every node sees the directory, a file system they share)")

	in.Location = "/mnt/snapshots"
	_, err = PlanSnapshotRepository(in, osData1())
	osErr(t, "outside path.repo", err, fountain.EINVALID, "/mnt/snapshots is not under path.repo (/var/backups/opensearch) on 203.0.113.7 (search-1)")
	f = osData1()
	f.RepoPaths = nil
	_, err = PlanSnapshotRepository(in, f)
	osErr(t, "no path.repo", err, fountain.ECONFLICT, "path.repo is not set on 203.0.113.7 (search-1): OpenSearch takes fs repositories only under it")
	in.Location = "weekly"
	p, _ = PlanSnapshotRepository(in, osData1())
	osEqual(t, "relative", p.Changes[1].Effect, osPutRepository{Name: "fountain", Type: "fs", Settings: map[string]string{"location": "/var/backups/opensearch/weekly"}})
}

func TestPlanSnapshotRepositoryS3(t *testing.T) {
	const secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	in := OpenSearchRepositoryInput{HostInput: osHost, Repository: "offsite", Type: "s3",
		S3: &OpenSearchS3Input{Bucket: "search-snapshots", Region: "eu-central-1", BasePath: "logs", AccessKeyID: "AKIAIOSFODNN7EXAMPLE", SecretAccessKey: secret}}
	if err := in.Validate(); err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{"bucket": "search-snapshots", "region": "eu-central-1", "endpoint": "s3.eu-central-1.amazonaws.com", "base_path": "logs"}
	p, err := PlanSnapshotRepository(in, osData1())
	if err != nil {
		t.Fatal(err)
	}
	osEqual(t, "fresh", p, fountain.Plan{Changes: []fountain.Change{
		{Name: "repository-s3 plugin installed", Change: true, Reason: "not installed",
			Calls: []string{"/usr/share/opensearch/bin/opensearch-plugin install --batch repository-s3"}, Effect: osInstallPlugin{Name: "repository-s3"}},
		{Name: "S3 keys in OpenSearch's keystore", Change: true, Reason: "the keystore has no s3.client.default keys",
			Calls: []string{"opensearch-keystore add --stdin --force s3.client.default.access_key (the value on stdin)",
				"opensearch-keystore add --stdin --force s3.client.default.secret_key (the value on stdin)", "keep both in Fountain's vault (encrypted)"},
			Effect: osKeystoreS3{}},
		{Name: "OpenSearch reads the keystore", Change: true, Reason: "a new plugin: restart OpenSearch once",
			Calls: []string{"systemctl restart opensearch", "GET _cluster/health?wait_for_status=yellow"}, Effect: osRestartNode{Wait: 3 * time.Minute}},
		{Name: "repository offsite: s3 bucket search-snapshots/logs", Change: true, Reason: "not registered",
			Calls:  []string{`PUT _snapshot/offsite {"settings":{"base_path":"logs","bucket":"search-snapshots","endpoint":"s3.eu-central-1.amazonaws.com","region":"eu-central-1"},"type":"s3"} (OpenSearch verifies that its nodes can write there)`},
			Effect: osPutRepository{Name: "offsite", Type: "s3", Settings: settings}},
	}})
	if strings.Contains(strings.Join(p.Steps()[1].Calls, " "), secret) || strings.Contains(p.Summary(), secret) {
		t.Fatal("the secret is in the plan")
	}
	// Plugin there, other keys: the keys, and a reload without a restart.
	f := osData1()
	f.S3Plugin, f.S3Keystore = true, true
	p, _ = PlanSnapshotRepository(in, f)
	osEqual(t, "new keys", osChanged(p), []string{"S3 keys in OpenSearch's keystore", "OpenSearch reads the keystore", "repository offsite: s3 bucket search-snapshots/logs"})
	osEqual(t, "reload", p.Changes[2].Effect, osReloadSecureSettings{})
	// All there: nothing.
	f.S3KeysKept = true
	f.Repos = map[string]SnapshotRepository{"offsite": {Name: "offsite", Type: "s3", Settings: settings}}
	if p, _ = PlanSnapshotRepository(in, f); p.Changed() {
		t.Errorf("all there: %v", osChanged(p))
	}

	for _, bad := range []func(*OpenSearchRepositoryInput){
		func(in *OpenSearchRepositoryInput) { in.S3 = nil },
		func(in *OpenSearchRepositoryInput) { in.S3.Bucket = "Bad_Bucket" },
		func(in *OpenSearchRepositoryInput) { in.S3.BasePath = "/abs" },
		func(in *OpenSearchRepositoryInput) { in.S3.BasePath = "a/../b" },
		func(in *OpenSearchRepositoryInput) { in.S3.SecretAccessKey = "short" },
		func(in *OpenSearchRepositoryInput) { in.Type = "hdfs" },
		func(in *OpenSearchRepositoryInput) { in.Repository = "Off Site" },
	} {
		c := OpenSearchRepositoryInput{HostInput: osHost, Type: "s3", S3: &OpenSearchS3Input{Bucket: "b-1", Region: "eu-central-1", AccessKeyID: "AKIAIOSFODNN7EXAMPLE", SecretAccessKey: secret}}
		bad(&c)
		if err := c.Validate(); fountain.ErrorCode(err) != fountain.EINVALID {
			t.Errorf("%+v: %v", c, err)
		}
	}
}

func TestPlanSnapshot(t *testing.T) {
	in := OpenSearchSnapshotInput{HostInput: osHost, Snapshot: "nightly-1"}
	if err := in.Validate(); err != nil {
		t.Fatal(err)
	}
	wait := fountain.Change{Name: "snapshot nightly-1 ends SUCCESS", Verify: true, Calls: []string{"GET _snapshot/fountain/nightly-1 until its state is not IN_PROGRESS"},
		Effect: osWaitSnapshot{Repository: "fountain", Snapshot: "nightly-1", Wait: 30 * time.Minute}}
	p, err := PlanSnapshot(in, osData1())
	if err != nil {
		t.Fatal(err)
	}
	osEqual(t, "first snapshot", p, fountain.Plan{Changes: []fountain.Change{
		{Name: "repository fountain", Change: true, Reason: "not registered: the default repository, fs at /var/backups/opensearch/fountain (under path.repo)",
			Calls:  []string{`PUT _snapshot/fountain {"settings":{"location":"/var/backups/opensearch/fountain"},"type":"fs"} (OpenSearch verifies that its nodes can write there)`},
			Effect: osPutRepository{Name: "fountain", Type: "fs", Settings: map[string]string{"location": "/var/backups/opensearch/fountain"}}},
		{Name: "snapshot nightly-1 of all indices", Change: true, Reason: "no snapshot nightly-1 in fountain",
			Calls: []string{`PUT _snapshot/fountain/nightly-1 {"include_global_state":false,"partial":false}`}, Effect: osCreateSnapshot{Repository: "fountain", Snapshot: "nightly-1"}},
		wait,
	}})
	// Taken already: nothing changes; the wait reports it.
	p, _ = PlanSnapshot(in, osWithRepo(osData1(), osNightly))
	osEqual(t, "again", p, fountain.Plan{Changes: []fountain.Change{
		{Name: "repository fountain", Reason: "registered: fs location /var/backups/opensearch/fountain"},
		{Name: "snapshot nightly-1 of all indices", Reason: "it exists: SUCCESS, 2 indices, 2/2 shards, taken 2026-01-01T00:00:00Z"},
		wait,
	}})
	failed := osNightly
	failed.State = "FAILED"
	_, err = PlanSnapshot(in, osWithRepo(osData1(), failed))
	osErr(t, "failed", err, fountain.ECONFLICT, "snapshot nightly-1 exists in fountain and is FAILED")
	in.Indices = []string{"books", "logs-*", "gone"}
	_, err = PlanSnapshot(in, osWithRepo(osData1()))
	osErr(t, "missing index", err, fountain.ENOTFOUND, "no index gone on 203.0.113.7 (search-1)")
	in.Indices, in.Repository = []string{"books"}, "offsite"
	_, err = PlanSnapshot(in, osData1())
	osErr(t, "missing repository", err, fountain.ENOTFOUND, "no snapshot repository offsite on 203.0.113.7 (search-1)")
	for _, bad := range []OpenSearchSnapshotInput{{Snapshot: "Nightly"}, {Snapshot: ""}, {Snapshot: "a b"}, {Snapshot: "ok", Indices: []string{"-x"}}, {Snapshot: "ok", Repository: "_x"}} {
		bad.HostInput = osHost
		if err := bad.Validate(); fountain.ErrorCode(err) != fountain.EINVALID {
			t.Errorf("%+v: %v", bad, err)
		}
	}
}

func TestPlanRestore(t *testing.T) {
	in := OpenSearchRestoreInput{HostInput: osHost, Snapshot: "nightly-1", Indices: []string{"books"}}
	if err := in.Validate(); err != nil {
		t.Fatal(err)
	}
	// The acceptance: the index was deleted; it comes back.
	f := osWithRepo(osData1(), osNightly)
	f.Indices = []IndexFact{{"logs-1", true}}
	p, err := PlanRestore(in, f)
	if err != nil {
		t.Fatal(err)
	}
	osEqual(t, "deleted index", p, fountain.Plan{Changes: []fountain.Change{
		{Name: "snapshot nightly-1 in fountain", Reason: "SUCCESS, 2 indices, 2/2 shards, taken 2026-01-01T00:00:00Z"},
		{Name: "restore books from nightly-1", Change: true, Reason: "restore books",
			Calls:  []string{`POST _snapshot/fountain/nightly-1/_restore {"include_global_state":false,"indices":"books","partial":false}`},
			Effect: osRestore{Repository: "fountain", Snapshot: "nightly-1", Indices: []string{"books"}}},
		{Name: "restored indices yellow or green", Verify: true, Calls: []string{"GET _cluster/health/books?wait_for_status=yellow"},
			Effect: osWaitIndices{Indices: []string{"books"}, Wait: 3 * time.Minute}},
	}})
	// Over an open index: refused, before anything.
	_, err = PlanRestore(in, osWithRepo(osData1(), osNightly))
	osErr(t, "open index", err, fountain.ECONFLICT, "books exists on 203.0.113.7 (search-1) and is open: OpenSearch restores an index only where none is, or a closed one")
	// Renamed beside it (Java's $1), and a closed one replaced.
	in = OpenSearchRestoreInput{HostInput: osHost, Snapshot: "nightly-1", RenamePattern: "(.+)", RenameReplacement: "$1_restored"}
	if err := in.Validate(); err != nil {
		t.Fatal(err)
	}
	f = osWithRepo(osData1(), osNightly)
	f.Indices = append(f.Indices, IndexFact{"logs-1_restored", false})
	p, err = PlanRestore(in, f)
	if err != nil {
		t.Fatal(err)
	}
	osEqual(t, "renamed", p.Changes[1].Reason, "restore books as books_restored, logs-1 as logs-1_restored (replacing the closed logs-1_restored)")
	osEqual(t, "renamed wait", p.Changes[2].Effect, osWaitIndices{Indices: []string{"books_restored", "logs-1_restored"}, Wait: 3 * time.Minute})

	in = OpenSearchRestoreInput{HostInput: osHost, Snapshot: "nightly-2", Repository: "fountain"}
	_, err = PlanRestore(in, osWithRepo(osData1(), osNightly))
	osErr(t, "no snapshot", err, fountain.ENOTFOUND, "no snapshot nightly-2 in fountain on 203.0.113.7 (search-1)")
	partial := osNightly
	partial.State, partial.FailedShards = "PARTIAL", 1
	in.Snapshot = "nightly-1"
	_, err = PlanRestore(in, osWithRepo(osData1(), partial))
	osErr(t, "partial", err, fountain.ECONFLICT, "snapshot nightly-1 is PARTIAL: only a SUCCESS snapshot is restored")
	in.Indices = []string{"nope"}
	_, err = PlanRestore(in, osWithRepo(osData1(), osNightly))
	osErr(t, "not in the snapshot", err, fountain.ENOTFOUND, "snapshot nightly-1 has no index nope (it has books, logs-1)")
	for _, bad := range []OpenSearchRestoreInput{{Snapshot: "s", RenamePattern: "("}, {Snapshot: "s", RenamePattern: "x"}, {Snapshot: "S"}} {
		bad.HostInput = osHost
		if bad.RenamePattern == "(" {
			bad.RenameReplacement = "y"
		}
		if err := bad.Validate(); fountain.ErrorCode(err) != fountain.EINVALID {
			t.Errorf("%+v: %v", bad, err)
		}
	}
}

func TestJavaReplacement(t *testing.T) {
	for _, c := range []struct {
		repl   string
		groups int
		want   string
	}{{"$1_restored", 1, "${1}_restored"}, {`\$1`, 1, "$$1"}, {"$12", 1, "${1}2"}, {"$12", 12, "${12}"}, {"${name}", 1, "${name}"}, {"a$", 0, "a$$"}} {
		if got := javaReplacement(c.repl, c.groups); got != c.want {
			t.Errorf("%q (%d groups): %q, want %q", c.repl, c.groups, got, c.want)
		}
	}
}

func TestRepoPaths(t *testing.T) {
	for yml, want := range map[string][]string{
		"path.repo: /var/backups/opensearch\n":   {"/var/backups/opensearch"},
		"path.repo: [\"/a\", \"/b\"]\n":          {"/a", "/b"},
		"path.repo: /a,/b\n":                     {"/a", "/b"},
		"cluster.name: x\n":                      nil,
		"path.repo: \"/var/backups/opensearch\"": {"/var/backups/opensearch"},
	} {
		osEqual(t, yml, repoPaths(yml), want)
	}
}
