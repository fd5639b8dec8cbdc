package cli

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestHealthcheck(t *testing.T) {
	status, slow := http.StatusOK, false
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.URL.Path)
		if slow {
			select {
			case <-r.Context().Done():
			case <-time.After(2 * time.Second):
			}
		}
		w.WriteHeader(status)
	}))
	defer srv.Close()

	out, errOut, code := runCLI(t, map[string]string{"FOUNTAIN_URL": srv.URL}, "", "healthcheck")
	if code != ExitOK || out != "healthy: GET "+srv.URL+"/healthz answered 200 OK\n" || errOut != "" {
		t.Fatalf("200: code %d, out %q, err %q", code, out, errOut)
	}
	if len(paths) != 1 || paths[0] != "/healthz" {
		t.Fatalf("paths = %v", paths)
	}

	status = http.StatusServiceUnavailable
	out, errOut, code = runCLI(t, nil, "", "healthcheck", "--url", srv.URL+"/")
	if code != ExitError || out != "" || errOut != "unhealthy: GET "+srv.URL+"/healthz answered 503 Service Unavailable\n" {
		t.Fatalf("503: code %d, out %q, err %q", code, out, errOut)
	}

	status = http.StatusFound // a redirect is not health
	if _, _, code = runCLI(t, map[string]string{"FOUNTAIN_URL": srv.URL}, "", "healthcheck"); code != ExitError {
		t.Fatalf("302: code %d", code)
	}

	status, slow = http.StatusOK, true
	_, errOut, code = runCLI(t, nil, "", "healthcheck", "--url", srv.URL, "--timeout", "200ms")
	// (A timeout not kept would end in success after the handler's 2 s.)
	if code != ExitError || !strings.Contains(errOut, "no answer within 200ms") {
		t.Fatalf("timeout: code %d, err %q", code, errOut)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	_, errOut, code = runCLI(t, map[string]string{"FOUNTAIN_URL": dead}, "", "healthcheck")
	if code != ExitError || !strings.HasPrefix(errOut, "unhealthy: GET "+dead+"/healthz: ") {
		t.Fatalf("refused: code %d, err %q", code, errOut)
	}

	if _, _, code = runCLI(t, nil, "", "healthcheck", "--timeout", "0s"); code != ExitUsage {
		t.Fatalf("--timeout 0: code %d", code)
	}
}

func TestHealthcheckURL(t *testing.T) {
	for env, want := range map[string]string{
		"":                             DefaultURL,
		"FOUNTAIN_URL=http://x":        "http://x",
		"FOUNTAIN_ADDR=0.0.0.0:8000":   "http://127.0.0.1:8000",
		"FOUNTAIN_ADDR=:9000":          "http://127.0.0.1:9000",
		"FOUNTAIN_ADDR=[::]:9000":      "http://127.0.0.1:9000",
		"FOUNTAIN_ADDR=127.0.0.5:8001": "http://127.0.0.5:8001",
		"FOUNTAIN_ADDR=garbage":        DefaultURL,
	} {
		k, v, _ := strings.Cut(env, "=")
		got := healthcheckURL(func(key string) string {
			if key == k {
				return v
			}
			return ""
		})
		if got != want {
			t.Errorf("%s: %s, want %s", env, got, want)
		}
	}
}
