package console

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// The pages about the infrastructure: the overview, an instance and what
// runs on it, an app, Kong, OpenSearch, GitHub. Each reads the API and
// nothing else; a read the API refuses is shown where its answer would be.

// region is the region a page is about ("" is the server's default).
func region(r *http.Request) string { return strings.TrimSpace(r.URL.Query().Get("region")) }

func regionQuery(rg string) url.Values {
	q := url.Values{}
	if rg != "" {
		q.Set("region", rg)
	}
	return q
}

// asProblem turns a read's error into something to show.
func asProblem(err error) *problem {
	if err == nil {
		return nil
	}
	if p, ok := err.(*problem); ok {
		return p
	}
	return &problem{Status: 500, Detail: err.Error()}
}

// sandbox reports whether the server runs in sandbox mode (asked once).
func (c *Console) sandbox(r *http.Request) bool {
	c.sandboxOnce.Do(func() {
		var h health
		if c.api.get(r.Context(), "/healthz", nil, &h) == nil {
			c.inSandbox = h.Sandbox
		}
	})
	return c.inSandbox
}

type overviewView struct {
	Region       string
	Instances    []instance
	InstancesErr *problem
	Cost         *cost
	CostErr      *problem
	Recent       []operation
	RecentErr    *problem
}

// overview: the instances with their state, plan, addresses and cost, the
// total, and the recent operations. What runs on each instance is read
// from the instance itself, after the page (a fragment per instance).
func (c *Console) overview(w http.ResponseWriter, r *http.Request, s *session) {
	ctx, rg := r.Context(), region(r)
	v := &overviewView{Region: rg}
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		var l instanceList
		v.InstancesErr = asProblem(c.api.get(ctx, "/aws/lightsail/instances", regionQuery(rg), &l))
		v.Instances = l.Instances
		if v.Region == "" {
			v.Region = l.Region
		}
	}()
	go func() {
		defer wg.Done()
		var k cost
		if err := c.api.get(ctx, "/aws/lightsail/cost", regionQuery(rg), &k); err != nil {
			v.CostErr = asProblem(err)
		} else {
			v.Cost = &k
		}
	}()
	go func() {
		defer wg.Done()
		var l operationList
		v.RecentErr = asProblem(c.api.get(ctx, "/operations", url.Values{"limit": {"12"}}, &l))
		v.Recent = l.Operations
	}()
	wg.Wait()
	c.render(w, r, http.StatusOK, "overview", &page{Title: "Overview", Nav: "overview", Data: v})
}

// newInstance is the form for a new instance.
func (c *Console) newInstance(w http.ResponseWriter, r *http.Request, s *session) {
	rg := region(r)
	v := url.Values{}
	if rg == "" {
		var l instanceList
		_ = c.api.get(r.Context(), "/aws/lightsail/instances", nil, &l)
		rg = l.Region
	}
	v.Set("region", rg)
	v.Set("availability_zone", rg+"a")
	v.Set("blueprint_id", "ubuntu_24_04")
	v.Set("bundle_id", "nano_3_0")
	a := c.actions["create-instance"]
	fv := &formView{Action: a, CSRF: s.csrf, V: v, Ctx: c.formContext(r.Context(), a, v), Back: Prefix}
	c.render(w, r, http.StatusOK, "instance_new", &page{Title: "New instance", Nav: "overview", Data: fv})
}

type instanceView struct {
	Region        string
	Instance      *instance
	Err           *problem
	Ops           []operation
	Snapshots     []snapshot
	SnapshotsCost float64
	SnapshotsErr  *problem
	Hours         []string // the times of day automatic snapshots can be taken at
}

// instancePage: one instance, its actions, what runs on it (a fragment),
// and its recent operations.
func (c *Console) instancePage(w http.ResponseWriter, r *http.Request, s *session) {
	ctx, name, rg := r.Context(), r.PathValue("name"), region(r)
	v := &instanceView{Region: rg}
	var inst instance
	if err := c.api.get(ctx, "/aws/lightsail/instances/"+url.PathEscape(name), regionQuery(rg), &inst); err != nil {
		v.Err = asProblem(err)
		c.render(w, r, v.Err.Status, "instance", &page{Title: name, Nav: "overview", Data: v})
		return
	}
	v.Instance = &inst
	if v.Region == "" {
		v.Region = inst.Region
	}
	v.Hours = hoursOfDay
	done := make(chan struct{})
	go func() {
		defer close(done)
		v.Snapshots, v.SnapshotsCost, v.SnapshotsErr = c.instanceSnapshots(r, inst.Region, inst.Name)
	}()
	// The instance's operations and those on what runs on it (targets
	// REGION/NAME/...), among the recent ones.
	var ops operationList
	_ = c.api.get(ctx, "/operations", url.Values{"limit": {"300"}}, &ops)
	<-done
	target := inst.Region + "/" + inst.Name
	for _, op := range ops.Operations {
		if len(v.Ops) < 10 && (op.Target == target || strings.HasPrefix(op.Target, target+"/")) {
			v.Ops = append(v.Ops, op)
		}
	}
	c.render(w, r, http.StatusOK, "instance", &page{Title: inst.Name, Nav: "overview", Data: v})
}

// appGroup is an app and the versions Fountain keeps of it: the
// containers NAME, NAME.previous (kept for rollback), and NAME.old or
// NAME.rollback (set aside while a deploy or rollback swaps them).
type appGroup struct {
	Name     string
	Current  *app
	Previous *app
	Swapping []app
}

// groupApps groups a host's containers by app, in the order listed.
func groupApps(apps []app) []*appGroup {
	var out []*appGroup
	by := map[string]*appGroup{}
	for i := range apps {
		a := &apps[i]
		name := a.ContainerName
		for _, suffix := range []string{".previous", ".old", ".rollback"} {
			name = strings.TrimSuffix(name, suffix)
		}
		g := by[name]
		if g == nil {
			g = &appGroup{Name: name}
			by[name] = g
			out = append(out, g)
		}
		switch {
		case a.ContainerName == name:
			g.Current = a
		case a.Role == "previous":
			g.Previous = a
		default:
			g.Swapping = append(g.Swapping, *a)
		}
	}
	return out
}

// liveView is what runs on an instance, read from it now.
type liveView struct {
	Name, Region string
	Apps         []*appGroup
	AppsErr      *problem
	Kong         bool
	KongConfig   *kongConfig
	KongErr      *problem
	OpenSearch   bool
	Health       *openSearchHealth
	HealthErr    *problem
}

// regionOr is the region a page names, else the server's default (as
// the API names it).
func (c *Console) regionOr(r *http.Request) string {
	if rg := region(r); rg != "" {
		return rg
	}
	c.regionOnce.Do(func() {
		var l instanceList
		if c.api.get(r.Context(), "/aws/lightsail/instances", nil, &l) == nil {
			c.defaultRegion = l.Region
		}
	})
	return c.defaultRegion
}

// live reads what runs on an instance: its apps (over SSH), and, where
// Fountain deployed them, Kong's config version and OpenSearch's health.
func (c *Console) live(ctx context.Context, name, rg string) *liveView {
	v := &liveView{Name: name, Region: rg}
	hq := url.Values{"instance_name": {name}, "region": {rg}}
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		var l appList
		v.AppsErr = asProblem(c.api.get(ctx, "/services/docker-apps", hq, &l))
		v.Apps = groupApps(l.Apps)
	}()
	go func() {
		defer wg.Done()
		if v.Kong = c.deployed(ctx, "deploy.kong", rg+"/"+name+"/kong") != nil; v.Kong {
			var k kongConfig
			if err := c.api.get(ctx, "/services/kong/config", hq, &k); err != nil {
				v.KongErr = asProblem(err)
			} else {
				v.KongConfig = &k
			}
		}
	}()
	go func() {
		defer wg.Done()
		if v.OpenSearch = c.deployed(ctx, "deploy.opensearch", rg+"/"+name+"/opensearch") != nil; v.OpenSearch {
			var h openSearchHealth
			if err := c.api.get(ctx, "/services/opensearch/health", hq, &h); err != nil {
				v.HealthErr = asProblem(err)
			} else {
				v.Health = &h
			}
		}
	}()
	wg.Wait()
	return v
}

// deployed returns the last deploy (not a dry run) of kind to target
// that succeeded, or nil.
func (c *Console) deployed(ctx context.Context, kind, target string) *operation {
	var l operationList
	if c.api.get(ctx, "/operations", url.Values{"kind": {kind}, "target": {target}, "status": {"succeeded"}, "limit": {"20"}}, &l) != nil {
		return nil
	}
	for i := range l.Operations {
		if !l.Operations[i].DryRun {
			return &l.Operations[i]
		}
	}
	return nil
}

// instanceLive is the fragment of what runs on an instance.
func (c *Console) instanceLive(w http.ResponseWriter, r *http.Request, s *session) {
	c.renderFragment(w, "live", c.live(r.Context(), r.PathValue("name"), c.regionOr(r)))
}

type appView struct {
	Name, Region string
	App          string
	Current      *app
	Previous     *app
	Err          *problem
	Logs         []string
	LogsErr      *problem
	Last         *operation // the last deploy
	CSRF         string
}

// appPage: an app's versions, its last lines of output, and its actions.
func (c *Console) appPage(w http.ResponseWriter, r *http.Request, s *session) {
	ctx, name, rg, appName := r.Context(), r.PathValue("name"), c.regionOr(r), r.PathValue("app")
	v := &appView{Name: name, Region: rg, App: appName, CSRF: s.csrf}
	var l appList
	v.Err = asProblem(c.api.get(ctx, "/services/docker-apps", url.Values{"instance_name": {name}, "region": {rg}}, &l))
	for _, g := range groupApps(l.Apps) {
		if g.Name == appName {
			v.Current, v.Previous = g.Current, g.Previous
		}
	}
	var logs appLogs
	q := url.Values{"instance_name": {name}, "region": {v.Region}, "container_name": {appName}, "tail": {"200"}}
	v.LogsErr = asProblem(c.api.get(ctx, "/services/docker-app-logs", q, &logs))
	v.Logs = logs.Lines
	v.Last = c.deployed(ctx, "deploy.docker-app", v.Region+"/"+name+"/"+appName)
	status := http.StatusOK
	if v.Current == nil && v.Previous == nil && v.Err == nil {
		status = http.StatusNotFound
	}
	c.render(w, r, status, "app", &page{Title: appName + " on " + name, Nav: "overview", Data: v})
}

// deployRequest is a deploy-docker-app request as its operation recorded
// it (secret values redacted).
type deployRequest struct {
	DockerImage   string            `json:"docker_image"`
	ContainerName string            `json:"container_name"`
	Ports         []string          `json:"ports"`
	Env           map[string]string `json:"env"`
	SecretEnv     map[string]string `json:"secret_env"`
	Volumes       []string          `json:"volumes"`
	RestartPolicy string            `json:"restart_policy"`
	HealthCheck   *struct {
		Path string `json:"path"`
		Port int    `json:"port"`
	} `json:"health_check"`
}

// deployForm is the deploy form; with ?from=APP, filled in from the app's
// last deploy (a redeploy: the same tag, whose newest digest the plan
// shows), secret values excepted, which are typed again.
func (c *Console) deployForm(w http.ResponseWriter, r *http.Request, s *session) {
	ctx, name, rg := r.Context(), r.PathValue("name"), c.regionOr(r)
	v := url.Values{"instance_name": {name}, "region": {rg}}
	ctxm := map[string]any{}
	if from := r.URL.Query().Get("from"); from != "" {
		if op := c.deployed(ctx, "deploy.docker-app", rg+"/"+name+"/"+from); op != nil {
			var d deployRequest
			if json.Unmarshal(op.Request, &d) == nil {
				fillDeploy(v, &d)
				ctxm["From"] = op
			}
		}
	}
	if img := r.URL.Query().Get("image"); img != "" {
		v.Set("docker_image", img)
	}
	if img := v.Get("docker_image"); strings.HasPrefix(img, "ghcr.io/") {
		repo := img
		if i := strings.Index(repo, "@"); i >= 0 {
			repo = repo[:i]
		} else if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
			repo = repo[:i]
		}
		var tl tagList
		if err := c.api.get(ctx, "/github/packages/tags", url.Values{"image": {repo}, "limit": {"10"}}, &tl); err == nil {
			ctxm["Tags"], ctxm["Repo"] = tl.Tags, repo
		} else {
			ctxm["TagsErr"] = asProblem(err)
		}
	}
	fv := &formView{Action: c.actions["deploy-app"], CSRF: s.csrf, V: v, Ctx: ctxm, Back: Prefix + "instances/" + url.PathEscape(name)}
	c.render(w, r, http.StatusOK, "deploy", &page{Title: "Deploy an app on " + name, Nav: "overview", Data: fv})
}

// fillDeploy puts a recorded deploy request into the deploy form.
func fillDeploy(v url.Values, d *deployRequest) {
	v.Set("docker_image", d.DockerImage)
	v.Set("container_name", d.ContainerName)
	if d.Ports != nil && len(d.Ports) == 0 {
		v.Set("no_ports", "1")
	}
	v.Set("ports", strings.Join(d.Ports, ", "))
	var env []string
	for _, k := range keys(d.Env) {
		env = append(env, k+"="+d.Env[k])
	}
	v.Set("env", strings.Join(env, "\n"))
	for i, k := range keys(d.SecretEnv) {
		if i < secretRows {
			v.Set("secret_name_"+itoa(i+1), k)
		}
	}
	v.Set("volumes", strings.Join(d.Volumes, ", "))
	v.Set("restart_policy", d.RestartPolicy)
	if d.HealthCheck != nil {
		v.Set("health_path", d.HealthCheck.Path)
		if d.HealthCheck.Port > 0 {
			v.Set("health_port", itoa(d.HealthCheck.Port))
		}
	}
}

type kongView struct {
	Name, Region string
	Instance     *instance
	Config       *kongConfig
	ConfigErr    *problem
	History      *kongHistory
	HistoryErr   *problem
	ProxyURL     string
	Deployed     *operation
	Apps         []app
	CSRF         string
	// Gateway is the gateway of several nodes the instance is one of (the
	// page's changes act on every node); GatewayNames and GatewayName are
	// its fields as the forms carry them ("" for one instance).
	Gateway                   *gatewayRef
	GatewayNames, GatewayName string
}

// kongPage: the gateway's running config and routes, its history, and
// its actions.
func (c *Console) kongPage(w http.ResponseWriter, r *http.Request, s *session) {
	ctx, name, rg := r.Context(), r.PathValue("name"), region(r)
	var inst instance
	if err := c.api.get(ctx, "/aws/lightsail/instances/"+url.PathEscape(name), regionQuery(rg), &inst); err != nil {
		p := asProblem(err)
		c.render(w, r, p.Status, "error", &page{Title: "Kong on " + name, Problem: p})
		return
	}
	v := &kongView{Name: name, Region: inst.Region, Instance: &inst, CSRF: s.csrf}
	hq := url.Values{"instance_name": {name}, "region": {inst.Region}}
	deployTarget := inst.Region + "/" + name + "/kong"
	if v.Gateway = gatewayOf(r.URL.Query()); v.Gateway == nil && r.URL.Query().Get("alone") == "" {
		v.Gateway = c.findGateway(ctx, inst.Region, name)
	}
	if g := v.Gateway; g != nil {
		v.GatewayNames, v.GatewayName = g.Joined(), g.Name
		hq = g.query(hq)
		gw := g.Name
		if gw == "" {
			gw = "kong"
		}
		deployTarget = "gateway:" + inst.Region + "/" + gw + "/kong"
	}
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		var k kongConfig
		if err := c.api.get(ctx, "/services/kong/config", hq, &k); err != nil {
			v.ConfigErr = asProblem(err)
		} else {
			v.Config = &k
		}
	}()
	go func() {
		defer wg.Done()
		var h kongHistory
		if err := c.api.get(ctx, "/services/kong/config/history", hq, &h); err != nil {
			v.HistoryErr = asProblem(err)
		} else {
			v.History = &h
		}
	}()
	go func() {
		defer wg.Done()
		var l appList
		if c.api.get(ctx, "/services/docker-apps", url.Values{"instance_name": {name}, "region": {inst.Region}}, &l) == nil {
			for _, g := range groupApps(l.Apps) {
				if g.Current != nil && g.Name != "kong" {
					v.Apps = append(v.Apps, *g.Current)
				}
			}
		}
	}()
	wg.Wait()
	v.Deployed = c.deployed(ctx, "deploy.kong", deployTarget)
	v.ProxyURL = "http://" + inst.PublicIP
	if v.Deployed != nil {
		var res struct {
			ProxyURL string `json:"proxy_url"`
		}
		if json.Unmarshal(v.Deployed.Result, &res) == nil && res.ProxyURL != "" {
			if u, err := url.Parse(res.ProxyURL); err == nil && u.Port() != "" && u.Port() != "80" {
				v.ProxyURL += ":" + u.Port()
			}
		}
	}
	c.render(w, r, http.StatusOK, "kong", &page{Title: "Kong on " + name, Nav: "overview", Data: v})
}

type openSearchView struct {
	Name, Region string
	Health       *openSearchHealth
	HealthErr    *problem
	Deployed     *operation
	CSRF         string
}

// openSearchPage: the cluster's health, and its deploy.
func (c *Console) openSearchPage(w http.ResponseWriter, r *http.Request, s *session) {
	ctx, name, rg := r.Context(), r.PathValue("name"), c.regionOr(r)
	v := &openSearchView{Name: name, Region: rg, CSRF: s.csrf}
	if v.Deployed = c.deployed(ctx, "deploy.opensearch", rg+"/"+name+"/opensearch"); v.Deployed != nil {
		var h openSearchHealth
		if err := c.api.get(ctx, "/services/opensearch/health", url.Values{"instance_name": {name}, "region": {rg}}, &h); err != nil {
			v.HealthErr = asProblem(err)
		} else {
			v.Health = &h
		}
	}
	c.render(w, r, http.StatusOK, "opensearch", &page{Title: "OpenSearch on " + name, Nav: "overview", Data: v})
}

// revealPassword shows OpenSearch's kept admin password once (an audited
// API call; the page is not stored by the browser).
func (c *Console) revealPassword(w http.ResponseWriter, r *http.Request, s *session) {
	name := r.PathValue("name")
	body := map[string]any{"instance_name": name}
	setIf(body, "region", r.PostForm.Get("region"))
	a, err := c.api.call(r.Context(), http.MethodPost, "/services/opensearch/admin-password", nil, body, nil)
	if err != nil {
		c.refuse(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	var out struct {
		Host          string `json:"host"`
		User          string `json:"user"`
		AdminPassword string `json:"admin_password"`
	}
	if err := a.decode(&out); err != nil {
		p := asProblem(err)
		c.render(w, r, p.Status, "error", &page{Title: "Admin password", Problem: p})
		return
	}
	c.render(w, r, http.StatusOK, "password", &page{Title: "OpenSearch admin password", Data: map[string]string{
		"Name": name, "Region": r.PostForm.Get("region"), "Host": out.Host, "User": out.User, "Password": out.AdminPassword}})
}

type gitHubView struct {
	Repo, Environment string
	Secrets           *secretList
	SecretsErr        *problem
	Image             string
	Tags              *tagList
	TagsErr           *problem
	Form              *formView
	CSRF              string
}

// gitHubPage: a repository's Actions secrets by name and date, the form
// to set one, and an image's tags.
func (c *Console) gitHubPage(w http.ResponseWriter, r *http.Request, s *session) {
	ctx, q := r.Context(), r.URL.Query()
	v := &gitHubView{Repo: strings.TrimSpace(q.Get("repo")), Environment: strings.TrimSpace(q.Get("environment")),
		Image: strings.TrimSpace(q.Get("image")), CSRF: s.csrf}
	if v.Repo != "" {
		var l secretList
		sq := url.Values{"repo_name": {v.Repo}}
		if v.Environment != "" {
			sq.Set("environment", v.Environment)
		}
		if err := c.api.get(ctx, "/github/secrets", sq, &l); err != nil {
			v.SecretsErr = asProblem(err)
		} else {
			v.Secrets = &l
		}
	}
	if v.Image != "" {
		var t tagList
		if err := c.api.get(ctx, "/github/packages/tags", url.Values{"image": {v.Image}}, &t); err != nil {
			v.TagsErr = asProblem(err)
		} else {
			v.Tags = &t
		}
	}
	v.Form = &formView{Action: c.actions["set-secret"], CSRF: s.csrf,
		V: url.Values{"repo_name": {v.Repo}, "environment": {v.Environment}}}
	c.render(w, r, http.StatusOK, "github", &page{Title: "GitHub", Nav: "github", Data: v})
}
