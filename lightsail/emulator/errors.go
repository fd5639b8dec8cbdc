package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"unicode/utf8"
)

// Error types the emulator sends. The modelled Lightsail exceptions come
// first, then the ones the AWS front end sends before a request reaches the
// service (authentication, routing, serialization, throttling).
const (
	InvalidInputException           = "InvalidInputException"
	OperationFailureException       = "OperationFailureException"
	UnauthenticatedException        = "UnauthenticatedException"
	AccessDeniedException           = "AccessDeniedException"
	NotFoundException               = "NotFoundException"
	AccountSetupInProgressException = "AccountSetupInProgressException"
	RegionSetupInProgressException  = "RegionSetupInProgressException"
	ServiceException                = "ServiceException"

	MissingAuthenticationTokenException = "MissingAuthenticationTokenException"
	IncompleteSignatureException        = "IncompleteSignatureException"
	InvalidSignatureException           = "InvalidSignatureException"
	UnrecognizedClientException         = "UnrecognizedClientException"
	UnknownOperationException           = "UnknownOperationException"
	SerializationException              = "SerializationException"
	ThrottlingException                 = "ThrottlingException"
)

// errorStatus is the HTTP status each error type is sent with.
var errorStatus = map[string]int{
	InvalidInputException:               http.StatusBadRequest,
	OperationFailureException:           http.StatusBadRequest,
	UnauthenticatedException:            http.StatusUnauthorized,
	AccessDeniedException:               http.StatusForbidden,
	NotFoundException:                   http.StatusNotFound,
	AccountSetupInProgressException:     428,
	RegionSetupInProgressException:      400,
	ServiceException:                    http.StatusInternalServerError,
	MissingAuthenticationTokenException: http.StatusForbidden,
	IncompleteSignatureException:        http.StatusBadRequest,
	InvalidSignatureException:           http.StatusForbidden,
	UnrecognizedClientException:         http.StatusBadRequest,
	UnknownOperationException:           http.StatusBadRequest,
	SerializationException:              http.StatusBadRequest,
	ThrottlingException:                 http.StatusBadRequest,
}

// defaultMessages are used for injected faults.
var defaultMessages = map[string]string{
	ThrottlingException: "Rate exceeded",
	ServiceException:    "We encountered an internal error. Please try again.",
}

// apiError is an error answered to the client.
type apiError struct {
	Type    string
	Status  int
	Message string
}

func (e *apiError) Error() string { return e.Type + ": " + e.Message }

// newError builds an apiError with the status registered for typ (400 for
// unknown types).
func newError(typ, format string, args ...any) *apiError {
	status, ok := errorStatus[typ]
	if !ok {
		status = http.StatusBadRequest
	}
	for i, a := range args {
		if str, ok := a.(string); ok {
			args[i] = clip(str)
		}
	}
	return &apiError{Type: typ, Status: status, Message: fmt.Sprintf(format, args...)}
}

// clipLen is how much of a caller's value an error message repeats.
const clipLen = 64

// clip cuts a caller's value to its first clipLen bytes (on a character
// boundary) and "…", so that no error repeats a huge value whole.
func clip(s string) string {
	if len(s) <= clipLen {
		return s
	}
	cut := clipLen
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func errInvalid(format string, args ...any) *apiError {
	return newError(InvalidInputException, format, args...)
}

func errNotFound(format string, args ...any) *apiError {
	return newError(NotFoundException, format, args...)
}

func errFailure(format string, args ...any) *apiError {
	return newError(OperationFailureException, format, args...)
}

// errMissing is the message AWS's validation layer sends for a missing
// required member.
func errMissing(member string) *apiError {
	return errInvalid("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", member)
}

// errBadName is Lightsail's message for a name that breaks the naming rules.
func errBadName(name string) *apiError {
	return errInvalid("%s is not a valid resource name. Resource names must be at least 2 characters long and contain only alphanumerics, -, _, and .", name)
}

// errorBody is the wire shape of an error. Lightsail's exceptions also model
// code, docs and tip; the emulator sends only the two members every AWS JSON
// service sends.
type errorBody struct {
	Type    string `json:"__type"`
	Message string `json:"message"`
}

// writeError answers e in AWS JSON 1.1 form.
func writeError(w http.ResponseWriter, e *apiError) {
	body, _ := json.Marshal(errorBody{Type: e.Type, Message: e.Message})
	h := w.Header()
	h.Set("Content-Type", jsonContentType)
	h.Set("X-Amzn-ErrorType", e.Type)
	h.Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(e.Status)
	_, _ = w.Write(body)
}
