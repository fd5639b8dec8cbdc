package lightsail

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/lightsail/types"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/lightsail/emulator"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// policyJSON is the policy as `fountain aws policy` prints it.
func policyJSON(t *testing.T, o PolicyOptions) []byte {
	t.Helper()
	p, err := MakePolicy(o)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// The policy, by exact value: the default one and one narrowed to a
// region and an account.
func TestPolicyGolden(t *testing.T) {
	for file, o := range map[string]PolicyOptions{
		"policy.json":                           {},
		"policy-eu-central-1-123456789012.json": {Region: "eu-central-1", Account: "123456789012"},
	} {
		got := policyJSON(t, o)
		path := filepath.Join("testdata", file)
		if *update {
			if err := os.MkdirAll("testdata", 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -update once)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs:\n%s", file, got)
		}
	}
}

// The document is a valid identity policy: the IAM grammar's members with
// the right types, an ARN or * in every Resource, every table action
// allowed exactly once, and with a region every statement limited to it.
func TestPolicyIsAValidIAMPolicy(t *testing.T) {
	arnRE := regexp.MustCompile(`^arn:aws:lightsail:(\*|[a-z]{2}-[a-z]+-[0-9]):(\*|[0-9]{12}):(Instance|StaticIp|InstanceSnapshot|LoadBalancer)/\*$`)
	sidRE := regexp.MustCompile(`^[A-Za-z0-9]+$`)
	for _, o := range []PolicyOptions{{}, {Region: "us-east-1"}, {Account: "000011112222"}, {Region: "ap-south-1", Account: "123456789012"}} {
		var doc map[string]any
		if err := json.Unmarshal(policyJSON(t, o), &doc); err != nil {
			t.Fatal(err)
		}
		if doc["Version"] != "2012-10-17" || len(doc) != 2 {
			t.Fatalf("%+v: top level %v", o, doc)
		}
		seen := map[string]int{}
		sids := map[string]bool{}
		for _, raw := range doc["Statement"].([]any) {
			st := raw.(map[string]any)
			sid, _ := st["Sid"].(string)
			if !sidRE.MatchString(sid) || sids[sid] {
				t.Errorf("%+v: Sid %q", o, sid)
			}
			sids[sid] = true
			if st["Effect"] != "Allow" {
				t.Errorf("%+v: Effect %v", o, st["Effect"])
			}
			acts, _ := st["Action"].([]any)
			res, _ := st["Resource"].([]any)
			if len(acts) == 0 || len(res) == 0 {
				t.Fatalf("%+v: statement %v", o, st)
			}
			star := false
			for _, r := range res {
				s := r.(string)
				switch {
				case s == "*":
					star = true
				case !arnRE.MatchString(s):
					t.Errorf("%+v: resource %q", o, s)
				case o.Region != "" && !strings.Contains(s, ":"+o.Region+":"), o.Account != "" && !strings.Contains(s, ":"+o.Account+":"):
					t.Errorf("%+v: resource %q not narrowed", o, s)
				}
			}
			cond, hasCond := st["Condition"]
			if star && o.Region != "" {
				want := map[string]any{"StringEquals": map[string]any{"aws:RequestedRegion": o.Region}}
				if b1, _ := json.Marshal(cond); string(b1) != mustJSON(want) {
					t.Errorf("%+v: %s on * has condition %s", o, sid, b1)
				}
			} else if hasCond {
				t.Errorf("%+v: %s has condition %v", o, sid, cond)
			}
			for _, a := range acts {
				seen[a.(string)]++
			}
		}
		for _, a := range Actions() {
			if seen[a.IAM] != 1 {
				t.Errorf("%+v: %s allowed %d times", o, a.IAM, seen[a.IAM])
			}
			delete(seen, a.IAM)
		}
		if len(seen) > 0 {
			t.Errorf("%+v: actions not in the table: %v", o, seen)
		}
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestPolicyOptionsRefused(t *testing.T) {
	for _, o := range []PolicyOptions{{Region: "eu-central-7"}, {Region: "*"}, {Account: "12345"}, {Account: "1234567890123"}, {Account: "12345678901a"}} {
		_, err := MakePolicy(o)
		if fountain.ErrorCode(err) != fountain.EINVALID {
			t.Errorf("%+v: %v, want EINVALID", o, err)
		}
	}
}

// A call IAM refuses, through the real SDK against the emulator's
// refusal: 403 naming the action the policy lacks, and where to get the
// policy.
func TestAccessDeniedNamesTheMissingAction(t *testing.T) {
	ctx := context.Background()
	c, _, emu := newRecordedClient(t, emulator.Options{CreateDelay: -1})
	emu.InjectAccessDenied("CreateInstances", 1)
	in := CreateInstanceInput{InstanceName: "web-1", BlueprintID: "ubuntu_24_04", BundleID: "nano_3_0", AvailabilityZone: "eu-central-1a"}
	if err := c.ValidateCreate(&in); err != nil {
		t.Fatal(err)
	}
	_, err := c.CreateInstance(ctx, &steps{}, in)
	var fe *fountain.Error
	if !errors.As(err, &fe) || fe.Code != fountain.EFORBIDDEN {
		t.Fatalf("create: %v, want EFORBIDDEN", err)
	}
	if !strings.HasSuffix(fe.Message, "AWS refused: the IAM identity Fountain uses is not allowed lightsail:CreateInstances") ||
		!strings.Contains(fe.Hint, "allow lightsail:CreateInstances") || !strings.Contains(fe.Hint, "`fountain aws policy`") {
		t.Fatalf("message %q hint %q", fe.Message, fe.Hint)
	}
	if MissingAction(err) != "lightsail:CreateInstances" {
		t.Fatalf("MissingAction: %q", MissingAction(err))
	}
	var ad *types.AccessDeniedException
	if !errors.As(err, &ad) {
		t.Fatalf("the cause is lost: %v", err)
	}

	// A refusal without IAM's wording names the action of the operation.
	emu.InjectFault("GetInstances", 0, emulator.AccessDeniedException, 1)
	_, err = c.CheckAccess(ctx, "")
	if fountain.ErrorCode(err) != fountain.EFORBIDDEN || MissingAction(err) != "lightsail:GetInstances" ||
		!strings.Contains(err.Error(), "not allowed lightsail:GetInstances") {
		t.Fatalf("check access: %v (%q)", err, MissingAction(err))
	}
	// Other errors are not IAM refusals.
	if MissingAction(fountain.Errorf(fountain.EUPSTREAM, "x")) != "" || MissingAction(errors.New("x")) != "" {
		t.Fatal("MissingAction of a non-refusal")
	}
}

func TestCheckAccess(t *testing.T) {
	ctx := context.Background()
	c, rec, _ := newRecordedClient(t, emulator.Options{})
	a, err := c.CheckAccess(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if a.Region != "eu-central-1" || a.CredentialSource != "StaticCredentials" || a.Action != "lightsail:GetInstances" || a.Instances != 0 || a.Endpoint == "" {
		t.Fatalf("%+v", a)
	}
	if got := rec.seen(); !slices.Equal(got, []string{"GetInstances"}) {
		t.Fatalf("calls %v, want one read", got)
	}
	if _, err := c.CheckAccess(ctx, "mars-1"); fountain.ErrorCode(err) != fountain.EINVALID {
		t.Fatalf("bad region: %v", err)
	}
	// Wrong credentials: AWS rejects them (the emulator as AWS does).
	bad, err := New(ctx, Options{DefaultRegion: "eu-central-1", Endpoint: c.opts.Endpoint, AccessKeyID: "AKIAWRONG", SecretAccessKey: "x"})
	if err != nil {
		t.Fatal(err)
	}
	a, err = bad.CheckAccess(ctx, "")
	if fountain.ErrorCode(err) != fountain.EUPSTREAM || !strings.Contains(err.Error(), "AWS rejected Fountain's credentials") || a.CredentialSource != "StaticCredentials" {
		t.Fatalf("wrong credentials: %+v %v", a, err)
	}
}

func TestDescribeCredentialSource(t *testing.T) {
	for _, c := range []struct{ src, profile, want string }{
		{"EnvConfigCredentials", "", "the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)"},
		{"SharedConfigCredentials: /home/me/.aws/credentials", "", "profile default in /home/me/.aws/credentials"},
		{"SharedConfigCredentials: /home/me/.aws/credentials", "prod", "profile prod in /home/me/.aws/credentials"},
		{"StaticCredentials", "", "credentials given to Fountain"},
		{"EC2RoleProvider", "", "the EC2 instance role (EC2RoleProvider)"},
		{"", "", "unknown source"},
		{"ProcessProvider", "", "ProcessProvider"},
	} {
		if got := DescribeCredentialSource(c.src, c.profile); got != c.want {
			t.Errorf("%q %q: %q, want %q", c.src, c.profile, got, c.want)
		}
	}
}
