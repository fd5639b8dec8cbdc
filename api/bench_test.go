package api_test

import (
	"testing"
)

// BenchmarkReadRoute measures GET /operations/{id}: auth, routing, a SQLite
// read and JSON encoding.
func BenchmarkReadRoute(b *testing.B) {
	e := newEnv(b)
	r := e.do("POST", "/aws/lightsail/create-instance", designCreate)
	id := r.str("operation", "id")
	b.ResetTimer()
	for b.Loop() {
		if r := e.do("GET", "/operations/"+id, ""); r.status != 200 {
			b.Fatal(r.status)
		}
	}
}

// BenchmarkOperationRoundTrip measures a whole no-op operation: validation,
// recording, two SDK calls to the emulator, steps persisted, the answer.
func BenchmarkOperationRoundTrip(b *testing.B) {
	e := newEnv(b)
	e.do("POST", "/aws/lightsail/create-instance", designCreate)
	e.do("POST", "/aws/lightsail/stop-instance", `{"instance_name":"opensearch-instance","wait":true}`)
	b.ResetTimer()
	for b.Loop() {
		r := e.do("POST", "/aws/lightsail/stop-instance", `{"instance_name":"opensearch-instance"}`)
		if r.status != 200 || r.str("changed") != "false" {
			b.Fatal(r.status, string(r.raw))
		}
	}
}
