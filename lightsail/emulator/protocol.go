package emulator

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Wire constants of AWS JSON 1.1 as Lightsail uses it.
const (
	targetPrefix    = "Lightsail_20161128"
	jsonContentType = "application/x-amz-json-1.1"
	maxBodyBytes    = 8 << 20
)

// epoch is a timestamp sent as epoch seconds with a millisecond fraction,
// the way AWS JSON protocols send them (1479734909.17).
type epoch time.Time

// IsZero lets `omitzero` drop unset timestamps.
func (e epoch) IsZero() bool { return time.Time(e).IsZero() }

// MarshalJSON writes the timestamp as a JSON number.
func (e epoch) MarshalJSON() ([]byte, error) {
	ms := time.Time(e).UnixMilli()
	return []byte(strconv.FormatFloat(float64(ms)/1000, 'f', 3, 64)), nil
}

// decodeInput parses a request body into v. An empty body is treated as {}.
// Unknown members are ignored, as AWS does; a body that is not a JSON object
// of the right shape is a SerializationException.
func decodeInput(body []byte, v any) *apiError {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return newError(SerializationException, "%s", serializationMessage(err))
	}
	return nil
}

func serializationMessage(err error) string {
	switch e := err.(type) {
	case *json.UnmarshalTypeError:
		return fmt.Sprintf("Unexpected value type for member '%s': expected %s, got %s", e.Field, e.Type, e.Value)
	case *json.SyntaxError:
		return "Malformed JSON request body: " + e.Error()
	}
	return "Malformed request body"
}

// str returns the value of an optional string member ("" when absent).
func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// boolv returns the value of an optional boolean member.
func boolv(p *bool) bool { return p != nil && *p }

// newUUID returns a random RFC 4122 version 4 UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// randomHex returns n random bytes hex-encoded.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// paginate returns the page of items (sorted ascending by key) that follows
// token, and the token of the next page ("" on the last page). Tokens are
// opaque to clients: the base64url form of the last key returned.
func paginate[T any](items []T, key func(T) string, token string, size int) ([]T, string, *apiError) {
	start := 0
	if token != "" {
		raw, err := base64.RawURLEncoding.DecodeString(token)
		if err != nil || len(raw) == 0 {
			return nil, "", errInvalid("The pageToken is not valid: %s", token)
		}
		after := string(raw)
		for start < len(items) && key(items[start]) <= after {
			start++
		}
	}
	end := min(start+size, len(items))
	page := items[start:end]
	next := ""
	if end < len(items) && len(page) > 0 {
		next = base64.RawURLEncoding.EncodeToString([]byte(key(page[len(page)-1])))
	}
	return page, next, nil
}

// sortedValues returns the values of m sorted by name. The maps it is used
// on are keyed by that name, so no two values tie.
func sortedValues[T any](m map[string]*T, name func(*T) string) []*T {
	list := slices.Collect(maps.Values(m))
	slices.SortFunc(list, func(a, b *T) int { return strings.Compare(name(a), name(b)) })
	return list
}

// pageTokenInput is the input of the paged Get* operations that take
// nothing but pageToken.
type pageTokenInput struct {
	PageToken *string `json:"pageToken"`
}

// pagedList is the shared part of the paged Get* operations: it returns the
// page of items (sorted ascending by key, see paginate) that follows the
// request's pageToken, converted by wire, and the next page's token. The
// slice is never nil, so an empty page encodes as [].
func pagedList[T, W any](c *call, items []T, key func(T) string, pageToken *string, wire func(T) W) ([]W, string, *apiError) {
	page, next, aerr := paginate(items, key, str(pageToken), c.s.pageSize)
	if aerr != nil {
		return nil, "", aerr
	}
	out := make([]W, 0, len(page))
	for _, v := range page {
		out = append(out, wire(v))
	}
	return out, next, nil
}

// location is a ResourceLocation.
type location struct {
	AvailabilityZone string `json:"availabilityZone,omitempty"`
	RegionName       string `json:"regionName,omitempty"`
}

// tag is a Tag.
type tag struct {
	Key   string `json:"key"`
	Value string `json:"value,omitempty"`
}

// validTags checks a TagList and returns a copy.
func validTags(tags []tag) ([]tag, *apiError) {
	if len(tags) > 50 {
		return nil, errInvalid("A resource can have at most 50 tags.")
	}
	out := make([]tag, 0, len(tags))
	seen := map[string]bool{}
	for _, t := range tags {
		if t.Key == "" || len(t.Key) > 128 || len(t.Value) > 256 {
			return nil, errInvalid("Tag keys must be 1-128 characters and tag values at most 256 characters.")
		}
		if len(t.Key) >= 4 && strings.EqualFold(t.Key[:4], "aws:") {
			return nil, errInvalid("Tag keys starting with 'aws:' are reserved for AWS use: %s", t.Key)
		}
		if seen[t.Key] {
			return nil, errInvalid("Duplicate tag key: %s", t.Key)
		}
		seen[t.Key] = true
		out = append(out, t)
	}
	return out, nil
}

// validName reports whether name follows Lightsail's resource naming rules:
// 2-255 characters, an alphanumeric first character, then alphanumerics,
// '-', '_' and '.', not ending in one of the three punctuation characters.
func validName(name string) bool {
	if len(name) < 2 || len(name) > 255 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		switch {
		case alnum:
		case i == 0 || i == len(name)-1:
			return false
		case c == '-' || c == '_' || c == '.':
		default:
			return false
		}
	}
	return true
}

// requireName checks a required resource-name member.
func requireName(member string, v *string) (string, *apiError) {
	if v == nil {
		return "", errMissing(member)
	}
	if !validName(*v) {
		return "", errBadName(*v)
	}
	return *v, nil
}
