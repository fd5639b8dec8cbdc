package api_test

import (
	"net/http/httptest"
	"strings"
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

// BenchmarkRejectedCreate measures the rejected-request hot path in
// process: an invalid create-instance body answered 422 (auth, routing,
// body checks, validation, the problem, the audit queue).
func BenchmarkRejectedCreate(b *testing.B) {
	e := newEnv(b)
	h := e.handler
	body := `{"instance_name":"x","blueprint_id":"ubuntu_20_04","bundle_id":"nano_2_0","region":"eu-central-1","availability_zone":"eu-central-1a"}`
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		req := httptest.NewRequest("POST", "/aws/lightsail/create-instance", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 422 {
			b.Fatal(w.Code, w.Body.String())
		}
	}
}
