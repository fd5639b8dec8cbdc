package cli

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/fountainai/fountain/api"
)

// The server's report, one line per check with what to do; a failed check
// is exit 1; the server's errors are not hidden by a local run.
func TestDoctorPrintsTheServersReport(t *testing.T) {
	report := api.DoctorReport{Mode: "aws", DataDir: "/srv/fountain", Checks: []api.Check{
		{Name: "aws", Status: api.CheckFail, Found: "region eu-central-1; not allowed lightsail:GetInstances", Fix: "attach the policy"},
		{Name: "disk", Status: api.CheckOK, Found: "9.0 GiB free"},
		{Name: "github-token", Status: api.CheckWarn, Found: "a fine-grained token", Fix: "check it"},
	}}
	env := fakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/doctor" || r.Header.Get("Authorization") != "Bearer tok" {
			t.Errorf("%s %s", r.Method, r.URL)
		}
		_ = json.NewEncoder(w).Encode(report)
	})
	out, errOut, code := runCLI(t, env, "", "doctor")
	want := "fail  aws           region eu-central-1; not allowed lightsail:GetInstances. Fix: attach the policy\n" +
		"ok    disk          9.0 GiB free\n" +
		"warn  github-token  a fine-grained token. Fix: check it\n" +
		"1 ok, 1 warn, 1 fail: checked by the server at " + env["FOUNTAIN_URL"] + ", for AWS, data dir /srv/fountain\n"
	if code != ExitError || errOut != "" || out != want {
		t.Fatalf("exit %d, stderr %q, stdout:\n%s\nwant:\n%s", code, errOut, out, want)
	}
	out, _, code = runCLI(t, env, "", "doctor", "--json")
	var got api.DoctorReport
	if code != ExitError || json.Unmarshal([]byte(out), &got) != nil || len(got.Checks) != 3 {
		t.Fatalf("--json: exit %d\n%s", code, out)
	}

	// An error of the server's is the command's error.
	env = fakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, 503, map[string]any{"title": "Service Unavailable", "detail": "the doctor is not configured on this server"})
	})
	_, errOut, code = runCLI(t, env, "", "doctor")
	if code != ExitError || !strings.Contains(errOut, "the doctor is not configured") {
		t.Fatalf("503: exit %d %q", code, errOut)
	}
}
