package api

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fountainai/fountain"
)

// Problem is an RFC 9457 problem document, with Fountain's extensions.
type Problem struct {
	Type        string              `json:"type,omitempty" doc:"A URI reference for the problem type (about:blank)."`
	Title       string              `json:"title,omitempty" doc:"Short summary of the problem type (the HTTP status text)."`
	Status      int                 `json:"status,omitempty" doc:"HTTP status code."`
	Detail      string              `json:"detail,omitempty" doc:"What went wrong, in words meant for the user."`
	Code        string              `json:"code,omitempty" doc:"Fountain's error code: invalid, bad_request, not_found, conflict, unauthorized, forbidden, rate_limited, upstream, unavailable, cancelled, internal."`
	Hint        string              `json:"hint,omitempty" doc:"What to do about it, when known."`
	OperationID string              `json:"operation_id,omitempty" doc:"The operation that failed, if one was started."`
	Operation   *fountain.Operation `json:"operation,omitempty" doc:"The failed operation with its steps, if one was started."`
	Errors      []*huma.ErrorDetail `json:"errors,omitempty" doc:"Per-field details: location (e.g. body.instance_name) and message."`
	headers     http.Header
}

func (p *Problem) Error() string  { return p.Detail }
func (p *Problem) GetStatus() int { return p.Status }
func (p *Problem) GetHeaders() http.Header {
	if p.headers == nil {
		p.headers = http.Header{}
	}
	return p.headers
}

// ContentType makes JSON problems application/problem+json.
func (p *Problem) ContentType(ct string) string {
	if ct == "application/json" {
		return "application/problem+json"
	}
	return ct
}

// Codes of problems that the HTTP layer itself answers, besides the
// domain's codes.
const (
	codeMethodNotAllowed     = "method_not_allowed"
	codeUnsupportedMediaType = "unsupported_media_type"
	codeTooLarge             = "too_large"
	codeURITooLong           = "uri_too_long"
	codeTimeout              = "timeout"
)

// statusByCode is the one table from error code to HTTP status.
var statusByCode = map[string]int{
	fountain.EINVALID:      http.StatusUnprocessableEntity,
	fountain.EBADREQUEST:   http.StatusBadRequest,
	fountain.ENOTFOUND:     http.StatusNotFound,
	fountain.ECONFLICT:     http.StatusConflict,
	fountain.EUNAUTHORIZED: http.StatusUnauthorized,
	fountain.EFORBIDDEN:    http.StatusForbidden,
	fountain.ERATELIMITED:  http.StatusTooManyRequests,
	fountain.EUPSTREAM:     http.StatusBadGateway,
	fountain.EUNAVAILABLE:  http.StatusServiceUnavailable,
	fountain.ECANCELLED:    http.StatusConflict,
	fountain.EINTERNAL:     http.StatusInternalServerError,

	codeMethodNotAllowed:     http.StatusMethodNotAllowed,
	codeUnsupportedMediaType: http.StatusUnsupportedMediaType,
	codeTooLarge:             http.StatusRequestEntityTooLarge,
	codeURITooLong:           http.StatusRequestURITooLong,
	codeTimeout:              http.StatusRequestTimeout,
}

// codeByStatus maps huma's own errors (validation, parsing) back to codes.
func codeByStatus(status int) string {
	for code, s := range statusByCode {
		if s == status && code != fountain.ECANCELLED {
			return code
		}
	}
	return ""
}

// StatusOf returns the HTTP status for an error code.
func StatusOf(code string) int {
	if s, ok := statusByCode[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

func init() {
	// Every error huma writes (validation, bad JSON, ...) is a Problem too.
	huma.NewError = func(status int, msg string, errs ...error) huma.StatusError {
		p := &Problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: cutMessage(msg), Code: codeByStatus(status)}
		if len(errs) > 0 {
			p.Errors = make([]*huma.ErrorDetail, 0, len(errs))
		}
		details := make([]huma.ErrorDetail, 0, len(errs)) // one allocation for all
		for _, e := range errs {
			if e == nil {
				continue
			}
			if d, ok := asDetailer(e); ok {
				// The offending value is left out: it may be a secret.
				detail := *d.ErrorDetail()
				detail.Value = nil
				// Name the missing field itself, not the object that lacks it.
				if f, ok := strings.CutPrefix(detail.Message, "expected required property "); ok {
					if f, ok = strings.CutSuffix(f, " to be present"); ok {
						detail.Location += "." + f
						detail.Message = "is required"
					}
				}
				// Type errors in the API's words, not Go's.
				if m := goTypeErrorMatch(detail.Message); m != nil {
					detail.Location = "body." + m[4]
					detail.Message = "expected " + apiType(m[5]) + ", got " + m[1]
					if m[2] != "" {
						detail.Message += " " + m[2]
					}
				}
				detail.Message = cutMessage(detail.Message)
				detail.Location = truncate(detail.Location, 200)
				details = append(details, detail)
				p.Errors = append(p.Errors, &details[len(details)-1])
			} else {
				p.Errors = append(p.Errors, &huma.ErrorDetail{Message: cutMessage(e.Error())})
			}
		}
		if status == http.StatusUnprocessableEntity && len(p.Errors) > 0 {
			var b strings.Builder
			n := len(msg)
			for _, d := range p.Errors {
				n += 4 + len(d.Location) + len(d.Message)
			}
			b.Grow(n)
			b.WriteString(msg)
			sep := ": "
			for _, d := range p.Errors {
				b.WriteString(sep)
				sep = "; "
				b.WriteString(strings.TrimPrefix(d.Location, "body."))
				b.WriteString(": ")
				b.WriteString(d.Message)
			}
			p.Detail = truncate(b.String(), maxMessage)
		}
		return p
	}
}

// asDetailer finds a huma.ErrorDetailer in err's chain; a direct one (the
// usual case) costs no allocation.
func asDetailer(err error) (huma.ErrorDetailer, bool) {
	if d, ok := err.(huma.ErrorDetailer); ok {
		return d, true
	}
	var d huma.ErrorDetailer
	ok := errors.As(err, &d)
	return d, ok
}

// goTypeError is how Go's JSON decoder describes a value of the wrong type.
var goTypeError = regexp.MustCompile(`^json: cannot unmarshal (\w+)(?: (\S+))? into Go struct field (\w+)\.(\S+) of type (\S+)$`)

// goTypeErrorMatch matches goTypeError, cheaply ruling out other messages.
func goTypeErrorMatch(msg string) []string {
	if !strings.HasPrefix(msg, "json: cannot unmarshal") {
		return nil
	}
	return goTypeError.FindStringSubmatch(msg)
}

// apiType names a Go type in JSON Schema's words.
func apiType(goType string) string {
	switch {
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"):
		return "integer"
	case strings.HasPrefix(goType, "float"):
		return "number"
	case goType == "string":
		return "string"
	case goType == "bool":
		return "boolean"
	case strings.HasPrefix(goType, "[]"):
		return "array"
	}
	return "object"
}

// longQuoted is a quoted value too long to echo.
var longQuoted = regexp.MustCompile(`"[^"]{64}[^"]+"`)

// maxMessage bounds a message in a problem.
const maxMessage = 1024

// cutMessage keeps echoed values short: a quoted value is cut to a
// prefix, and the whole message to maxMessage bytes.
func cutMessage(msg string) string {
	if len(msg) < 80 || !strings.Contains(msg, `"`) && len(msg) <= maxMessage {
		return msg
	}
	msg = longQuoted.ReplaceAllStringFunc(msg, func(q string) string { return q[:60] + `…"` })
	return truncate(msg, maxMessage)
}

// problemFrom turns any error into a Problem. Internal details of errors
// that are not *fountain.Error stay in the log.
func problemFrom(err error) error {
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	if errors.Is(err, context.Canceled) {
		return &Problem{Type: "about:blank", Title: "Client Closed Request", Status: 499, Detail: "request cancelled", Code: fountain.ECANCELLED}
	}
	code := fountain.ErrorCode(err)
	status := StatusOf(code)
	p = &Problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Code: code, Detail: cutMessage(fountain.ErrorMessage(err))}
	var fe *fountain.Error
	if errors.As(err, &fe) {
		p.Hint = fe.Hint
		if fe.Field != "" {
			p.Errors = []*huma.ErrorDetail{{Location: fieldLocation(fe.Field), Message: cutMessage(fe.Message)}}
		}
	}
	if until, ok := rateLimitUntil(err); ok {
		setRetryAfter(p, until)
	}
	return p
}

// fieldLocation is where a field is in the request: the body, unless the
// field says query., path. or header.
func fieldLocation(field string) string {
	for _, in := range []string{"query.", "path.", "header."} {
		if strings.HasPrefix(field, in) {
			return field
		}
	}
	return "body." + field
}

// operationProblem describes a failed operation.
func operationProblem(op *fountain.Operation) *Problem {
	code := op.ErrorCode
	if code == "" {
		code = fountain.EINTERNAL
	}
	status := StatusOf(code)
	if op.Status == fountain.StatusInterrupted {
		status = http.StatusServiceUnavailable
	}
	p := &Problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Code: code,
		Detail: op.Error, Hint: op.ErrorHint, OperationID: op.ID, Operation: op}
	p.GetHeaders().Set("Fountain-Operation-Id", op.ID)
	return p
}
