package stack

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
)

// maxAlloc bounds what Parse allocates for any input: the YAML parser's
// tree of at most about 2*maxTokens nodes, and at most maxValues decoded
// values.
const maxAlloc = 64 << 20

// allocated returns what f allocates, in bytes.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// hostile are inputs made to cost the most: the most nodes the token
// bound lets through, in flow and block style, and alias bombs.
func hostile() map[string]string {
	const n = maxTokens - 64
	return map[string]string{
		"flow list":     "version: 1\nregion: eu-central-1\napps: {a: {image: nginx, instances: [" + strings.Repeat("a,", n/2) + "a]}}\n",
		"flow mappings": "version: 1\nregion: eu-central-1\napps: {a: {image: nginx, instances: [a], env: {" + strings.Repeat("{a}: b,", n/3-8) + "}}}\n",
		"block list":    "version: 1\nregion: eu-central-1\napps:\n a:\n  image: nginx\n  instances:\n" + strings.Repeat("  - a\n", n/2-8),
		"nested":        strings.Repeat("[", n) + strings.Repeat("]", n),
		"alias bomb":    aliasBomb(100),
		"wide bomb":     aliasBomb(1000),
		"long strings":  "version: 1\nregion: eu-central-1\napps: {a: {image: nginx, instances: [a], env: {A: \"" + strings.Repeat("x", MaxSize-200) + "\"}}}\n",
	}
}

// No input makes Parse allocate more than maxAlloc.
func TestParseAllocationIsBounded(t *testing.T) {
	for name, in := range hostile() {
		var err error
		n := allocated(func() { _, err = Parse("", []byte(in)) })
		t.Logf("%-14s %8d bytes in, %6.1f MiB allocated: %.80v", name, len(in), float64(n)/(1<<20), err)
		if n > maxAlloc {
			t.Errorf("%s: %d bytes allocated, more than %d", name, n, maxAlloc)
		}
	}
}

// FuzzParse: no input makes Parse panic or allocate without bound, and
// every error it returns names the file, with a line and column whenever
// it names a path.
func FuzzParse(f *testing.F) {
	if b, err := os.ReadFile("../docs/fountain.example.yml"); err == nil {
		f.Add(string(b))
	}
	f.Add(base)
	f.Add(replace(15, "    env: &e {<<: *e}"))
	f.Add(replace(15, "    env: {<<: [*x, {a: b}]}"))
	f.Add(aliasBomb(5))
	f.Add(`{"version": 1, "region": "eu-central-1", "apps": {"a": {"image": "nginx", "instances": ["x"]}}}`)
	f.Add("version: 1\n---\nversion: 2\n")
	f.Add("a: !!binary aGVsbG8=\nb: !!int 0x1F\nc: 1e400\nd: ~\n")
	f.Add("? [a, b]\n: c\n")
	f.Fuzz(func(t *testing.T, in string) {
		var (
			s   *Stack
			err error
		)
		n := allocated(func() { s, err = Parse("f.yml", []byte(in)) })
		if n > maxAlloc {
			t.Fatalf("%d bytes allocated for %d bytes of input", n, len(in))
		}
		if err == nil {
			if s == nil {
				t.Fatal("no stack and no error")
			}
			if err := s.Validate(); err != nil {
				t.Fatalf("parsed, then invalid: %v", err)
			}
			_ = s.VaultNames()
			return
		}
		l, ok := err.(ErrorList)
		if !ok || len(l) == 0 {
			t.Fatalf("not an ErrorList: %T %v", err, err)
		}
		for _, e := range l {
			if e.File != "f.yml" {
				t.Fatalf("an error without the file: %v", e)
			}
			if e.Path != "" && e.Line == 0 {
				t.Fatalf("an error with a path but no line: %v", e)
			}
		}
		_ = fmt.Sprint(err)
	})
}
