package stack

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/fountainai/fountain"
)

// Error is one problem in a stack file: where it is and what it is.
type Error struct {
	File   string // the file's name, e.g. fountain.yml
	Line   int    // 1-based; 0 when unknown (a Stack built in Go)
	Column int    // 1-based; 0 when unknown
	// Path is the value's path, e.g. apps.my-app.ports[0]; "" for the
	// file as a whole.
	Path    string
	Message string
	Hint    string // what to do about it, when known
}

// Error is "FILE:LINE:COLUMN: PATH: MESSAGE".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", e.Line, max(e.Column, 1))
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// Unwrap makes the error an invalid input (EINVALID, 422) for the layers
// that map Fountain's error codes.
func (e *Error) Unwrap() error {
	return &fountain.Error{Code: fountain.EINVALID, Message: e.Error(), Hint: e.Hint}
}

// ErrorList is every problem found, in file order for parse errors and
// in a stable order for validation errors. It is what Parse and Validate
// return.
type ErrorList []*Error

// maxErrors bounds the problems reported at once.
const maxErrors = 50

// Error is one problem per line.
func (l ErrorList) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the problems, for errors.As.
func (l ErrorList) Unwrap() []error {
	out := make([]error, len(l))
	for i, e := range l {
		out[i] = e
	}
	return out
}

// errs collects problems up to maxErrors.
type errs struct {
	list ErrorList
	more int // problems past maxErrors
}

func (c *errs) add(e *Error) {
	if len(c.list) >= maxErrors {
		c.more++
		return
	}
	c.list = append(c.list, e)
}

func (c *errs) err() error {
	if len(c.list) == 0 {
		return nil
	}
	if c.more > 0 {
		last := c.list[len(c.list)-1]
		c.list = append(c.list, &Error{File: last.File, Message: fmt.Sprintf("and %d more problems", c.more)})
	}
	return c.list
}

// Paths name values the way a reader finds them: keys joined by ".",
// list items as [N], and a key that holds anything but letters, digits,
// '_', '-' and '/' quoted in brackets: instances["web.1"].zone.

// join returns the path of key under path.
func join(path, key string) string {
	if simpleKey(key) {
		if path == "" {
			return key
		}
		return path + "." + key
	}
	return path + "[" + strconv.Quote(key) + "]"
}

// index returns the path of item i under path.
func index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

func simpleKey(k string) bool {
	if k == "" || len(k) > 128 {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '/') {
			return false
		}
	}
	return true
}

// parent returns the path that holds path ("" at the top).
func parent(path string) string {
	last := 0 // where the last segment starts
	for i := 0; i < len(path); {
		switch path[i] {
		case '.':
			last = i
			i++
		case '[':
			last = i
			if i+1 < len(path) && path[i+1] == '"' {
				// A quoted key: skip to its closing quote.
				j := i + 2
				for j < len(path) && path[j] != '"' {
					if path[j] == '\\' {
						j++
					}
					j++
				}
				i = j + 1
			} else {
				i++
			}
		default:
			i++
		}
	}
	return path[:last]
}

// short cuts a value echoed in a message.
func short(s string) string {
	if len(s) > 64 {
		return strconv.Quote(s[:61]) + "…"
	}
	return strconv.Quote(s)
}
