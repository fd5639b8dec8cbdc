package github

import (
	"fmt"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
)

// maxDiffLines bounds the lines fileDiff matches line by line (the
// matcher's time grows faster than linearly); beyond it the old file is
// shown removed and the new one added, whole.
const maxDiffLines = 4000

// fileDiff is a unified diff (3 lines of context) of the file at path from
// old to new; existed false diffs from /dev/null, as git shows a new file.
func fileDiff(path, old, new string, existed bool) string {
	from := "a/" + path
	if !existed {
		from = "/dev/null"
	}
	a, b := splitLines(old), splitLines(new)
	var out strings.Builder
	if len(a)+len(b) > maxDiffLines {
		fmt.Fprintf(&out, "--- %s\n+++ b/%s\n@@ -%s +%s @@\n", from, path, hunkRange(len(a)), hunkRange(len(b)))
		for _, l := range a {
			out.WriteString("-" + l)
		}
		for _, l := range b {
			out.WriteString("+" + l)
		}
		return out.String()
	}
	_ = difflib.WriteUnifiedDiff(&out, difflib.UnifiedDiff{A: a, B: b, FromFile: from, ToFile: "b/" + path, Context: 3})
	return out.String()
}

// splitLines splits s into lines, each ending in "\n" (a last line without
// one gets it, so that the diff stays line-based).
func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	l := strings.SplitAfter(s, "\n")
	if l[len(l)-1] == "" {
		l = l[:len(l)-1]
	} else {
		l[len(l)-1] += "\n"
	}
	return l
}

// hunkRange is a whole text's range in a hunk header: "1,n", or "0,0".
func hunkRange(n int) string {
	if n == 0 {
		return "0,0"
	}
	return fmt.Sprintf("1,%d", n)
}
