package kong

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
)

// maxDiffLines bounds the lines Diff compares in detail: the matcher's
// time grows faster than linearly, and beyond this a change is shown
// whole.
const maxDiffLines = 10000

// Diff is a unified diff (3 lines of context) from from's canonical YAML
// to to's, with fromName and toName in its header; "" when they mean the
// same. A nil Config is an empty text. Past maxDiffLines lines (after the
// lines both share at the start and the end), the differing middle is
// shown as removed and added whole.
func Diff(from, to *Config, fromName, toName string) string {
	a, b := lines(from), lines(to)
	if strings.Join(a, "") == strings.Join(b, "") {
		return ""
	}
	var out strings.Builder
	fmt.Fprintf(&out, "--- %s\n+++ %s\n", fromName, toName)
	// Lines both texts share at the start and the end need no matching.
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		suf++
	}
	const context = 3
	lo := max(pre-context, 0)
	ha, hb := len(a)-max(suf-context, 0), len(b)-max(suf-context, 0)
	ma, mb := a[lo:ha], b[lo:hb]
	if len(ma)+len(mb) > maxDiffLines {
		writeWhole(&out, a, b, pre, suf, context)
		return out.String()
	}
	var body strings.Builder
	_ = difflib.WriteUnifiedDiff(&body, difflib.UnifiedDiff{A: ma, B: mb, Context: context})
	for _, l := range strings.SplitAfter(body.String(), "\n") {
		if strings.HasPrefix(l, "@@ ") {
			l = shiftHunk(l, lo)
		}
		out.WriteString(l)
	}
	return out.String()
}

// lines splits a configuration's YAML into lines, each with its "\n".
func lines(c *Config) []string {
	if c == nil || c.text == "" {
		return nil
	}
	l := strings.SplitAfter(c.text, "\n")
	if l[len(l)-1] == "" {
		l = l[:len(l)-1]
	}
	return l
}

// shiftHunk adds off to the start lines of a hunk header
// ("@@ -a,b +c,d @@", where ",1" is left out).
func shiftHunk(h string, off int) string {
	if off == 0 {
		return h
	}
	body, ok := strings.CutPrefix(strings.TrimSuffix(h, " @@\n"), "@@ -")
	if !ok {
		return h
	}
	ra, rb, ok := strings.Cut(body, " +")
	if !ok {
		return h
	}
	a, na, okA := parseRange(ra)
	b, nb, okB := parseRange(rb)
	if !okA || !okB {
		return h
	}
	return fmt.Sprintf("@@ -%s +%s @@\n", hunkRange(a+off, na), hunkRange(b+off, nb))
}

// parseRange reads "start,n" or "start" (n = 1).
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

// hunkRange formats a unified range as difflib does.
func hunkRange(start, n int) string {
	if n == 1 {
		return strconv.Itoa(start)
	}
	return fmt.Sprintf("%d,%d", start, n)
}

// writeWhole writes one hunk that removes a's middle and adds b's.
func writeWhole(out *strings.Builder, a, b []string, pre, suf, context int) {
	lo := max(pre-context, 0)
	ha, hb := len(a)-max(suf-context, 0), len(b)-max(suf-context, 0)
	fmt.Fprintf(out, "@@ -%s +%s @@\n", hunkStart(lo, ha-lo), hunkStart(lo, hb-lo))
	for _, l := range a[lo:pre] {
		out.WriteString(" " + l)
	}
	for _, l := range a[pre : len(a)-suf] {
		out.WriteString("-" + l)
	}
	for _, l := range b[pre : len(b)-suf] {
		out.WriteString("+" + l)
	}
	for _, l := range a[len(a)-suf : ha] {
		out.WriteString(" " + l)
	}
}

// hunkStart formats a 0-based start and a length as a unified range.
func hunkStart(start, n int) string {
	if n == 0 {
		return fmt.Sprintf("%d,0", start)
	}
	return hunkRange(start+1, n)
}
