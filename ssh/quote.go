package ssh

import (
	"errors"
	"strings"

	"github.com/fountainai/fountain"
)

// ErrNUL is the cause of the error QuoteValue and Run return for a value
// holding a NUL byte: no shell word, argument or environment value can
// hold one (sshd would cut the command line there).
var ErrNUL = errors.New("contains a NUL byte")

// Quote returns s as one word for a POSIX shell: unchanged if it is made
// only of characters no shell treats specially (letters, digits and
// @%+:,./-_) and is not a reserved word, otherwise in single quotes, each
// ' written as '\”. It is the
// only way a value is placed into a remote command. Quote does not check
// for NUL bytes: values from outside go through QuoteValue, and Run refuses
// a command line holding one.
func Quote(s string) string {
	if s == "" {
		return "''"
	}
	if isPlain(s) && !reserved[s] {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// QuoteValue is Quote for values from outside (a request): it returns an
// EINVALID error wrapping ErrNUL if s holds a NUL byte.
func QuoteValue(s string) (string, error) {
	if err := CheckValue(s); err != nil {
		return "", err
	}
	return Quote(s), nil
}

// CheckValue returns an EINVALID error wrapping ErrNUL if s cannot be
// passed to a remote command (it holds a NUL byte), and nil otherwise.
// Callers use it to refuse a request before any connection.
func CheckValue(s string) error {
	if strings.IndexByte(s, 0) >= 0 {
		return &fountain.Error{Code: fountain.EINVALID, Message: "contains a NUL byte, which no shell value can hold", Err: ErrNUL}
	}
	return nil
}

// Join quotes each argument with Quote and joins them with spaces: a
// command line that runs argv as given.
func Join(argv ...string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = Quote(a)
	}
	return strings.Join(q, " ")
}

// reserved are the words a shell reads as syntax in command position
// (POSIX, plus bash's): quoted, they are plain words again.
var reserved = map[string]bool{
	"if": true, "then": true, "else": true, "elif": true, "fi": true, "do": true, "done": true,
	"case": true, "esac": true, "while": true, "until": true, "for": true, "in": true,
	"function": true, "select": true, "time": true, "coproc": true,
}

// isPlain reports whether s needs no quoting. '=' is not plain: a first
// word holding one would be read as an assignment.
func isPlain(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("@%+:,./-_", c) >= 0:
		default:
			return false
		}
	}
	return true
}
