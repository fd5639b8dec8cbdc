package kong

import "github.com/fountainai/fountain/textdiff"

// maxDiffLines bounds the lines Diff compares in detail (textdiff's bound).
const maxDiffLines = textdiff.MaxLines

// Diff is a unified diff (3 lines of context) from from's canonical YAML
// to to's, with fromName and toName in its header; "" when they mean the
// same. A nil Config is an empty text. Past maxDiffLines lines (after the
// lines both share at the start and the end), the differing middle is
// shown as removed and added whole.
func Diff(from, to *Config, fromName, toName string) string {
	return textdiff.Unified(yamlOf(from), yamlOf(to), fromName, toName)
}

// yamlOf is a configuration's canonical YAML; "" for nil.
func yamlOf(c *Config) string {
	if c == nil {
		return ""
	}
	return c.text
}

// lines splits a configuration's YAML into lines, each with its "\n".
func lines(c *Config) []string { return textdiff.Lines(yamlOf(c)) }
