package api_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/fountainai/fountain/lightsail/emulator"
)

// opensearch.instances is one cluster: one resource after its three
// instances, planned as deploy-opensearch's cluster; two nodes are
// refused before anything is observed, at their line and column.
func TestStackOpenSearchClusterPlan(t *testing.T) {
	e := newEnv(t, emulator.Options{CreateDelay: -1})
	const text = `version: 1
region: eu-central-1
instances:
  s1: {bundle: small_3_0, blueprint: ubuntu_24_04, zone: eu-central-1a}
  s2: {bundle: small_3_0, blueprint: ubuntu_24_04, zone: eu-central-1a}
  s3: {bundle: small_3_0, blueprint: ubuntu_24_04, zone: eu-central-1a}
opensearch: {instances: [s1, s2, s3], cluster_name: logs}
`
	p, r := e.planStack(text, false)
	if got, want := p.actions(), "create instance.s1; create instance.s2; create instance.s3; create opensearch@s1,s2,s3"; got != want {
		t.Fatalf("plan: %s, want %s", got, want)
	}
	os := p.Resources[3]
	if strings.Join(os.Needs, ",") != "instance.s1,instance.s2,instance.s3" || !strings.Contains(p.changedSteps("opensearch@s1,s2,s3"), "deploy-opensearch opensearch@s1,s2,s3") {
		t.Errorf("opensearch: %+v (%s)", os, r.raw)
	}

	body, _ := json.Marshal(map[string]any{"stack": strings.Replace(text, "[s1, s2, s3]", "[s1, s2]", 1)})
	bad := e.do("POST", "/stack/plan", string(body))
	if bad.status != 422 || !strings.Contains(bad.str("detail"), "fountain.yml:7:25: opensearch.instances: a cluster of two nodes stops when either node stops") {
		t.Fatalf("two nodes: %d %s", bad.status, bad.raw)
	}
}
