package server_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fountainai/fountain/sandbox/sandboxtest"
)

// load is a bounded open-loop load: GET each of urls in turn at rate
// requests per second until stop is closed or max requests were sent,
// each with a 5 s timeout; it counts what came back.
type load struct {
	mu     sync.Mutex
	total  int
	failed int
	bodies map[string]int // the answers of 200s ("version 2": 412)
	errs   map[string]int // the failures, by status or error
	wg     sync.WaitGroup
}

// startLoad starts a load on urls (sandbox addresses only) until stop.
func startLoad(urls []string, rate, max int, stop <-chan struct{}) *load {
	l := &load{bodies: map[string]int{}, errs: map[string]int{}}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		tick := time.NewTicker(time.Second / time.Duration(rate))
		defer tick.Stop()
		var inflight sync.WaitGroup
		defer inflight.Wait()
		for i := 0; i < max; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			u := urls[i%len(urls)]
			inflight.Add(1)
			go func() {
				defer inflight.Done()
				status, body := "", ""
				res, err := client.Get(u)
				if err == nil {
					b, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
					res.Body.Close()
					body, status = strings.TrimSpace(string(b)), res.Status
					if res.StatusCode != 200 {
						err = fmt.Errorf("%s", res.Status)
					}
				}
				l.mu.Lock()
				defer l.mu.Unlock()
				l.total++
				if err != nil {
					l.failed++
					if status == "" {
						status = err.Error()
						if i := strings.LastIndex(status, ": "); i >= 0 {
							status = status[i+2:]
						}
					}
					l.errs[status]++
					return
				}
				l.bodies[body]++
			}()
		}
	}()
	return l
}

// wait waits for the load's last answers and reports it.
func (l *load) wait() (total, failed int, bodies, errs map[string]int) {
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total, l.failed, l.bodies, l.errs
}

// createInstances creates sandbox instances in parallel, waiting until
// each answers SSH, and returns their public and private addresses.
func createInstances(tb testing.TB, url string, names ...string) (public, private map[string]string) {
	tb.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, len(names))
	for _, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("POST", url+"/aws/lightsail/create-instance", strings.NewReader(strings.Replace(designCreateWait, "NAME", n, 1)))
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Content-Type", "application/json")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				errs <- err
				return
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				errs <- fmt.Errorf("create %s: %d %s", n, res.StatusCode, b)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		tb.Fatal(err)
	}
	public, private = map[string]string{}, map[string]string{}
	for _, n := range names {
		_, inst := callTB(tb, "GET", url+"/aws/lightsail/instances/"+n, "")
		public[n], private[n] = inst["public_ip"].(string), inst["private_ip"].(string)
	}
	return public, private
}

// rolloutHosts reads a rollout's answer: each host's instance, status
// and digest.
func rolloutHosts(body map[string]any) []map[string]any {
	res, _ := body["result"].(map[string]any)
	if res == nil {
		if op, ok := body["operation"].(map[string]any); ok {
			res, _ = op["result"].(map[string]any)
		}
	}
	var out []map[string]any
	hosts, _ := res["hosts"].([]any)
	for _, h := range hosts {
		m, _ := h.(map[string]any)
		out = append(out, m)
	}
	return out
}

// The acceptance of issue 15 for apps on several hosts behind Kong, in the
// sandbox, on three instances that run the app and two of which run Kong
// as one gateway of two nodes: a rollout of a new tag reaches all three
// with no request failed through either Kong node; a broken tag stops
// after the first host, the other two still serve the old digest, and
// Kong sends no request to the broken one; the gateway keeps one version
// history; a target that dies leaves Kong's rotation without a config
// change, and comes back; a rollback behind Kong drops no request either.
func TestAppOnThreeHostsBehindKong(t *testing.T) {
	t.Parallel()
	url, _, logs, stop := startStandInServer(t, "zdt")
	defer stop()
	_, sb := call(t, "GET", url+"/sandbox", "")
	keyPath, push := sb["ssh_key_path"].(string), sb["registry_push"].(string)
	public, private := createInstances(t, url, "web-1", "web-2", "web-3")
	for v, env := range map[string][]string{"1": nil, "2": nil, "broken": {"APP_UNHEALTHY=1"}} {
		sandboxtest.PushApp(t, push+"/user/repo/my-app:"+v, v, sandboxtest.AppOptions{Env: env})
	}

	// Kong on web-1 and web-2, one gateway named edge.
	const gw = `"instance_names": ["web-1", "web-2"], "gateway": "edge"`
	if status, body := call(t, "POST", url+"/services/deploy-kong", `{`+gw+`}`); status != 200 {
		t.Fatalf("deploy-kong on two nodes: %d %v", status, body)
	}
	// A version gets 60 s to prove healthy, which a loaded machine needs;
	// the broken one never does, and 5 s of trying is enough to show it.
	deploy := func(tag, batch string) (int, map[string]any) {
		timeout := "60"
		if tag == "broken" {
			timeout = "5"
		}
		return call(t, "POST", url+"/services/deploy-docker-app", `{"instance_names": ["web-1", "web-2", "web-3"], "docker_image": "ghcr.io/user/repo/my-app:`+tag+`",
			"gateway": {"instance_names": ["web-1", "web-2"], "name": "edge"}, "drain_seconds": 5, "batch": "`+batch+`",
			"health_check": {"path": "/healthz", "port": 8080, "timeout_s": `+timeout+`, "interval_s": 1, "unhealthy_threshold": 2, "healthy_threshold": 1}}`)
	}
	// The first: the three hosts at once (nothing serves yet).
	start := time.Now()
	if status, body := deploy("1", "100%"); status != 200 {
		t.Fatalf("the first rollout: %d %v", status, body)
	}
	t.Logf("first rollout on 3 hosts at once: %s", time.Since(start).Round(time.Millisecond))
	route := `{` + gw + `, "name": "my-app", "app": {"container_name": "my-app", "instance_names": ["web-1", "web-2", "web-3"]}, "paths": ["/app"]}`
	if status, body := call(t, "POST", url+"/services/kong/routes", route); status != 200 || body["changed"] != true {
		t.Fatalf("the route: %d %v", status, body)
	}
	nodes := []string{"http://" + public["web-1"] + "/app/", "http://" + public["web-2"] + "/app/"}
	for _, u := range nodes {
		if got, err := get(u); err != nil || got != "version 1" {
			t.Fatalf("%s: %q %v", u, got, err)
		}
	}

	// 1. A new tag reaches all three, no request failed on either node.
	stopLoad := make(chan struct{})
	l := startLoad(nodes, 40, 40*120, stopLoad)
	start = time.Now()
	status, body := deploy("2", "")
	close(stopLoad)
	total, failed, bodies, errs := l.wait()
	t.Logf("rollout of 2 on 3 hosts: %s; %d requests, %d failed %v, answers %v", time.Since(start).Round(time.Millisecond), total, failed, errs, bodies)
	if status != 200 {
		t.Fatalf("the rollout of 2: %d %v", status, body)
	}
	hosts := rolloutHosts(body)
	digest2, _ := hosts[0]["digest"].(string)
	for _, h := range hosts {
		if h["status"] != "deployed" || h["digest"] != digest2 || digest2 == "" {
			t.Fatalf("after the rollout of 2: %v", hosts)
		}
	}
	if failed != 0 || bodies["version 2"] == 0 {
		t.Fatalf("the rollout through Kong: %d of %d requests failed (%v)", failed, total, errs)
	}

	// 2. A broken tag stops after the first host: the other two were not
	// reached, all three still run 2, and no request reached the broken
	// one (its /healthz fails; / would answer "version broken").
	stopLoad = make(chan struct{})
	l = startLoad(nodes, 40, 40*120, stopLoad)
	status, body = deploy("broken", "")
	close(stopLoad)
	total, failed, bodies, errs = l.wait()
	t.Logf("the broken rollout: %d requests, %d failed %v, answers %v", total, failed, errs, bodies)
	hosts = rolloutHosts(body)
	if status != 502 || len(hosts) != 3 || hosts[0]["status"] != "failed" || hosts[1]["status"] != "not_reached" || hosts[2]["status"] != "not_reached" ||
		!strings.Contains(fmt.Sprint(body["detail"]), "not reached (the version before runs there): web-2, web-3") {
		t.Fatalf("the broken rollout: %d %v", status, body)
	}
	for _, h := range hosts {
		if h["digest"] != digest2 {
			t.Fatalf("a host does not run 2: %v", hosts)
		}
	}
	if bodies["version broken"] != 0 || failed != 0 {
		t.Fatalf("Kong sent %d requests to the broken version; %d failed (%v)", bodies["version broken"], failed, errs)
	}
	for _, inst := range []string{"web-1", "web-2", "web-3"} {
		if out, err := sshRun(t, public[inst], keyPath, "docker ps -a --format '{{.Names}}'"); err != nil || strings.Contains(out, "my-app.next") {
			t.Fatalf("%s: %q %v", inst, out, err)
		}
	}

	// 3. One version history for the two nodes; each runs its last version.
	status, hist := call(t, "GET", url+"/services/kong/config/history?instance_names=web-1,web-2&gateway=edge", "")
	if status != 200 || hist["identity"] != "gateway:eu-central-1/edge" || len(hist["versions"].([]any)) < 5 {
		t.Fatalf("history: %d %v", status, hist)
	}
	status, cfg := call(t, "GET", url+"/services/kong/config?instance_names=web-1,web-2&gateway=edge", "")
	if status != 200 || cfg["in_sync"] != true || len(cfg["nodes"].([]any)) != 2 {
		t.Fatalf("config: %d %v", status, cfg)
	}
	// The broken version's port never was a target: each host's targets
	// are its serving port and the one kept for rollback (weight 0).
	text := cfg["config"].(string)
	for _, inst := range []string{"web-1", "web-2", "web-3"} {
		if n := strings.Count(text, private[inst]+":"); n != 2 {
			t.Fatalf("%s has %d targets:\n%s", inst, n, text)
		}
	}

	// 4. A target that dies stops receiving traffic without a config
	// change (Kong's active health check), and gets it back. Each Kong node
	// checks on its own: the load waits until both have seen it.
	waitFor := func(what string, ok func(string) bool) {
		t.Helper()
		for _, node := range []string{"web-1", "web-2"} {
			for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(250 * time.Millisecond) {
				h, _ := sshRun(t, public[node], keyPath, "curl -fsS http://127.0.0.1:8001/upstreams/app-my-app/health")
				if ok(h) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s, on the Kong of %s: %s", what, node, h)
				}
			}
		}
	}
	hash := cfg["hash"]
	if out, err := sshRun(t, public["web-3"], keyPath, "docker stop my-app"); err != nil {
		t.Fatalf("stop my-app on web-3: %q %v", out, err)
	}
	waitFor("web-3 taken out", func(h string) bool { return targetHealth(t, h, private["web-3"]) == "UNHEALTHY" })
	stopLoad = make(chan struct{})
	l = startLoad(nodes, 40, 60, stopLoad)
	total, failed, _, errs = l.wait()
	if failed != 0 || total != 60 {
		t.Fatalf("with web-3 down: %d of %d failed (%v)", failed, total, errs)
	}
	if _, cfg := call(t, "GET", url+"/services/kong/config?instance_names=web-1,web-2&gateway=edge", ""); cfg["hash"] != hash {
		t.Fatalf("the config changed: %v", cfg["hash"])
	}
	if out, err := sshRun(t, public["web-3"], keyPath, "docker start my-app"); err != nil {
		t.Fatalf("start my-app on web-3: %q %v", out, err)
	}
	waitFor("web-3 back", func(h string) bool { return targetHealth(t, h, private["web-3"]) == "HEALTHY" })

	// 5. A rollback behind Kong on web-1, no request failed: web-1 runs 1.
	stopLoad = make(chan struct{})
	l = startLoad(nodes, 40, 40*60, stopLoad)
	status, body = call(t, "POST", url+"/services/rollback-docker-app", `{"instance_name": "web-1", "container_name": "my-app", "drain_seconds": 5,
		"gateway": {"instance_names": ["web-1", "web-2"], "name": "edge"}}`)
	close(stopLoad)
	total, failed, bodies, errs = l.wait()
	if status != 200 || failed != 0 || bodies["version 1"] == 0 {
		t.Fatalf("rollback behind Kong: %d %v; %d of %d failed %v, answers %v", status, body, failed, total, errs, bodies)
	}
	// A deploy that does not name the gateway is refused.
	status, body = call(t, "POST", url+"/services/deploy-docker-app", `{"instance_name": "web-1", "docker_image": "ghcr.io/user/repo/my-app:2"}`)
	if status != 409 || !strings.Contains(fmt.Sprint(body["detail"]), "deployed behind gateway edge") {
		t.Fatalf("a deploy without the gateway: %d %v", status, body)
	}

	// 6. The gateway's two Kong nodes behind a Lightsail load balancer
	// (issue 15 §3): traffic flows through it; Kong stopped on web-2, its
	// health shows in GET of the load balancer and requests through it keep
	// succeeding; started again, it is healthy again.
	if status, body := call(t, "POST", url+"/aws/lightsail/create-load-balancer",
		`{"load_balancer_name": "edge-lb", "instance_port": 80, "health_check_path": "/app/healthz", "instance_names": ["web-1", "web-2"]}`); status != 200 {
		t.Fatalf("the load balancer: %d %v", status, body)
	}
	lbHealth := func() map[string]string {
		_, got := call(t, "GET", url+"/aws/lightsail/load-balancers/edge-lb", "")
		out := map[string]string{"url": fmt.Sprint(got["url"])}
		insts, _ := got["instances"].([]any)
		for _, i := range insts {
			m := i.(map[string]any)
			out[m["instance_name"].(string)] = fmt.Sprint(m["health"], " ", m["reason"])
		}
		return out
	}
	pollUntil(t, "both Kong nodes healthy behind the load balancer", 60*time.Second, func() (bool, string) {
		h := lbHealth()
		return strings.HasPrefix(h["web-1"], "healthy") && strings.HasPrefix(h["web-2"], "healthy"), fmt.Sprint(h)
	})
	lbApp := strings.TrimSuffix(lbHealth()["url"], "/") + "/app/"
	through := func(n int) (failed int, last string) {
		c := &http.Client{Timeout: 5 * time.Second}
		for range n {
			res, err := c.Get(lbApp)
			if err != nil {
				failed, last = failed+1, err.Error()
				continue
			}
			if res.StatusCode != 200 {
				failed, last = failed+1, res.Status
			}
			res.Body.Close()
		}
		return failed, last
	}
	if failed, last := through(50); failed > 0 {
		t.Fatalf("%d of 50 requests through %s failed (last: %s)", failed, lbApp, last)
	}
	if out, err := sshRun(t, public["web-2"], keyPath, "docker stop kong"); err != nil {
		t.Fatalf("stop Kong on web-2: %q %v", out, err)
	}
	pollUntil(t, "Kong on web-2 unhealthy in GET of the load balancer", 60*time.Second, func() (bool, string) {
		h := lbHealth()
		return strings.HasPrefix(h["web-2"], "unhealthy") && strings.HasPrefix(h["web-1"], "healthy"), fmt.Sprint(h)
	})
	if failed, last := through(200); failed > 0 {
		t.Fatalf("%d of 200 requests through %s failed with Kong stopped on web-2 (last: %s)", failed, lbApp, last)
	}
	if out, err := sshRun(t, public["web-2"], keyPath, "docker start kong"); err != nil {
		t.Fatalf("start Kong on web-2: %q %v", out, err)
	}
	pollUntil(t, "Kong on web-2 healthy again", 90*time.Second, func() (bool, string) {
		h := lbHealth()
		return strings.HasPrefix(h["web-2"], "healthy"), fmt.Sprint(h)
	})
	if t.Failed() {
		t.Logf("server log:\n%s", logs.String())
	}
}

// targetHealth is the health Kong's GET /upstreams/{name}/health gives
// the serving target (weight above 0) on the host with address ip, or ""
// when there is none or the answer is not Kong's.
func targetHealth(t *testing.T, answer, ip string) string {
	t.Helper()
	var h struct {
		Data []struct {
			Target string `json:"target"`
			Weight int    `json:"weight"`
			Health string `json:"health"`
		} `json:"data"`
	}
	if json.Unmarshal([]byte(answer), &h) != nil {
		return ""
	}
	for _, d := range h.Data {
		if strings.HasPrefix(d.Target, ip+":") && d.Weight > 0 {
			return d.Health
		}
	}
	return ""
}
