package opensearch

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opensearch-project/opensearch-go/v4"
	"github.com/opensearch-project/opensearch-go/v4/opensearchapi"
	"golang.org/x/crypto/bcrypt"
)

// startNodeWith serves a single node whose opensearch.yml has extra
// settings, with its data in dataDir ("" for a new one).
func startNodeWith(t *testing.T, extra, dataDir string) (*Node, string, func()) {
	t.Helper()
	dir := writeConf(t, "cluster.name: sandbox\nnode.name: node-1\nnetwork.host: 127.0.0.1\nhttp.port: 0\ndiscovery.type: single-node\n"+extra, "-Xms1g\n-Xmx1g\n")
	if err := WriteInternalUsers(dir, fastHash(t)); err != nil {
		t.Fatal(err)
	}
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	n, err := New(Options{ConfDir: dir, DataDir: dataDir, System: noLimits(t), Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	ls, err := n.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Serve(ctx, ls) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			if err := <-done; err != nil {
				t.Error(err)
			}
		}
	}
	t.Cleanup(stop)
	return n, "https://" + ls[0].Addr().String(), stop
}

var fast struct {
	once sync.Once
	hash string
}

// fastHash is the admin password's bcrypt hash at the least cost: the
// tests' logins stay fast under the race detector.
func fastHash(t *testing.T) string {
	fast.once.Do(func() {
		h, err := bcrypt.GenerateFromPassword([]byte(testPassword), bcrypt.MinCost)
		if err != nil {
			panic(err)
		}
		fast.hash = string(h)
	})
	return fast.hash
}

func client(t *testing.T, base string) *opensearchapi.Client {
	t.Helper()
	c, err := opensearchapi.NewClient(opensearchapi.Config{Client: opensearch.Config{
		Addresses: []string{base}, Username: "admin", Password: testPassword, Transport: insecure(), DisableRetry: true,
	}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The _snapshot API's errors, body for body, as OpenSearch writes them.
func TestSnapshotRepositoryErrors(t *testing.T) {
	_, bare, _ := startNodeWith(t, "", "")
	repoDir := t.TempDir()
	_, base, _ := startNodeWith(t, "path.repo: ["+repoDir+"]\n", "")
	cases := []struct {
		base, method, path, body string
		status                   int
		want                     string
	}{
		{bare, "PUT", "/_snapshot/backups", `{"type":"fs","settings":{"location":"/mnt/snapshots"}}`, 500,
			`{"error":{"root_cause":[{"type":"repository_exception","reason":"[backups] location [/mnt/snapshots] doesn't match any of the locations specified by path.repo because this setting is empty"}],"type":"repository_exception","reason":"[backups] failed to create repository","caused_by":{"type":"repository_exception","reason":"[backups] location [/mnt/snapshots] doesn't match any of the locations specified by path.repo because this setting is empty"}},"status":500}`},
		{base, "PUT", "/_snapshot/backups", `{"type":"fs","settings":{"location":"/mnt/snapshots"}}`, 500,
			`{"error":{"root_cause":[{"type":"repository_exception","reason":"[backups] location [/mnt/snapshots] doesn't match any of the locations specified by path.repo"}],"type":"repository_exception","reason":"[backups] failed to create repository","caused_by":{"type":"repository_exception","reason":"[backups] location [/mnt/snapshots] doesn't match any of the locations specified by path.repo"}},"status":500}`},
		{base, "PUT", "/_snapshot/backups", `{"type":"s3","settings":{"bucket":"b"}}`, 500,
			`{"error":{"root_cause":[{"type":"repository_exception","reason":"[backups] repository type [s3] does not exist"}],"type":"repository_exception","reason":"[backups] repository type [s3] does not exist"},"status":500}`},
		{base, "PUT", "/_snapshot/backups", `{"settings":{}}`, 400,
			`{"error":{"root_cause":[{"type":"action_request_validation_exception","reason":"Validation Failed: 1: type is missing;"}],"type":"action_request_validation_exception","reason":"Validation Failed: 1: type is missing;"},"status":400}`},
		{base, "GET", "/_snapshot/backups", "", 404,
			`{"error":{"root_cause":[{"type":"repository_missing_exception","reason":"[backups] missing"}],"type":"repository_missing_exception","reason":"[backups] missing"},"status":404}`},
		{base, "PUT", "/_snapshot/backups", `{"type":"fs","settings":{"location":"backups","compress":true}}`, 200, `{"acknowledged":true}`},
		{base, "GET", "/_snapshot/backups", "", 200, `{"backups":{"type":"fs","settings":{"compress":"true","location":"backups"}}}`},
		{base, "GET", "/_snapshot", "", 200, `{"backups":{"type":"fs","settings":{"compress":"true","location":"backups"}}}`},
		{base, "PUT", "/_snapshot/backups/Nightly", "", 400,
			`{"error":{"root_cause":[{"type":"invalid_snapshot_name_exception","reason":"[backups:Nightly] Invalid snapshot name [Nightly], must be lowercase"}],"type":"invalid_snapshot_name_exception","reason":"[backups:Nightly] Invalid snapshot name [Nightly], must be lowercase"},"status":400}`},
		{base, "PUT", "/_snapshot/nope/s1", "", 404,
			`{"error":{"root_cause":[{"type":"repository_missing_exception","reason":"[nope] missing"}],"type":"repository_missing_exception","reason":"[nope] missing"},"status":404}`},
		{base, "PUT", "/_snapshot/backups/s1", `{"indices":"missing"}`, 404,
			`{"error":{"root_cause":[{"type":"index_not_found_exception","reason":"no such index [missing]","index":"missing","resource.id":"missing","resource.type":"index_or_alias","index_uuid":"_na_"}],"type":"index_not_found_exception","reason":"no such index [missing]","index":"missing","resource.id":"missing","resource.type":"index_or_alias","index_uuid":"_na_"},"status":404}`},
		{base, "GET", "/_snapshot/backups/s1", "", 404,
			`{"error":{"root_cause":[{"type":"snapshot_missing_exception","reason":"[backups:s1] is missing"}],"type":"snapshot_missing_exception","reason":"[backups:s1] is missing"},"status":404}`},
		{base, "GET", "/_snapshot/backups/_all", "", 200, `{"snapshots":[]}`},
		{base, "POST", "/_snapshot/backups/s1/_restore", "", 500,
			`{"error":{"root_cause":[{"type":"snapshot_restore_exception","reason":"[backups:s1] snapshot does not exist"}],"type":"snapshot_restore_exception","reason":"[backups:s1] snapshot does not exist"},"status":500}`},
	}
	for _, c := range cases {
		resp, body := rawDo(t, c.method, c.base+c.path, "admin", testPassword, c.body)
		if resp.StatusCode != c.status || body != c.want {
			t.Errorf("%s %s: %d\n%s\nwant %d\n%s", c.method, c.path, resp.StatusCode, body, c.status, c.want)
		}
	}
	if st, err := os.Stat(filepath.Join(repoDir, "backups")); err != nil || !st.IsDir() {
		t.Errorf("the repository's directory under path.repo: %v", err)
	}
}

// An index with documents: snapshot, delete the index, restore: the same
// documents are there; the snapshot lives in the repository's directory,
// and outlives the node.
func TestSnapshotRestore(t *testing.T) {
	ctx := context.Background()
	repoDir, dataDir := t.TempDir(), t.TempDir()
	_, base, stop := startNodeWith(t, "path.repo: "+repoDir+"\n", dataDir)
	c := client(t, base)
	if _, err := c.Snapshot.Repository.Create(ctx, opensearchapi.SnapshotRepositoryCreateReq{Repo: "backups",
		Body: strings.NewReader(`{"type":"fs","settings":{"location":"` + repoDir + `/backups"}}`)}); err != nil {
		t.Fatal(err)
	}
	docs := map[string]string{"1": `{"title":"one"}`, "2": `{"title":"two"}`, "3": `{"title":"three"}`}
	for id, src := range docs {
		if _, err := c.Index(ctx, opensearchapi.IndexReq{Index: "books", DocumentID: id, Body: strings.NewReader(src)}); err != nil {
			t.Fatal(err)
		}
	}
	wait := true
	created, err := c.Snapshot.Create(ctx, opensearchapi.SnapshotCreateReq{Repo: "backups", Snapshot: "nightly-1",
		Body: strings.NewReader(`{"indices":"books","include_global_state":false}`), Params: opensearchapi.SnapshotCreateParams{WaitForCompletion: &wait}})
	if err != nil {
		t.Fatal(err)
	}
	if s := created.Snapshot; s.State != "SUCCESS" || s.Snapshot != "nightly-1" || len(s.Indices) != 1 || s.Indices[0] != "books" ||
		s.Shards.Total != 1 || s.Shards.Successful != 1 || s.Version != "2.19.1" || s.VersionID != 136387927 || s.IncludeGlobalState {
		t.Fatalf("created: %+v", s)
	}
	// The same name again, and the state of one taken in the background.
	_, err = c.Snapshot.Create(ctx, opensearchapi.SnapshotCreateReq{Repo: "backups", Snapshot: "nightly-1"})
	var se *opensearch.StructError
	if !errors.As(err, &se) || se.Status != 400 || se.Err.Type != "invalid_snapshot_name_exception" ||
		se.Err.Reason != "[backups:nightly-1] Invalid snapshot name [nightly-1], snapshot with the same name already exists" {
		t.Errorf("the same name again: %v", err)
	}
	accepted, err := c.Snapshot.Create(ctx, opensearchapi.SnapshotCreateReq{Repo: "backups", Snapshot: "nightly-2"})
	if err != nil || !accepted.Accepted {
		t.Fatalf("in the background: %+v %v", accepted, err)
	}
	var list *opensearchapi.SnapshotGetResp
	for deadline := time.Now().Add(10 * time.Second); ; {
		list, err = c.Snapshot.Get(ctx, opensearchapi.SnapshotGetReq{Repo: "backups", Snapshots: []string{"_all"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Snapshots) == 2 && list.Snapshots[1].State == "SUCCESS" || time.Now().After(deadline) {
			break
		}
		if s := list.Snapshots[1]; s.State != "IN_PROGRESS" || s.EndTimeInMillis != 0 {
			t.Fatalf("in progress: %+v", s)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(list.Snapshots) != 2 || list.Snapshots[0].Snapshot != "nightly-1" || list.Snapshots[1].Snapshot != "nightly-2" ||
		list.Snapshots[1].State != "SUCCESS" || list.Snapshots[1].DurationInMillis < 0 {
		t.Fatalf("list: %+v", list.Snapshots)
	}

	// Restoring over the open index is refused, with OpenSearch's words.
	resp, body := rawDo(t, "POST", base+"/_snapshot/backups/nightly-1/_restore", "admin", testPassword, `{"indices":"books"}`)
	uuid := list.Snapshots[0].UUID
	want := `{"error":{"root_cause":[{"type":"snapshot_restore_exception","reason":"[backups:nightly-1/` + uuid + `] cannot restore index [books] because an open index with same name already exists in the cluster. Either close or delete the existing index or restore the index under a different name by providing a rename pattern and replacement name"}],"type":"snapshot_restore_exception","reason":"[backups:nightly-1/` + uuid + `] cannot restore index [books] because an open index with same name already exists in the cluster. Either close or delete the existing index or restore the index under a different name by providing a rename pattern and replacement name"},"status":500}`
	if resp.StatusCode != 500 || body != want {
		t.Errorf("restore over an open index: %d\n%s\nwant\n%s", resp.StatusCode, body, want)
	}
	// Under another name (Java's $1), beside it.
	resp, body = rawDo(t, "POST", base+"/_snapshot/backups/nightly-1/_restore?wait_for_completion=true", "admin", testPassword,
		`{"indices":"books","rename_pattern":"(.+)","rename_replacement":"$1_restored"}`)
	if resp.StatusCode != 200 || body != `{"snapshot":{"snapshot":"nightly-1","indices":["books_restored"],"shards":{"total":1,"failed":0,"successful":1}}}` {
		t.Errorf("restore renamed: %d %s", resp.StatusCode, body)
	}
	// A closed index answers no search, and a restore replaces it.
	rawDo(t, "POST", base+"/books_restored/_close", "admin", testPassword, "")
	if resp, body := rawDo(t, "GET", base+"/books_restored/_search", "admin", testPassword, ""); resp.StatusCode != 400 || !strings.Contains(body, `"type":"index_closed_exception","reason":"closed"`) {
		t.Errorf("search a closed index: %d %s", resp.StatusCode, body)
	}
	if resp, body := rawDo(t, "POST", base+"/_snapshot/backups/nightly-1/_restore", "admin", testPassword,
		`{"indices":"books","rename_pattern":"books","rename_replacement":"books_restored"}`); resp.StatusCode != 200 || body != `{"accepted":true}` {
		t.Errorf("restore over a closed index: %d %s", resp.StatusCode, body)
	}

	// The acceptance: delete the index, restore it: the same documents.
	if _, err := c.Indices.Delete(ctx, opensearchapi.IndicesDeleteReq{Indices: []string{"books"}}); err != nil {
		t.Fatal(err)
	}
	stop() // and the snapshots outlive the node
	_, base, _ = startNodeWith(t, "path.repo: "+repoDir+"\n", dataDir)
	c = client(t, base)
	restored, err := c.Snapshot.Restore(ctx, opensearchapi.SnapshotRestoreReq{Repo: "backups", Snapshot: "nightly-1",
		Body: strings.NewReader(`{"indices":"books"}`), Params: opensearchapi.SnapshotRestoreParams{WaitForCompletion: &wait}})
	if err != nil || len(restored.Snapshot.Indices) != 1 || restored.Snapshot.Shards.Successful != 1 {
		t.Fatalf("restore: %+v %v", restored, err)
	}
	for _, index := range []string{"books", "books_restored"} {
		sr, err := c.Search(ctx, &opensearchapi.SearchReq{Indices: []string{index}, Params: opensearchapi.SearchParams{Size: opensearchapi.ToPointer(10)}})
		if err != nil || sr.Hits.Total.Value != 3 {
			t.Fatalf("%s: %+v %v", index, sr, err)
		}
		for _, h := range sr.Hits.Hits {
			if string(h.Source) != docs[h.ID] {
				t.Errorf("%s/%s: %s, want %s", index, h.ID, h.Source, docs[h.ID])
			}
		}
	}
	cat, err := c.Cat.Indices(ctx, &opensearchapi.CatIndicesReq{Params: opensearchapi.CatIndicesParams{H: []string{"index", "status", "docs.count"}}})
	if err != nil || len(cat.Indices) != 2 || cat.Indices[0].Index != "books" || cat.Indices[1].Index != "books_restored" ||
		cat.Indices[0].Status != "open" || *cat.Indices[1].DocsCount != 3 {
		t.Errorf("_cat/indices: %+v %v", cat, err)
	}
	files, _ := filepath.Glob(filepath.Join(repoDir, "backups", "*.dat"))
	if len(files) != 4 {
		t.Errorf("the repository holds %v", files)
	}
	if _, err := c.Snapshot.Delete(ctx, opensearchapi.SnapshotDeleteReq{Repo: "backups", Snapshots: []string{"nightly-2"}}); err != nil {
		t.Fatal(err)
	}
	list, err = c.Snapshot.Get(ctx, opensearchapi.SnapshotGetReq{Repo: "backups", Snapshots: []string{"*"}})
	if b, _ := json.Marshal(list.Snapshots); err != nil || len(list.Snapshots) != 1 {
		t.Errorf("after a delete: %s %v", b, err)
	}
}

func TestJavaReplacement(t *testing.T) {
	for _, c := range []struct {
		repl   string
		groups int
		want   string
	}{{"$1_restored", 1, "${1}_restored"}, {"restored_$1", 1, "restored_${1}"}, {`\$1`, 1, "$$1"}, {"$12", 1, "${1}2"}, {"$12", 12, "${12}"}} {
		if got := javaReplacement(c.repl, c.groups); got != c.want {
			t.Errorf("%q (%d groups): %q, want %q", c.repl, c.groups, got, c.want)
		}
	}
}
