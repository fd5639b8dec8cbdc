package github

import "github.com/fountainai/fountain/textdiff"

// fileDiff is a unified diff (3 lines of context) of the file at path from
// old to new; existed false diffs from /dev/null, as git shows a new file.
func fileDiff(path, old, new string, existed bool) string {
	from := "a/" + path
	if !existed {
		from = "/dev/null"
	}
	return textdiff.Unified(old, new, from, "b/"+path)
}
