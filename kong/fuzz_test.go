package kong

import "testing"

// FuzzParse checks that no input makes Parse or the functions over a
// Config panic, and that canonical YAML parses back to itself.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		base,
		"_format_version: \"3.0\"\n",
		`{"_format_version": "3.0", "services": [{"name": "a", "url": "http://a", "routes": [{"name": "a", "paths": ["/"]}]}]}`,
		"_format_version: \"3.0\"\n_ignore: [&a {x: 1}]\nservices: [{<<: *a, name: b, routes: {}}]\n",
		"_format_version: \"3.0\"\nservices: [{name: a, port: 0x50, retries: 1e1, tags: [2024-01-01, .nan, !!binary aGk=, ~]}]\n",
		"_format_version: \"3.0\"\nroutes: [{name: r, service: {id: x}}, {service: 7}]\nplugins: [{route: r}]\n",
		"a: &a [*a]",
		"- 1\n- 2\n",
		"{\"a\": 1} trailing",
		"\xff\xfe",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		c, err := Parse(text)
		if err != nil {
			return
		}
		again, err := Parse([]byte(c.YAML()))
		if err != nil {
			t.Fatalf("canonical YAML does not parse: %v\n%s", err, c.YAML())
		}
		if again.YAML() != c.YAML() {
			t.Fatalf("canonical YAML is not stable:\n%s\nthen:\n%s", c.YAML(), again.YAML())
		}
		_ = c.Hash()
		_ = ListRoutes(c)
		added, err := AddRoute(c, Route{Name: "fuzz", UpstreamURL: "http://fuzz", Paths: []string{"/fuzz"}})
		if err == nil {
			_ = Diff(c, added, "a", "b")
			_, _ = RemoveRoute(added, "fuzz")
		}
		for i, r := range ListRoutes(c) {
			if i == 3 {
				break
			}
			_, _ = RemoveRoute(c, r.Name)
		}
	})
}
