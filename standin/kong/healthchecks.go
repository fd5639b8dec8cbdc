package kong

import (
	"math"
	"sort"
)

// The upstreams entity's healthchecks record, as Kong 3.9's schema
// (kong/db/schema/entities/upstreams.lua) defines it: active and passive
// checks, each with healthy and unhealthy thresholds, every field with
// its default, so that a config giving part of it gets the rest as Kong
// fills it in.

// healthchecksField is upstreams.healthchecks.
func healthchecksField() *field {
	seconds := func(name string, def float64) *field {
		return &field{name: name, kind: kNumber, def: def, between: between(0, 65535)}
	}
	oneByte := func(name string) *field {
		return &field{name: name, kind: kInteger, def: 0.0, between: between(0, 255)}
	}
	statuses := func(codes ...float64) *field {
		def := make([]any, len(codes))
		for i, c := range codes {
			def[i] = c
		}
		return &field{name: "http_statuses", kind: kArray, def: def, elem: &field{kind: kInteger, required: true, between: between(100, 999)}}
	}
	checkType := func() *field {
		return &field{name: "type", kind: kString, def: "http", oneOf: []string{"tcp", "http", "https", "grpc", "grpcs"}}
	}
	record := func(name string, fields ...*field) *field {
		f := &field{name: name, kind: kRecord, required: true, fields: fields}
		f.def = recordDefault(fields)
		return f
	}
	active := record("active",
		checkType(),
		seconds("timeout", 1),
		&field{name: "concurrency", kind: kInteger, def: 10.0, between: between(1, math.Pow(2, 31)-1)},
		&field{name: "http_path", kind: kString, def: "/", check: checkPath},
		&field{name: "https_sni", kind: kString},
		&field{name: "https_verify_certificate", kind: kBoolean, def: true},
		&field{name: "headers", kind: kMap},
		record("healthy", seconds("interval", 0), statuses(200, 302), oneByte("successes")),
		record("unhealthy", seconds("interval", 0), statuses(429, 404, 500, 501, 502, 503, 504, 505),
			oneByte("tcp_failures"), oneByte("timeouts"), oneByte("http_failures")),
	)
	passive := record("passive",
		checkType(),
		record("healthy", statuses(200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304, 305, 306, 307, 308), oneByte("successes")),
		record("unhealthy", statuses(429, 500, 503), oneByte("tcp_failures"), oneByte("timeouts"), oneByte("http_failures")),
	)
	return record("healthchecks", active, passive, &field{name: "threshold", kind: kNumber, def: 0.0, between: between(0, 100)})
}

// recordDefault is a record with each field's default (null for those
// without one).
func recordDefault(fields []*field) map[string]any {
	m := make(map[string]any, len(fields))
	for _, f := range fields {
		m[f.name] = cloneValue(f.def)
	}
	return m
}

// validateRecord checks a record's fields: unknown ones, and each given
// one by its own field (nil when valid, else an errT by field).
func validateRecord(fields []*field, m map[string]any) any {
	errs := errT{}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		var f *field
		for _, x := range fields {
			if x.name == k {
				f = x
			}
		}
		switch {
		case f == nil:
			errs[k] = "unknown field"
		case m[k] == nil:
		default:
			if msg := validateValue(f, m[k]); msg != nil {
				errs[k] = msg
			}
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// withDefaults is a valid value of f with the defaults of the record
// fields it leaves out filled in, as Kong's schema fills them.
func withDefaults(f *field, v any) any {
	m, ok := v.(map[string]any)
	if f.kind != kRecord || f.fields == nil || !ok {
		return v
	}
	out := make(map[string]any, len(f.fields))
	for _, sub := range f.fields {
		x, given := m[sub.name]
		if !given || x == nil {
			out[sub.name] = cloneValue(sub.def)
			continue
		}
		out[sub.name] = withDefaults(sub, x)
	}
	return out
}
