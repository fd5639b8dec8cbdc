package api_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/fountainai/fountain/api"
	"github.com/fountainai/fountain/lightsail"
)

// GET /aws/policy is the policy `fountain aws policy` prints, narrowed by
// region and account; bad values are 422 naming the field.
func TestAWSPolicyRoute(t *testing.T) {
	e := newEnv(t)
	r := e.do("GET", "/aws/policy?region=eu-central-1&account=123456789012", "")
	want, _ := lightsail.MakePolicy(lightsail.PolicyOptions{Region: "eu-central-1", Account: "123456789012"})
	wantJSON, _ := json.Marshal(want)
	var got lightsail.Policy
	if r.status != 200 || json.Unmarshal(r.raw, &got) != nil {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	if gotJSON, _ := json.Marshal(got); string(gotJSON) != string(wantJSON) {
		t.Fatalf("got  %s\nwant %s", gotJSON, wantJSON)
	}
	if r := e.do("GET", "/aws/policy", ""); r.status != 200 || !strings.Contains(string(r.raw), `"arn:aws:lightsail:*:*:Instance/*"`) {
		t.Fatalf("default: %d %s", r.status, r.raw)
	}
	for q, field := range map[string]string{"region=mars-1": "region", "account=42": "account"} {
		r := e.do("GET", "/aws/policy?"+q, "")
		if r.status != 422 || !strings.Contains(string(r.raw), field) {
			t.Errorf("%s: %d %s", q, r.status, r.raw)
		}
	}
}

// A Lightsail call IAM refuses, through the real SDK against the
// emulator's refusal: 403 naming the missing action, with a hint naming
// `fountain aws policy`.
func TestIAMRefusalIs403NamingTheAction(t *testing.T) {
	e := newEnv(t)
	e.emu.InjectAccessDenied("CreateInstances", 1)
	r := e.do("POST", "/aws/lightsail/create-instance", designCreate)
	if r.status != 403 || r.str("code") != "forbidden" ||
		!strings.Contains(r.str("detail"), "not allowed lightsail:CreateInstances") ||
		!strings.Contains(r.str("hint"), "`fountain aws policy`") {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	// A read too.
	e.emu.InjectAccessDenied("GetInstances", 1)
	if r := e.do("GET", "/aws/lightsail/instances", ""); r.status != 403 || !strings.Contains(r.str("detail"), "lightsail:GetInstances") {
		t.Fatalf("%d %s", r.status, r.raw)
	}
}

type fakeDoctor struct{ report api.DoctorReport }

func (f fakeDoctor) Check(context.Context) api.DoctorReport { return f.report }

// GET /doctor answers the doctor's report; without one, 503.
func TestDoctorRouteAPI(t *testing.T) {
	e := newEnv(t)
	if r := e.do("GET", "/doctor", ""); r.status != 503 {
		t.Fatalf("no doctor: %d %s", r.status, r.raw)
	}
	report := api.DoctorReport{Mode: "aws", DataDir: "/d", OK: false, Checks: []api.Check{
		{Name: "aws", Status: api.CheckFail, Found: "no credentials", Fix: "set AWS_PROFILE"},
		{Name: "disk", Status: api.CheckOK, Found: "9 GiB free"},
	}}
	srv := api.New(api.Deps{Store: e.db, Token: token, Doctor: fakeDoctor{report}})
	hs := httptest.NewServer(srv)
	defer hs.Close()
	e.url = hs.URL
	r := e.do("GET", "/doctor", "")
	var got api.DoctorReport
	if r.status != 200 || json.Unmarshal(r.raw, &got) != nil {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	gotJSON, _ := json.Marshal(got)
	wantJSON, _ := json.Marshal(report)
	if string(gotJSON) != string(wantJSON) {
		t.Fatalf("got  %s\nwant %s", gotJSON, wantJSON)
	}
}
