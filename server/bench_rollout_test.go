package server_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/fountainai/fountain/sandbox/sandboxtest"
)

// BenchmarkDeployUnderLoad measures what issue 15 targets: requests
// through Kong under a bounded load (200 requests/s, sandbox addresses)
// while an app is deployed 5 times in a row (alternating two images), with
// the zero-downtime deploy (behind Kong, no fixed ports: the new container
// beside the old one, Kong moved in one config load, 2 s of drain) beside
// the plain swap (the same app with fixed ports, behind the same Kong) in
// the same run. It prints the failed requests of each (target: 0 for the
// zero-downtime deploy) and the deploys' time. Run it with scripts/bench;
// every load stops by itself.
func BenchmarkDeployUnderLoad(b *testing.B) {
	url, _, _, stop := startStandInServer(b, "zdt-bench")
	defer stop()
	_, sb := callTB(b, "GET", url+"/sandbox", "")
	push := sb["registry_push"].(string)
	public, _ := createInstances(b, url, "bench-1")
	for _, tag := range []string{"a", "b"} {
		sandboxtest.PushApp(b, push+"/user/repo/bench-app:"+tag, tag, sandboxtest.AppOptions{})
	}
	const host = `"instance_name": "bench-1"`
	if s, m := callTB(b, "POST", url+"/services/deploy-kong", `{`+host+`}`); s != 200 {
		b.Fatalf("deploy-kong: %d %v", s, m)
	}
	deploy := func(name, tag, ports string) error {
		s, m := callTB(b, "POST", url+"/services/deploy-docker-app", `{`+host+`, "container_name": "`+name+`", "docker_image": "ghcr.io/user/repo/bench-app:`+tag+`",
			"gateway": {"instance_name": "bench-1"}, "drain_seconds": 2`+ports+`,
			"health_check": {"path": "/healthz", "port": 8080, "timeout_s": 30, "interval_s": 1}}`)
		if s != 200 {
			return fmt.Errorf("deploy %s:%s: %d %v", name, tag, s, m)
		}
		return nil
	}
	modes := []struct{ name, ports string }{
		{"zero-downtime", ""},
		{"plain-swap", `, "ports": ["8080:8080"]`},
	}
	for _, m := range modes {
		if err := deploy(m.name, "a", m.ports); err != nil {
			b.Fatal(err)
		}
		route := `{` + host + `, "name": "` + m.name + `", "app": {"container_name": "` + m.name + `"}, "paths": ["/` + m.name + `"]}`
		if s, r := callTB(b, "POST", url+"/services/kong/routes", route); s != 200 {
			b.Fatalf("route: %d %v", s, r)
		}
	}
	const rate, deploys = 200, 5
	for _, m := range modes {
		b.Run(m.name, func(b *testing.B) {
			for b.Loop() {
				stopLoad := make(chan struct{})
				l := startLoad([]string{"http://" + public["bench-1"] + "/" + m.name + "/"}, rate, rate*600, stopLoad)
				start := time.Now()
				var err error
				for i := range deploys {
					if err = deploy(m.name, []string{"b", "a"}[i%2], m.ports); err != nil {
						break
					}
				}
				took := time.Since(start)
				close(stopLoad)
				total, failed, _, errs := l.wait()
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(failed), "failed-requests")
				b.ReportMetric(float64(total), "requests")
				b.ReportMetric(took.Seconds()/deploys, "s/deploy")
				fmt.Printf("%s: %d deploys under %d requests/s through Kong: %d of %d requests failed %v; %.1f s per deploy\n",
					m.name, deploys, rate, failed, total, errs, took.Seconds()/deploys)
			}
		})
	}
}
