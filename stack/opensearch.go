package stack

import "slices"

// openSearchHosts checks where OpenSearch runs: instance or instances
// (not both), each declared, once. It reports whether it is a cluster
// whose instances are fine, to be checked as deploy-opensearch checks a
// cluster.
func (v *validator) openSearchHosts(o *OpenSearch) bool {
	switch {
	case o.Instance != "" && len(o.Instances) > 0:
		v.fail("opensearch.instances", false, "", "give instance or instances, not both")
		return false
	case o.Instance == "" && len(o.Instances) == 0:
		v.fail("opensearch", false, "", "needs instance (or instances): where OpenSearch runs")
		return false
	case o.Instance != "":
		v.instanceRef("opensearch.instance", o.Instance)
		return false
	}
	ok := true
	for i, inst := range o.Instances {
		path := index("opensearch.instances", i)
		if j := slices.Index(o.Instances, inst); j < i {
			v.fail(path, false, "", "%s is given twice (also instances[%d])", short(inst), j)
			ok = false
			continue
		}
		ok = v.instanceRef(path, inst) && ok
	}
	return ok
}
