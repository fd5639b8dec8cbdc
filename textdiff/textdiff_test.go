package textdiff

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

func TestUnified(t *testing.T) {
	for _, c := range []struct {
		name, a, b, want string
	}{
		{"same", "a\nb\n", "a\nb\n", ""},
		{"both empty", "", "", ""},
		{"from nothing", "", "x\ny\n", "--- a\n+++ b\n@@ -0,0 +1,2 @@\n+x\n+y\n"},
		{"to nothing", "x\n", "", "--- a\n+++ b\n@@ -1 +0,0 @@\n-x\n"},
		{"one line in the middle", "1\n2\n3\n4\n5\n6\n7\n8\n9\n", "1\n2\n3\n4\nfive\n6\n7\n8\n9\n",
			"--- a\n+++ b\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n"},
		{"no newline at the end", "x\ny", "x\ny\n", "--- a\n+++ b\n@@ -1,2 +1,2 @@\n x\n-y\n\\ No newline at end of file\n+y\n"},
	} {
		if got := Unified(c.a, c.b, "a", "b"); got != c.want {
			t.Errorf("%s:\n%s\nwant:\n%s", c.name, got, c.want)
		}
	}
}

// Random edits: the diff, applied to a, gives b.
func TestUnifiedPatches(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var base []string
	for i := range 80 {
		base = append(base, "line "+strconv.Itoa(i)+"\n")
	}
	for i := range 200 {
		b := append([]string(nil), base...)
		for range 1 + rng.IntN(6) {
			j := rng.IntN(len(b))
			switch rng.IntN(3) {
			case 0:
				b = append(b[:j:j], b[j+1:]...)
			case 1:
				b[j] = "changed " + strconv.Itoa(i) + "\n"
			case 2:
				b = append(b[:j:j], append([]string{"added\n"}, b[j:]...)...)
			}
		}
		a, bs := strings.Join(base, ""), strings.Join(b, "")
		if got := patch(t, a, Unified(a, bs, "a", "b")); got != bs {
			t.Fatalf("edit %d: the patch gives\n%s\nwant\n%s", i, got, bs)
		}
	}
	// Past MaxLines, the middle is shown whole, and still patches.
	var big, bigB strings.Builder
	for i := range MaxLines {
		big.WriteString("a" + strconv.Itoa(i) + "\n")
		bigB.WriteString("b" + strconv.Itoa(i) + "\n")
	}
	d := Unified(big.String(), bigB.String(), "a", "b")
	if !strings.HasPrefix(d, "--- a\n+++ b\n@@ -1,10000 +1,10000 @@\n-a0\n") || patch(t, big.String(), d) != bigB.String() {
		t.Fatalf("big diff starts %q", d[:60])
	}
}

// patch applies a unified diff made by Unified to a.
func patch(t *testing.T, a, diff string) string {
	t.Helper()
	al := Lines(a)
	dl := strings.SplitAfter(diff, "\n")
	dl = dl[2 : len(dl)-1] // past the header, before the final ""
	var out []string
	pos := 0
	for i := 0; i < len(dl); {
		ra, _, _ := strings.Cut(strings.TrimPrefix(dl[i], "@@ -"), " ")
		start, n, ok := parseRange(ra)
		if !ok {
			t.Fatalf("bad hunk header %q", dl[i])
		}
		if n > 0 {
			start--
		}
		out = append(out, al[pos:start]...)
		pos = start
		for i++; i < len(dl) && !strings.HasPrefix(dl[i], "@@ "); i++ {
			l := dl[i]
			switch l[0] {
			case ' ', '-':
				if al[pos] != l[1:] {
					t.Fatalf("line %d is %q, the diff says %q", pos+1, al[pos], l[1:])
				}
				if l[0] == ' ' {
					out = append(out, l[1:])
				}
				pos++
			case '+':
				out = append(out, l[1:])
			}
		}
	}
	return strings.Join(append(out, al[pos:]...), "")
}
