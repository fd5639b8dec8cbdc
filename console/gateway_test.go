package console_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fountainai/fountain"
)

// kongStandIn answers the Kong routes the emulator cannot (no host runs
// Kong here) as the API does for a gateway of two nodes, and keeps what
// the console asked.
type kongStandIn struct {
	mu     sync.Mutex
	reads  []url.Values // the queries of the config and history reads
	bodies []map[string]any
}

func (k *kongStandIn) wrap(api http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == "GET" && r.URL.Path == "/services/kong/config":
			k.read(r)
			_, _ = io.WriteString(w, `{"host":"203.0.113.1:22","version":3,"hash":"aaaabbbbccccdddd","in_sync":false,"config":"_format_version: \"3.0\"\n",
				"routes":[{"name":"web","service":"web","upstream_url":"http://10.0.0.9:8080","paths":["/web"]}],"gateway":"edge",
				"nodes":[{"host":"203.0.113.1:22","hash":"aaaabbbbccccdddd","in_sync":true},{"host":"203.0.113.2:22","hash":"eeeeffff00001111","in_sync":false}]}`)
		case r.Method == "GET" && r.URL.Path == "/services/kong/config/history":
			k.read(r)
			_, _ = io.WriteString(w, `{"host":"203.0.113.1:22","identity":"gateway:eu-central-1/edge","versions":[
				{"version":3,"hash":"aaaabbbbccccdddd","source":"add-route","created_at":"2025-01-01T12:00:00Z"},
				{"version":2,"hash":"9999","source":"deploy-kong","created_at":"2025-01-01T11:00:00Z"}]}`)
		case r.Method == "POST" && r.URL.Path == "/services/kong/routes":
			var b map[string]any
			_ = json.NewDecoder(r.Body).Decode(&b)
			k.mu.Lock()
			k.bodies = append(k.bodies, b)
			k.mu.Unlock()
			if b["dry_run"] == true {
				_, _ = io.WriteString(w, `{"status":"succeeded","message":"Dry run: the route goes to both nodes","changed":true,
					"operation":{"id":"op_dry","kind":"kong.add-route","status":"succeeded","dry_run":true,
					"steps":[{"name":"load the config into node 203.0.113.2:22","status":"would_change"}]}}`)
				return
			}
			w.Header().Set("Fountain-Operation-Id", "op_gateway1")
			w.WriteHeader(http.StatusAccepted)
			_, _ = io.WriteString(w, `{"status":"pending","operation":{"id":"op_gateway1","status":"pending"}}`)
		default:
			api.ServeHTTP(w, r)
		}
	})
}

func (k *kongStandIn) read(r *http.Request) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.reads = append(k.reads, r.URL.Query())
}

// gatewayEnv is gw-1 and gw-2 behind the Kong stand-in.
func gatewayEnv(t *testing.T) (*env, *browser, string, *kongStandIn) {
	k := &kongStandIn{}
	e := newEnv(t, envOptions{wrap: k.wrap})
	for _, n := range []string{"gw-1", "gw-2"} {
		e.apiCall("POST", "/aws/lightsail/create-instance", `{"instance_name":"`+n+`","blueprint_id":"ubuntu_24_04","bundle_id":"nano_3_0","availability_zone":"eu-central-1a","wait":true}`, nil)
	}
	b := e.browser()
	return e, b, b.signIn(), k
}

// The Kong page of a node of a gateway of several (named in its query)
// reads the gateway: its nodes with the config each runs, its one
// history; its forms and buttons carry the gateway, and a change planned
// there is sent for every node (instance_names and gateway, not the one
// instance), dry run first.
func TestKongGatewayPage(t *testing.T) {
	_, b, csrf, k := gatewayEnv(t)
	p := b.get("/ui/instances/gw-1/kong?instance_names=gw-1,gw-2&gateway=edge")
	body := mainOf(p.body)
	if p.status != 200 {
		t.Fatalf("the page: %d %s", p.status, body)
	}
	for _, want := range []string{"<h1>Kong gateway edge <small>2 nodes</small></h1>",
		`<a href="/ui/instances/gw-2?region=eu-central-1">gw-2</a></td>`, "<td data-label=\"Host\">203.0.113.2:22</td>",
		`<code>eeeeffff00001111</code> <span class="badge warn">not Fountain's last version</span>`,
		`<code>aaaabbbbccccdddd</code> <span class="badge good">Fountain's last version</span>`,
		`<input type="hidden" name="instance_names" value="gw-1,gw-2">`, `<input type="hidden" name="gateway" value="edge">`,
		`name="instance_name" value="gw-1"><input type="hidden" name="instance_names" value="gw-1,gw-2">`,
		"deploy-kong", `href="/ui/instances/gw-1/kong?alone=1&amp;region=eu-central-1"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %s:\n%s", want, body)
		}
	}
	k.mu.Lock()
	reads := k.reads
	k.mu.Unlock()
	// A hostile gateway name in the query shows as text.
	if p := b.get("/ui/instances/gw-1/kong?instance_names=gw-1,gw-2&gateway=" + url.QueryEscape(xss)); strings.Contains(p.body, xss) ||
		!strings.Contains(p.body, "<h1>Kong gateway &lt;img src=x onerror=alert(1)&gt;") {
		t.Errorf("a hostile gateway name: %s", mainOf(p.body))
	}
	if len(reads) != 2 {
		t.Fatalf("reads: %v", reads)
	}
	for _, q := range reads {
		if q.Get("instance_names") != "gw-1,gw-2" || q.Get("gateway") != "edge" || q.Has("instance_name") || q.Get("region") != "eu-central-1" {
			t.Errorf("a read asked %v", q)
		}
	}

	form := url.Values{"csrf": {csrf}, "instance_name": {"gw-1"}, "region": {"eu-central-1"}, "instance_names": {"gw-1,gw-2"},
		"gateway": {"edge"}, "name": {"api"}, "upstream_url": {"http://10.0.0.7:8080"}, "paths": {"/api"}}
	id, pl := b.plan("add-route", form)
	if !strings.Contains(pl.body, "load the config into node 203.0.113.2:22") {
		t.Errorf("the plan: %s", mainOf(pl.body))
	}
	a := b.post("/ui/apply", url.Values{"csrf": {csrf}, "plan": {id}})
	if a.status != http.StatusSeeOther || a.header.Get("Location") != "/ui/operations/op_gateway1" {
		t.Fatalf("apply: %d %v %s", a.status, a.header, mainOf(a.body))
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.bodies) != 2 || k.bodies[0]["dry_run"] != true || k.bodies[1]["dry_run"] != nil {
		t.Fatalf("sent: %v", k.bodies)
	}
	for _, sent := range k.bodies {
		if names, _ := json.Marshal(sent["instance_names"]); string(names) != `["gw-1","gw-2"]` || sent["gateway"] != "edge" || sent["instance_name"] != nil {
			t.Errorf("sent %v", sent)
		}
	}
}

// The Kong page of an instance Fountain deployed a gateway of several
// nodes on finds the gateway by itself; ?alone=1 reads the instance
// alone; a page of another instance is not the gateway's.
func TestKongGatewayFound(t *testing.T) {
	e, b, _, k := gatewayEnv(t)
	ctx := context.Background()
	now := time.Now()
	for i, op := range []*fountain.Operation{
		{ID: "op_gwdeploy", Kind: "deploy.kong", Target: "gateway:eu-central-1/edge/kong", Status: fountain.StatusSucceeded,
			Request: json.RawMessage(`{"instance_names":["gw-1","gw-2"],"gateway":"edge","region":"eu-central-1"}`)},
		{ID: "op_gwdry", Kind: "deploy.kong", Target: "gateway:eu-central-1/other/kong", Status: fountain.StatusSucceeded, DryRun: true,
			Request: json.RawMessage(`{"instance_names":["gw-3","gw-4"],"gateway":"other","region":"eu-central-1"}`)},
	} {
		created := now.Add(time.Duration(i) * time.Second)
		op.CreatedAt, op.StartedAt, op.FinishedAt = created, &created, &created
		if err := e.db.CreateOperation(ctx, op); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.db.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if p := b.get("/ui/instances/gw-2/kong"); !strings.Contains(p.body, "<h1>Kong gateway edge <small>2 nodes</small></h1>") ||
		!strings.Contains(p.body, "Last deployed") {
		t.Fatalf("gw-2's Kong page: %s", mainOf(p.body))
	}
	k.mu.Lock()
	last := k.reads[len(k.reads)-1]
	k.mu.Unlock()
	if last.Get("instance_names") != "gw-1,gw-2" || last.Get("gateway") != "edge" {
		t.Errorf("read %v", last)
	}
	if p := b.get("/ui/instances/gw-2/kong?alone=1"); !strings.Contains(p.body, "<h1>Kong on gw-2</h1>") || strings.Contains(p.body, `name="instance_names" value="gw`) {
		t.Errorf("gw-2 alone: %s", mainOf(p.body))
	}
	k.mu.Lock()
	last = k.reads[len(k.reads)-1]
	k.mu.Unlock()
	if last.Get("instance_name") != "gw-2" || last.Has("instance_names") {
		t.Errorf("alone, read %v", last)
	}
}
