// Package fountain holds Fountain's domain: the operations every change is
// recorded as, the audit log, and the one error type whose codes every layer
// maps to its own vocabulary (HTTP statuses, exit codes).
//
// It imports only the standard library. Adapters live in subpackages named
// after what they wrap: sqlite, lightsail, sandbox, api (HTTP), cli.
package fountain

import (
	"errors"
	"fmt"
)

// Error codes. The api package maps each to one HTTP status in one table.
const (
	EINVALID      = "invalid"      // the caller's input is wrong (422)
	EBADREQUEST   = "bad_request"  // the request itself is malformed (400)
	ENOTFOUND     = "not_found"    // the thing does not exist (404)
	ECONFLICT     = "conflict"     // it exists, but not as asked (409)
	EUNAUTHORIZED = "unauthorized" // no or wrong credentials for Fountain (401)
	EFORBIDDEN    = "forbidden"    // an upstream refused the credentials' permissions (403)
	ERATELIMITED  = "rate_limited" // an upstream's rate limit is hit; retry later (429)
	EUPSTREAM     = "upstream"     // a cloud or host refused or failed (502)
	EUNAVAILABLE  = "unavailable"  // a dependency is not configured or reachable (503)
	ECANCELLED    = "cancelled"    // the caller cancelled the work (409)
	EINTERNAL     = "internal"     // a bug or an unexpected failure (500)
)

// Error is Fountain's error: a code, a message safe to show a user, the
// request field it concerns (if any), and the wrapped internal cause, which
// is logged but never shown.
type Error struct {
	Code    string
	Message string
	Field   string
	Hint    string
	Err     error
}

func (e *Error) Error() string {
	msg := e.Message
	if e.Field != "" {
		msg = e.Field + ": " + msg
	}
	if e.Err != nil {
		return msg + ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the internal cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns an EINVALID error about one request field.
func Invalid(field, format string, args ...any) *Error {
	return &Error{Code: EINVALID, Field: field, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorHint returns the hint of the first *Error in err's chain, or "".
func ErrorHint(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Hint
	}
	return ""
}

// ErrorMessage returns the user-safe message of err: the message of the first
// *Error in its chain, or a generic text for other errors, whose details may
// hold internal information.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		if e.Field != "" {
			return e.Field + ": " + e.Message
		}
		return e.Message
	}
	return "internal error"
}
