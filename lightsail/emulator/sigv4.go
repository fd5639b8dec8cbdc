package emulator

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// SigV4 constants.
const (
	sigAlgorithm    = "AWS4-HMAC-SHA256"
	signingName     = "lightsail"
	amzDateFormat   = "20060102T150405Z"
	scopeTerminal   = "aws4_request"
	maxClockSkew    = 15 * time.Minute
	unsignedPayload = "UNSIGNED-PAYLOAD"
)

// signature is a parsed SigV4 Authorization header.
type signature struct {
	accessKeyID   string
	scopeDate     string
	region        string
	service       string
	signedHeaders []string
	signature     string
}

// authenticate verifies the request's SigV4 signature against the configured
// credentials and returns the region of its credential scope.
//
// The checks and their error types follow what AWS JSON services answer:
// no Authorization header -> MissingAuthenticationTokenException (403); a
// malformed one -> IncompleteSignatureException (400); an unknown access key
// -> UnrecognizedClientException (400); a wrong scope, a date more than 15
// minutes from the server clock, a payload hash that does not match, or a
// signature that does not match -> InvalidSignatureException (403).
func (s *Server) authenticate(r *http.Request, body []byte, now time.Time) (string, *apiError) {
	header := r.Header.Get("Authorization")
	if header == "" {
		return "", newError(MissingAuthenticationTokenException, "Missing Authentication Token")
	}
	sig, aerr := parseAuthorization(header)
	if aerr != nil {
		return "", aerr
	}
	secret, ok := s.creds[sig.accessKeyID]
	if !ok {
		return "", newError(UnrecognizedClientException, "The security token included in the request is invalid.")
	}
	if sig.service != signingName {
		return "", newError(InvalidSignatureException, "Credential should be scoped to correct service: '%s'. ", signingName)
	}
	if !knownRegion(sig.region) {
		return "", newError(InvalidSignatureException, "Credential should be scoped to a valid region, not '%s'. ", sig.region)
	}

	amzDate := r.Header.Get("X-Amz-Date")
	var reqTime time.Time
	if amzDate != "" {
		t, err := time.Parse(amzDateFormat, amzDate)
		if err != nil {
			return "", newError(IncompleteSignatureException, "Date must be in ISO-8601 'basic format'. Got '%s'. See http://en.wikipedia.org/wiki/ISO_8601", amzDate)
		}
		reqTime = t
	} else if d := r.Header.Get("Date"); d != "" {
		t, err := http.ParseTime(d)
		if err != nil {
			return "", newError(IncompleteSignatureException, "Date must be in RFC 1123 format. Got '%s'.", d)
		}
		reqTime = t.UTC()
		amzDate = reqTime.Format(amzDateFormat)
	} else {
		return "", newError(IncompleteSignatureException, "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=%s", redactAuthorization(header))
	}
	if sig.scopeDate != amzDate[:8] {
		return "", newError(InvalidSignatureException, "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.", sig.scopeDate, amzDate[:8], amzDate)
	}
	if !slices.Contains(sig.signedHeaders, "host") {
		return "", newError(InvalidSignatureException, "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
	}
	now = now.UTC()
	if reqTime.Before(now.Add(-maxClockSkew)) {
		return "", newError(InvalidSignatureException, "Signature expired: %s is now earlier than %s (%s - 15 min.)",
			amzDate, now.Add(-maxClockSkew).Format(amzDateFormat), now.Format(amzDateFormat))
	}
	if reqTime.After(now.Add(maxClockSkew)) {
		return "", newError(InvalidSignatureException, "Signature not yet current: %s is still later than %s (%s + 15 min.)",
			amzDate, now.Add(maxClockSkew).Format(amzDateFormat), now.Format(amzDateFormat))
	}

	sum := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(sum[:])
	if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" {
		switch {
		case h == unsignedPayload:
			payloadHash = h
		case !strings.EqualFold(h, payloadHash):
			return "", newError(InvalidSignatureException, "The provided 'x-amz-content-sha256' header does not match what was computed.")
		}
	}

	canonical := canonicalRequest(r, sig.signedHeaders, payloadHash)
	scope := strings.Join([]string{sig.scopeDate, sig.region, sig.service, scopeTerminal}, "/")
	crHash := sha256.Sum256([]byte(canonical))
	stringToSign := strings.Join([]string{sigAlgorithm, amzDate, scope, hex.EncodeToString(crHash[:])}, "\n")
	key := signingKey(secret, sig.scopeDate, sig.region, sig.service)
	want := hex.EncodeToString(hmacSHA256(key, []byte(stringToSign)))
	if !hmac.Equal([]byte(want), []byte(strings.ToLower(sig.signature))) {
		return "", newError(InvalidSignatureException, "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")
	}
	return sig.region, nil
}

// parseAuthorization parses "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...".
func parseAuthorization(h string) (signature, *apiError) {
	var sig signature
	alg, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	if alg != sigAlgorithm {
		return sig, newError(IncompleteSignatureException, "Unsupported AWS 'algorithm': '%s'.", alg)
	}
	params := map[string]string{}
	for part := range strings.SplitSeq(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		params[k] = v
	}
	var missing []string
	for _, k := range []string{"Credential", "Signature", "SignedHeaders"} {
		if params[k] == "" {
			missing = append(missing, "Authorization header requires '"+k+"' parameter.")
		}
	}
	if len(missing) > 0 {
		return sig, newError(IncompleteSignatureException, "%s Authorization=%s", strings.Join(missing, " "), redactAuthorization(h))
	}
	cred := strings.Split(params["Credential"], "/")
	if len(cred) != 5 || cred[0] == "" {
		return sig, newError(IncompleteSignatureException, "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '%s'", params["Credential"])
	}
	if cred[4] != scopeTerminal {
		return sig, newError(InvalidSignatureException, "Credential should be scoped with a valid terminator: 'aws4_request', not '%s'. ", cred[4])
	}
	sig.accessKeyID, sig.scopeDate, sig.region, sig.service = cred[0], cred[1], cred[2], cred[3]
	sig.signedHeaders = strings.Split(strings.ToLower(params["SignedHeaders"]), ";")
	sig.signature = params["Signature"]
	return sig, nil
}

// redactAuthorization keeps the algorithm and credential scope of an
// Authorization header for error messages and drops the signature.
func redactAuthorization(h string) string {
	if i := strings.Index(h, "Signature="); i >= 0 {
		return h[:i] + "Signature=..."
	}
	return h
}

// canonicalRequest builds the SigV4 canonical request of r.
func canonicalRequest(r *http.Request, signed []string, payloadHash string) string {
	// Use the request line as sent, so a Server mounted below a prefix with
	// http.StripPrefix still verifies the path the client signed.
	path, rawQuery := r.URL.EscapedPath(), r.URL.RawQuery
	if u, err := url.ParseRequestURI(r.RequestURI); err == nil {
		path, rawQuery = u.EscapedPath(), u.RawQuery
	}
	if path == "" {
		path = "/"
	}

	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	b.WriteString(awsEscape(path, false))
	b.WriteByte('\n')
	b.WriteString(canonicalQuery(rawQuery))
	b.WriteByte('\n')
	for _, name := range signed {
		b.WriteString(name)
		b.WriteByte(':')
		b.WriteString(canonicalHeaderValue(r, name))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(signed, ";"))
	b.WriteByte('\n')
	b.WriteString(payloadHash)
	return b.String()
}

func canonicalHeaderValue(r *http.Request, name string) string {
	var values []string
	switch name {
	case "host":
		values = []string{r.Host}
	default:
		values = r.Header.Values(name)
		if len(values) == 0 && name == "content-length" && r.ContentLength >= 0 {
			values = []string{strconv.FormatInt(r.ContentLength, 10)}
		}
	}
	for i, v := range values {
		values[i] = strings.Join(strings.Fields(v), " ")
	}
	return strings.Join(values, ",")
}

// canonicalQuery sorts and re-encodes a raw query string.
func canonicalQuery(raw string) string {
	if raw == "" {
		return ""
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return raw
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		vs := append([]string(nil), q[k]...)
		sort.Strings(vs)
		for _, v := range vs {
			parts = append(parts, awsEscape(k, true)+"="+awsEscape(v, true))
		}
	}
	return strings.Join(parts, "&")
}

// awsEscape percent-encodes every byte except the RFC 3986 unreserved
// characters (and '/', unless encodeSlash).
func awsEscape(s string, encodeSlash bool) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		unreserved := c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~'
		if unreserved || c == '/' && !encodeSlash {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

func signingKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), []byte(date))
	k = hmacSHA256(k, []byte(region))
	k = hmacSHA256(k, []byte(service))
	return hmacSHA256(k, []byte(scopeTerminal))
}

func hmacSHA256(key, data []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(data)
	return m.Sum(nil)
}
