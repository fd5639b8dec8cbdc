package kong

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestDiff(t *testing.T) {
	cfg := mustParse(t, base)
	added, err := AddRoute(cfg, Route{Name: "app", UpstreamURL: "http://app:3000", Paths: []string{"/app"}})
	if err != nil {
		t.Fatal(err)
	}
	changed, err := AddRoute(cfg, Route{Name: "shop", UpstreamURL: "http://10.0.0.8:8080", Paths: []string{"/shop"}})
	if err != nil {
		t.Fatal(err)
	}
	small := mustParse(t, "_format_version: \"3.0\"\nservices: [{name: a, host: a}]\n")
	for _, tc := range []struct {
		name     string
		old, new *Config
		want     string
	}{
		{"same", cfg, mustParse(t, base), ""},
		{"both nil", nil, nil, ""},
		{"a service added at the end of the services", cfg, added, `--- running
+++ proposed
@@ -28,6 +28,12 @@
   - name: blog
     host: blog.internal
     id: b3c1a0f2-5a4e-4c1e-9a6d-2f1e0c9d8b7a
+  - name: app
+    url: http://app:3000
+    routes:
+      - name: app
+        paths:
+          - /app
 routes:
   - name: blog
     hosts:
`},
		{"one line changed near the start", cfg, changed, `--- running
+++ proposed
@@ -2,7 +2,7 @@
 _comment: kept
 services:
   - name: shop
-    url: http://10.0.0.7:8080
+    url: http://10.0.0.8:8080
     routes:
       - name: shop
         paths:
`},
		{"from nothing", nil, small, `--- running
+++ proposed
@@ -0,0 +1,4 @@
+_format_version: "3.0"
+services:
+  - name: a
+    host: a
`},
		{"to nothing", small, nil, `--- running
+++ proposed
@@ -1,4 +0,0 @@
-_format_version: "3.0"
-services:
-  - name: a
-    host: a
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Diff(tc.old, tc.new, "running", "proposed")
			if got != tc.want {
				t.Fatalf("Diff:\n%s\nwant:\n%s", got, tc.want)
			}
			if got != "" {
				checkPatch(t, tc.old, tc.new, got)
			}
		})
	}
}

// bigConfig has n services with a route each; salt changes every upstream.
func bigConfig(t testing.TB, n int, salt string) *Config {
	var b strings.Builder
	b.WriteString("_format_version: \"3.0\"\nservices:\n")
	for i := range n {
		fmt.Fprintf(&b, "- name: s%d\n  url: http://h%d%s:80\n  routes:\n  - name: s%d\n    paths: [/p%d]\n", i, i, salt, i, i)
	}
	c, err := Parse([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestDiffRandomEdits(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	old := bigConfig(t, 60, "")
	for i := range 200 {
		doc := deepCopy(old.doc).(map[string]any)
		services := doc["services"].([]any)
		for range 1 + rng.IntN(6) {
			j := rng.IntN(len(services))
			switch rng.IntN(3) {
			case 0:
				services = append(services[:j:j], services[j+1:]...)
			case 1:
				services[j].(map[string]any)["url"] = "http://x" + strconv.Itoa(i)
			case 2:
				services = append(services[:j:j], append([]any{map[string]any{"name": "n" + strconv.Itoa(j), "host": "h"}}, services[j:]...)...)
			}
		}
		doc["services"] = services
		new, err := newConfig(doc)
		if err != nil {
			t.Fatal(err)
		}
		checkPatch(t, old, new, Diff(old, new, "a", "b"))
	}
}

func TestDiffBounded(t *testing.T) {
	// Every upstream differs: past maxDiffLines the middle is shown whole.
	a, b := bigConfig(t, 2000, ""), bigConfig(t, 2000, "x")
	start := time.Now()
	d := Diff(a, b, "a", "b")
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Diff of %d lines took %s", len(lines(a)), took)
	}
	checkPatch(t, a, b, d)
	if !strings.HasPrefix(d, "--- a\n+++ b\n@@ -1,12001 +1,12001 @@\n _format_version: \"3.0\"\n services:\n   - name: s0\n-    url: http://h0:80\n") {
		t.Errorf("Diff starts:\n%s", d[:200])
	}
	// One change in a big configuration is matched in detail.
	c := bigConfig(t, 2000, "")
	doc := deepCopy(c.doc).(map[string]any)
	doc["services"].([]any)[1000].(map[string]any)["url"] = "http://changed"
	changed, err := newConfig(doc)
	if err != nil {
		t.Fatal(err)
	}
	d = Diff(c, changed, "a", "b")
	checkPatch(t, c, changed, d)
	if !strings.Contains(d, "@@ -6001,7 +6001,7 @@\n") || strings.Count(d, "\n") != 11 {
		t.Errorf("Diff:\n%s", d)
	}
}

// checkPatch applies a unified diff to old's YAML and checks that it gives
// new's.
func checkPatch(t *testing.T, old, new *Config, diff string) {
	t.Helper()
	a, want := lines(old), lines(new)
	body, ok := strings.CutPrefix(diff, "--- ")
	if !ok {
		t.Fatalf("no header:\n%s", diff)
	}
	dl := strings.SplitAfter(body, "\n")
	dl = dl[2 : len(dl)-1] // past "+++ ", before the final ""
	var out []string
	pos := 0 // next line of a to copy
	for i := 0; i < len(dl); {
		h := dl[i]
		if !strings.HasPrefix(h, "@@ -") {
			t.Fatalf("expected a hunk header, got %q", h)
		}
		ra, _, _ := strings.Cut(strings.TrimPrefix(h, "@@ -"), " ")
		start, n, ok := parseRange(ra)
		if !ok {
			t.Fatalf("bad hunk header %q", h)
		}
		if n > 0 {
			start--
		}
		if start < pos {
			t.Fatalf("hunk %q overlaps", h)
		}
		out = append(out, a[pos:start]...)
		pos = start
		for i++; i < len(dl) && !strings.HasPrefix(dl[i], "@@ "); i++ {
			l := dl[i]
			switch l[0] {
			case ' ', '-':
				if pos >= len(a) || a[pos] != l[1:] {
					t.Fatalf("hunk %q: line %d is %q, the diff says %q", h, pos+1, a[min(pos, len(a)-1)], l[1:])
				}
				if l[0] == ' ' {
					out = append(out, l[1:])
				}
				pos++
			case '+':
				out = append(out, l[1:])
			default:
				t.Fatalf("bad diff line %q", l)
			}
		}
	}
	out = append(out, a[pos:]...)
	if strings.Join(out, "") != strings.Join(want, "") {
		t.Fatalf("the diff does not patch old into new:\n%s", diff)
	}
}

// parseRange reads a unified range, "start,n" or "start" (n = 1).
func parseRange(s string) (start, n int, ok bool) {
	st, ln, hasLen := strings.Cut(s, ",")
	start, err := strconv.Atoi(st)
	if err != nil {
		return 0, 0, false
	}
	n = 1
	if hasLen {
		if n, err = strconv.Atoi(ln); err != nil {
			return 0, 0, false
		}
	}
	return start, n, true
}
