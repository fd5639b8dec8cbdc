package stack

import (
	"reflect"
	"testing"
)

const clusterBase = `version: 1
region: eu-central-1
instances:
  s1: {bundle: small_3_0, blueprint: ubuntu_24_04, zone: eu-central-1a}
  s2: {bundle: small_3_0, blueprint: ubuntu_24_04, zone: eu-central-1a}
  s3: {bundle: small_3_0, blueprint: ubuntu_24_04, zone: eu-central-1a}
`

func TestOpenSearchCluster(t *testing.T) {
	s, err := Parse("", []byte(clusterBase+"opensearch: {instances: [s1, s2, s3], cluster_name: logs}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s.OpenSearch.Hosts(), []string{"s1", "s2", "s3"}) || s.OpenSearch.ClusterName != "logs" {
		t.Fatalf("opensearch: %+v", s.OpenSearch)
	}
	for _, c := range []struct{ name, in, want string }{
		{"both", "opensearch: {instance: s1, instances: [s1, s2, s3]}", `fountain.yml:7:39: opensearch.instances: give instance or instances, not both`},
		{"neither", "opensearch: {version: 2.19.1}", `fountain.yml:7:13: opensearch: needs instance (or instances): where OpenSearch runs`},
		{"two nodes", "opensearch: {instances: [s1, s2]}", `fountain.yml:7:25: opensearch.instances: a cluster of two nodes stops when either node stops: a majority of two is both, so no cluster manager can be elected without the other`},
		{"undeclared and twice", "opensearch: {instances: [s1, s9, s1]}", `fountain.yml:7:30: opensearch.instances[1]: names instance "s9", which the file does not declare (instances: s1, s2, s3)` + "\n" +
			`fountain.yml:7:34: opensearch.instances[2]: "s1" is given twice (also instances[0])`},
		{"cluster name", "opensearch: {instances: [s1, s2, s3], cluster_name: \"a b\"}", `fountain.yml:7:53: opensearch.cluster_name: "a b" is not a cluster name (letters, digits, '_', '.', '-')`},
	} {
		_, err := Parse("", []byte(clusterBase+c.in+"\n"))
		if err == nil || err.Error() != c.want {
			t.Errorf("%s: got\n%v\nwant\n%s", c.name, err, c.want)
		}
	}
}
