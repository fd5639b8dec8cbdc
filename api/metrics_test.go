package api

import "testing"

// Issue 12, item 3: label values come from fixed sets, whatever the client
// sends.
func TestMetricLabelsAreBounded(t *testing.T) {
	methods := map[string]string{"GET": "GET", "POST": "POST", "PATCH": "PATCH", "TRACE": "TRACE",
		"get": "other", "FOO": "other", "": "other", string(make([]byte, 8<<10)): "other"}
	for in, want := range methods {
		if got := methodLabel(in); got != want {
			t.Errorf("methodLabel(%.20q) = %q, want %q", in, got, want)
		}
	}
	codes := map[int]string{0: "other", 99: "other", 100: "1xx", 200: "2xx", 204: "2xx", 301: "3xx",
		401: "4xx", 499: "4xx", 500: "5xx", 599: "5xx", 600: "other", -1: "other"}
	for in, want := range codes {
		if got := statusClass(in); got != want {
			t.Errorf("statusClass(%d) = %q, want %q", in, got, want)
		}
	}
}
