// Package textdiff makes unified diffs of texts (configuration files), for
// plans to show what a change would write.
package textdiff

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
)

// MaxLines bounds the lines Unified compares in detail: the matcher's time
// grows faster than linearly, and beyond this a change is shown whole.
const MaxLines = 10000

// Unified is a unified diff (3 lines of context) from a to b, with
// fromName and toName in its header; "" when they are the same. Past
// MaxLines lines (after the lines both share at the start and the end),
// the differing middle is shown as removed and added whole. A last line
// without a newline is marked as diff marks it ("\ No newline at end of
// file").
func Unified(a, b, fromName, toName string) string {
	if a == b {
		return ""
	}
	la, lb := Lines(a), Lines(b)
	var out strings.Builder
	fmt.Fprintf(&out, "--- %s\n+++ %s\n", fromName, toName)
	// Lines both texts share at the start and the end need no matching.
	pre := 0
	for pre < len(la) && pre < len(lb) && la[pre] == lb[pre] {
		pre++
	}
	suf := 0
	for suf < len(la)-pre && suf < len(lb)-pre && la[len(la)-1-suf] == lb[len(lb)-1-suf] {
		suf++
	}
	const context = 3
	lo := max(pre-context, 0)
	ha, hb := len(la)-max(suf-context, 0), len(lb)-max(suf-context, 0)
	ma, mb := la[lo:ha], lb[lo:hb]
	if len(ma)+len(mb) > MaxLines {
		writeWhole(&out, la, lb, pre, suf, context)
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

// Lines splits a text into lines, each with its "\n"; a last line without
// one is followed by diff's marker line.
func Lines(s string) []string {
	if s == "" {
		return nil
	}
	l := strings.SplitAfter(s, "\n")
	if l[len(l)-1] == "" {
		l = l[:len(l)-1]
	} else {
		l[len(l)-1] += "\n" + noNewline
	}
	return l
}

// noNewline is diff's line after a last line without a newline.
const noNewline = "\\ No newline at end of file\n"

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
