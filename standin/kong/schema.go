package kong

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// kind is a Kong schema field type.
type kind int

const (
	kString kind = iota
	kInteger
	kNumber
	kBoolean
	kArray
	kSet
	kMap
	kRecord
	kForeign
)

// field is one field of an entity schema, with the validations of Kong's
// schema library that the stand-in supports.
type field struct {
	name     string
	kind     kind
	required bool
	def      any                 // default when missing (nil: null)
	auto     bool                // filled by the loader (id, timestamps)
	elem     *field              // elements of an array or set
	between  *[2]float64         // integer/number bounds
	oneOf    []string            // allowed string values
	check    func(string) string // custom validator for strings: "" when valid
	ref      string              // foreign: the referenced section
	fields   []*field            // record: its fields (nil: any record, as given)
}

// child is an entity type that may be nested in another one, and the
// foreign key field that links it to its parent.
type child struct {
	section string
	fk      string
}

// entitySchema is one entity type of the declarative configuration.
type entitySchema struct {
	section     string
	fields      []*field
	endpointKey string // unique key used for ids and references
	children    []child
	shorthand   func(in map[string]any)
	checks      func(e map[string]any, errs errT)
}

func (s *entitySchema) field(name string) *field {
	for _, f := range s.fields {
		if f.name == name {
			return f
		}
	}
	return nil
}

// protocols are Kong's protocols, sorted as constants.PROTOCOLS.
var protocols = []string{"grpc", "grpcs", "http", "https", "tcp", "tls", "tls_passthrough", "udp"}

// bundledPlugins are the plugins Kong 3.9 ships and enables by default.
var bundledPlugins = map[string]bool{}

func init() {
	for _, p := range strings.Fields(`jwt acl correlation-id cors oauth2 tcp-log udp-log file-log http-log
		key-auth hmac-auth basic-auth ip-restriction request-transformer response-transformer
		request-size-limiting rate-limiting response-ratelimiting syslog loggly datadog ldap-auth
		statsd bot-detection aws-lambda request-termination prometheus proxy-cache session acme
		grpc-gateway grpc-web pre-function post-function azure-functions zipkin opentelemetry
		ai-proxy ai-prompt-decorator ai-prompt-template ai-prompt-guard ai-request-transformer
		ai-response-transformer standard-webhooks redirect`) {
		bundledPlugins[p] = true
	}
}

func between(lo, hi float64) *[2]float64 { return &[2]float64{lo, hi} }

func uuidField() *field { return &field{name: "id", kind: kString, auto: true, check: checkUUID} }
func tsField(name string) *field {
	return &field{name: name, kind: kInteger, auto: true}
}
func tagsField() *field {
	return &field{name: "tags", kind: kSet, elem: &field{kind: kString, required: true, check: checkTag}}
}
func nameField() *field { return &field{name: "name", kind: kString, check: checkUTF8Name} }
func stringSet(name string, check func(string) string) *field {
	return &field{name: name, kind: kSet, elem: &field{kind: kString, required: true, check: check}}
}
func stringArray(name string, check func(string) string) *field {
	return &field{name: name, kind: kArray, elem: &field{kind: kString, required: true, check: check}}
}

// recordElems is a set of records (sources, destinations, healthchecks...)
// accepted as given.
func recordSet(name string) *field {
	return &field{name: name, kind: kSet, elem: &field{kind: kRecord, required: true}}
}

var schemas = map[string]*entitySchema{}

// sections are the entity sections in the order Kong loads them.
var sections = []string{"certificates", "ca_certificates", "snis", "services", "routes", "consumers", "keyauth_credentials", "upstreams", "targets", "plugins"}

// childSections lists the nested children of each section.
var childSections = map[string][]child{}

func init() {
	add := func(s *entitySchema) {
		schemas[s.section] = s
		childSections[s.section] = s.children
	}
	timeout := func(name string) *field {
		return &field{name: name, kind: kInteger, def: 60000.0, between: between(1, math.Pow(2, 31)-2)}
	}
	add(&entitySchema{
		section:     "services",
		endpointKey: "name",
		children:    []child{{"routes", "service"}, {"plugins", "service"}},
		shorthand:   serviceURL,
		checks:      serviceChecks,
		fields: []*field{
			uuidField(), tsField("created_at"), tsField("updated_at"), nameField(),
			{name: "retries", kind: kInteger, def: 5.0, between: between(0, 32767)},
			{name: "protocol", kind: kString, required: true, def: "http", oneOf: protocols},
			{name: "host", kind: kString, required: true, check: checkHost},
			{name: "port", kind: kInteger, required: true, def: 80.0, between: between(0, 65535)},
			{name: "path", kind: kString, check: checkPath},
			timeout("connect_timeout"), timeout("write_timeout"), timeout("read_timeout"),
			tagsField(),
			{name: "client_certificate", kind: kForeign, ref: "certificates"},
			{name: "tls_verify", kind: kBoolean},
			{name: "tls_verify_depth", kind: kInteger, between: between(0, 64)},
			stringArray("ca_certificates", checkUUID),
			{name: "enabled", kind: kBoolean, required: true, def: true},
		},
	})
	add(&entitySchema{
		section:     "routes",
		endpointKey: "name",
		children:    []child{{"plugins", "route"}},
		checks:      routeChecks,
		fields: []*field{
			uuidField(), tsField("created_at"), tsField("updated_at"), nameField(),
			{name: "protocols", kind: kSet, required: true, def: []any{"http", "https"},
				elem: &field{kind: kString, required: true, oneOf: protocols}},
			{name: "https_redirect_status_code", kind: kInteger, required: true, def: 426.0},
			{name: "strip_path", kind: kBoolean, required: true, def: true},
			{name: "preserve_host", kind: kBoolean, required: true, def: false},
			{name: "request_buffering", kind: kBoolean, required: true, def: true},
			{name: "response_buffering", kind: kBoolean, required: true, def: true},
			tagsField(),
			{name: "service", kind: kForeign, ref: "services"},
			stringSet("snis", checkWildcardHost),
			recordSet("sources"), recordSet("destinations"),
			stringSet("methods", checkMethod),
			stringArray("hosts", checkRouteHost),
			stringArray("paths", checkRouterPath),
			{name: "headers", kind: kMap},
			{name: "regex_priority", kind: kInteger, def: 0.0},
			{name: "path_handling", kind: kString, def: "v0", oneOf: []string{"v0", "v1"}},
		},
	})
	add(&entitySchema{
		section:     "consumers",
		endpointKey: "username",
		children:    []child{{"plugins", "consumer"}, {"keyauth_credentials", "consumer"}},
		checks: func(e map[string]any, errs errT) {
			if isEmpty(e["custom_id"]) && isEmpty(e["username"]) {
				errs.addEntity("at least one of these fields must be non-empty: 'custom_id', 'username'")
			}
		},
		fields: []*field{
			uuidField(), tsField("created_at"), tsField("updated_at"),
			{name: "username", kind: kString}, {name: "custom_id", kind: kString}, tagsField(),
		},
	})
	// key-auth's credentials (the plugin is bundled, so the entity is
	// there): the key is kept and exported as given.
	add(&entitySchema{
		section:     "keyauth_credentials",
		endpointKey: "key",
		fields: []*field{
			uuidField(), tsField("created_at"),
			{name: "consumer", kind: kForeign, ref: "consumers", required: true},
			{name: "key", kind: kString, required: true},
			{name: "ttl", kind: kInteger},
			tagsField(),
		},
	})
	add(&entitySchema{
		section:     "plugins",
		endpointKey: "instance_name",
		checks:      pluginChecks,
		fields: []*field{
			uuidField(),
			{name: "name", kind: kString, required: true},
			{name: "instance_name", kind: kString, check: checkUTF8Name},
			tsField("created_at"), tsField("updated_at"),
			{name: "route", kind: kForeign, ref: "routes"},
			{name: "service", kind: kForeign, ref: "services"},
			{name: "consumer", kind: kForeign, ref: "consumers"},
			{name: "config", kind: kRecord, def: map[string]any{}},
			{name: "protocols", kind: kSet, required: true, def: []any{"grpc", "grpcs", "http", "https"},
				elem: &field{kind: kString, required: true, oneOf: protocols}},
			{name: "enabled", kind: kBoolean, required: true, def: true},
			tagsField(),
		},
	})
	add(&entitySchema{
		section:     "upstreams",
		endpointKey: "name",
		children:    []child{{"targets", "upstream"}},
		fields: []*field{
			uuidField(), tsField("created_at"),
			{name: "name", kind: kString, required: true, check: checkUpstreamName},
			tsField("updated_at"),
			{name: "algorithm", kind: kString, def: "round-robin", oneOf: []string{"consistent-hashing", "least-connections", "round-robin", "latency", "sticky-sessions"}},
			{name: "hash_on", kind: kString, def: "none"}, {name: "hash_fallback", kind: kString, def: "none"},
			{name: "hash_on_header", kind: kString}, {name: "hash_fallback_header", kind: kString},
			{name: "hash_on_cookie", kind: kString}, {name: "hash_on_cookie_path", kind: kString, def: "/", check: checkPath},
			{name: "hash_on_query_arg", kind: kString}, {name: "hash_fallback_query_arg", kind: kString},
			{name: "hash_on_uri_capture", kind: kString}, {name: "hash_fallback_uri_capture", kind: kString},
			{name: "slots", kind: kInteger, def: 10000.0, between: between(10, 65536)},
			healthchecksField(),
			tagsField(),
			{name: "host_header", kind: kString},
			{name: "client_certificate", kind: kForeign, ref: "certificates"},
			{name: "use_srv_name", kind: kBoolean, def: false},
			{name: "sticky_sessions_cookie", kind: kString}, {name: "sticky_sessions_cookie_path", kind: kString, def: "/"},
		},
	})
	add(&entitySchema{
		section: "targets",
		fields: []*field{
			uuidField(), tsField("created_at"), tsField("updated_at"),
			{name: "upstream", kind: kForeign, ref: "upstreams", required: true},
			{name: "target", kind: kString, required: true, check: checkTarget},
			{name: "weight", kind: kInteger, def: 100.0, between: between(0, 65535)},
			tagsField(),
		},
	})
	add(&entitySchema{
		section:  "certificates",
		children: []child{{"snis", "certificate"}},
		fields: []*field{
			uuidField(), tsField("created_at"), tsField("updated_at"),
			{name: "cert", kind: kString, required: true}, {name: "key", kind: kString, required: true},
			{name: "cert_alt", kind: kString}, {name: "key_alt", kind: kString}, tagsField(),
		},
	})
	add(&entitySchema{
		section: "ca_certificates",
		fields: []*field{
			uuidField(), tsField("created_at"), tsField("updated_at"),
			{name: "cert", kind: kString, required: true}, {name: "cert_digest", kind: kString}, tagsField(),
		},
	})
	add(&entitySchema{
		section:     "snis",
		endpointKey: "name",
		fields: []*field{
			uuidField(),
			{name: "name", kind: kString, required: true, check: checkWildcardHost},
			tsField("created_at"), tsField("updated_at"), tagsField(),
			{name: "certificate", kind: kForeign, ref: "certificates", required: true},
		},
	})
}

// validateEntity validates one entity of schema s (children excluded: the
// caller validates them) and returns it with defaults filled, and its
// errors (nil when valid).
func validateEntity(s *entitySchema, in map[string]any) (map[string]any, errT) {
	errs := errT{}
	in = copyMap(in)
	for _, c := range s.children {
		delete(in, c.section)
	}
	if s.shorthand != nil {
		s.shorthand(in)
	}
	keys := make([]string, 0, len(in))
	for k := range in {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if s.field(k) == nil {
			errs[k] = "unknown field"
		}
	}
	out := map[string]any{}
	for _, f := range s.fields {
		v, present := in[f.name]
		if !present || v == nil {
			if f.def != nil {
				out[f.name] = cloneValue(f.def)
			} else {
				out[f.name] = nil
			}
			if f.required && f.def == nil && !f.auto && f.kind != kForeign {
				errs[f.name] = "required field missing"
			}
			continue
		}
		if msg := validateValue(f, v); msg != nil {
			errs[f.name] = msg
		}
		out[f.name] = withDefaults(f, v)
	}
	if s.checks != nil {
		s.checks(out, errs)
	}
	if len(errs) == 0 {
		return out, nil
	}
	return out, errs
}

// validateValue checks v against f and returns nil, a message, or an errT
// of element errors.
func validateValue(f *field, v any) any {
	switch f.kind {
	case kString:
		s, ok := v.(string)
		if !ok {
			return "expected a string"
		}
		if s == "" {
			return "length must be at least 1"
		}
		if len(f.oneOf) > 0 && !contains(f.oneOf, s) {
			return "expected one of: " + strings.Join(f.oneOf, ", ")
		}
		if f.check != nil {
			if msg := f.check(s); msg != "" {
				return msg
			}
		}
	case kInteger, kNumber:
		n, ok := v.(float64)
		if !ok {
			if f.kind == kInteger {
				return "expected an integer"
			}
			return "expected a number"
		}
		if f.kind == kInteger && (n != math.Floor(n) || math.IsInf(n, 0)) {
			return "expected an integer"
		}
		if f.between != nil && (n < f.between[0] || n > f.between[1]) {
			return fmt.Sprintf("value should be between %d and %d", int64(f.between[0]), int64(f.between[1]))
		}
	case kBoolean:
		if _, ok := v.(bool); !ok {
			return "expected a boolean"
		}
	case kArray, kSet:
		l, ok := v.([]any)
		if !ok {
			if m, isMap := v.(map[string]any); isMap && len(m) == 0 {
				return nil // an empty Lua table is both
			}
			if f.kind == kSet {
				return "expected a set"
			}
			return "expected an array"
		}
		errs := errT{}
		for i, x := range l {
			if x == nil {
				errs[i+1] = "required field missing"
				continue
			}
			if msg := validateValue(f.elem, x); msg != nil {
				errs[i+1] = msg
			}
		}
		if len(errs) > 0 {
			return errs
		}
	case kMap:
		if _, ok := v.(map[string]any); !ok {
			return "expected a map"
		}
	case kRecord:
		m, ok := v.(map[string]any)
		if !ok {
			return "expected a record"
		}
		if f.fields != nil {
			return validateRecord(f.fields, m)
		}
	case kForeign:
		switch r := v.(type) {
		case string:
		case map[string]any:
			if id, ok := r["id"]; ok {
				if s, ok := id.(string); !ok || checkUUID(s) != "" {
					return errT{"id": "expected a valid UUID"}
				}
			}
		default:
			return "expected a record"
		}
	}
	return nil
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// isEmpty is Kong's is_nonempty negated: null, "" and empty tables.
func isEmpty(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case string:
		return v == ""
	case []any:
		return len(v) == 0
	case map[string]any:
		return len(v) == 0
	}
	return false
}

func cloneValue(v any) any {
	switch v := v.(type) {
	case []any:
		c := make([]any, len(v))
		for i, x := range v {
			c[i] = cloneValue(x)
		}
		return c
	case map[string]any:
		c := make(map[string]any, len(v))
		for k, x := range v {
			c[k] = cloneValue(x)
		}
		return c
	}
	return v
}

func serviceChecks(e map[string]any, errs errT) {
	p, _ := e["protocol"].(string)
	switch p {
	case "tcp", "tls", "udp", "grpc", "grpcs":
		if e["path"] != nil {
			if _, bad := errs["path"]; !bad {
				errs["path"] = "value must be null"
			}
			errs.addEntity("failed conditional validation given value of field 'protocol'")
		}
	}
}

func stringsOf(v any) []string {
	l, _ := v.([]any)
	var out []string
	for _, x := range l {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func anySet(e map[string]any, names ...string) bool {
	for _, n := range names {
		if !isEmpty(e[n]) {
			return true
		}
	}
	return false
}

func quotedList(names ...string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = "'" + n + "'"
	}
	return strings.Join(q, ", ")
}

func routeChecks(e map[string]any, errs errT) {
	if _, bad := errs["protocols"]; bad {
		return
	}
	ps := stringsOf(e["protocols"])
	has := func(p ...string) bool {
		for _, x := range ps {
			if contains(p, x) {
				return true
			}
		}
		return false
	}
	groups := [][]string{{"http", "https"}, {"tcp", "tls", "udp"}, {"tls_passthrough"}, {"grpc", "grpcs"}}
	n := 0
	for _, g := range groups {
		if has(g...) {
			n++
		}
	}
	if n > 1 {
		errs["protocols"] = "these sets are mutually exclusive: ('http', 'https'), ('tcp', 'tls', 'udp'), ('tls_passthrough'), ('grpc', 'grpcs')"
		return
	}
	if !has("grpcs", "https", "tls", "tls_passthrough") && !isEmpty(e["snis"]) {
		errs["snis"] = "length must be 0"
		errs.addEntity("'snis' can only be set when 'protocols' is 'grpcs', 'https', 'tls' or 'tls_passthrough'")
	}
	switch {
	case has("http", "https"):
		for _, f := range []string{"sources", "destinations"} {
			if !isEmpty(e[f]) {
				errs[f] = "cannot set '" + f + "' when 'protocols' is 'http' or 'https'"
			}
		}
		if has("https") {
			if !anySet(e, "methods", "hosts", "headers", "paths", "snis") {
				errs.addEntity("must set one of " + quotedList("methods", "hosts", "headers", "paths", "snis") + " when 'protocols' is 'https'")
			}
		} else if !anySet(e, "methods", "hosts", "headers", "paths") {
			errs.addEntity("must set one of " + quotedList("methods", "hosts", "headers", "paths") + " when 'protocols' is 'http'")
		}
	case has("tcp", "tls", "udp", "tls_passthrough"):
		for _, f := range []string{"methods", "hosts", "paths", "headers"} {
			if !isEmpty(e[f]) {
				errs[f] = "cannot set '" + f + "' when 'protocols' is 'tcp', 'tls', 'tls_passthrough' or 'udp'"
			}
		}
		if has("tls_passthrough") {
			if !anySet(e, "snis") {
				errs.addEntity("must set snis when 'protocols' is 'tls_passthrough'")
			}
		} else if !anySet(e, "sources", "destinations", "snis") {
			errs.addEntity("must set one of " + quotedList("sources", "destinations", "snis") + " when 'protocols' is 'tcp', 'tls' or 'udp'")
		}
	case has("grpc", "grpcs"):
		if !isEmpty(e["methods"]) {
			errs["methods"] = "cannot set 'methods' when 'protocols' is 'grpc' or 'grpcs'"
		}
		if has("grpcs") {
			if !anySet(e, "hosts", "headers", "paths", "snis") {
				errs.addEntity("must set one of " + quotedList("hosts", "headers", "paths", "snis") + " when 'protocols' is 'grpcs'")
			}
		} else if !anySet(e, "hosts", "headers", "paths") {
			errs.addEntity("must set one of " + quotedList("hosts", "headers", "paths") + " when 'protocols' is 'grpc'")
		}
	}
}

func pluginChecks(e map[string]any, errs errT) {
	name, ok := e["name"].(string)
	if !ok {
		return
	}
	if _, bad := errs["name"]; bad {
		return
	}
	if !bundledPlugins[name] {
		errs["name"] = "plugin '" + name + "' not enabled; add it to the 'plugins' configuration property"
	}
}
