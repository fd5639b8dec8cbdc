package lightsail

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/lightsail/types"

	"github.com/fountainai/fountain"
)

func TestValidateName(t *testing.T) {
	good := []string{"ab", "opensearch-instance", "web_1.prod", "A1", "x9", strings.Repeat("a", 255)}
	bad := []string{"", "a", "-ab", "ab-", "ab.", "ab_", "a b", "a/b", "né", "a;rm -rf", strings.Repeat("a", 256)}
	for _, n := range good {
		if err := ValidateName("instance_name", n); err != nil {
			t.Errorf("%q rejected: %v", n, err)
		}
	}
	for _, n := range bad {
		err := ValidateName("instance_name", n)
		if err == nil || fountain.ErrorCode(err) != fountain.EINVALID {
			t.Errorf("%q accepted", n)
		} else if e, ok := err.(*fountain.Error); !ok || e.Field != "instance_name" {
			t.Errorf("%q: error names no field: %v", n, err)
		}
	}
}

func TestValidateRegionAndZone(t *testing.T) {
	for _, r := range []string{"eu-central-1", "ap-southeast-2", "ap-southeast-5", "eu-south-2"} {
		if err := ValidateRegion("region", r); err != nil {
			t.Error(err)
		}
	}
	// Well-formed AWS region names that Lightsail does not serve are refused
	// too: only its own regions reach the SDK.
	for _, r := range []string{"", "eu", "EU-central-1", "eu-central", "eu-central-1a", "us-gov-west-1", "af-south-1", "mars-north-1",
		"eu-" + strings.Repeat("a", 8000) + "-1"} {
		err := ValidateRegion("region", r)
		if err == nil {
			t.Errorf("region %q accepted", r)
			continue
		}
		e := err.(*fountain.Error)
		if e.Field != "region" || len(e.Message) > 600 {
			t.Errorf("region %.80q: field %q, message of %d bytes", r, e.Field, len(e.Message))
		}
		if r != "" && !strings.Contains(e.Message, "eu-central-1, eu-north-1") {
			t.Errorf("region %.80q: the message does not name the valid regions: %s", r, e.Message)
		}
	}
	if err := ValidateZone("availability_zone", "eu-central-1a", "eu-central-1"); err != nil {
		t.Error(err)
	}
	for _, z := range []string{"", "eu-central-1", "us-east-1a", "eu-central-1ab"} {
		if ValidateZone("availability_zone", z, "eu-central-1") == nil {
			t.Errorf("zone %q accepted", z)
		}
	}
}

// The region list is the Lightsail model's RegionName enum: an SDK upgrade
// that adds a region shows up here.
func TestRegionsAreTheModelsEnum(t *testing.T) {
	var sdk []string
	for _, r := range types.RegionName("").Values() {
		sdk = append(sdk, string(r))
	}
	got := Regions()
	slices.Sort(sdk)
	slices.Sort(got)
	if !slices.Equal(got, sdk) {
		t.Fatalf("regions %v, the SDK's model has %v", got, sdk)
	}
}

func TestEchoCutsLongValues(t *testing.T) {
	if got := echo("eu-central-1"); got != `"eu-central-1"` {
		t.Errorf("short value: %s", got)
	}
	long := strings.Repeat("é", 1000)
	got := echo(long)
	if !strings.HasSuffix(got, "…") || len(got) > echoMax+len(`""…`) || !utf8.ValidString(got) {
		t.Errorf("long value echoed as %q", got)
	}
	err := ValidateName("instance_name", strings.Repeat("x", 1<<20)+"-")
	if err == nil || len(err.Error()) > 1000 {
		t.Errorf("a 1 MB name is echoed whole: %d bytes", len(err.Error()))
	}
}

func TestValidateTags(t *testing.T) {
	good := []map[string]string{
		nil,
		{"env": "prod", "team": ""},
		{"Name": "web 1", "owner@example.com": "a+b=c/d:e_f.g-h"},
		{strings.Repeat("k", 128): strings.Repeat("v", 256)},
		{"région": "Zürich"},
		{"awsome": "not reserved", "aw:s": "x"},
	}
	for _, tags := range good {
		if err := ValidateTags("tags", tags); err != nil {
			t.Errorf("%v rejected: %v", tags, err)
		}
	}
	many := map[string]string{}
	for i := range 51 {
		many[fmt.Sprint("k", i)] = ""
	}
	bad := []map[string]string{
		{"aws:cloudformation:stack-name": "x"},
		{"AWS:Owner": "x"},
		{"": "x"},
		{strings.Repeat("k", 129): "x"},
		{"k": strings.Repeat("v", 257)},
		{"k;rm": "x"},
		{"k": "line\nbreak"},
		{"k": "\xff"},
		many,
	}
	for _, tags := range bad {
		err := ValidateTags("tags", tags)
		if err == nil || fountain.ErrorCode(err) != fountain.EINVALID || err.(*fountain.Error).Field != "tags" {
			t.Errorf("%.80v accepted: %v", tags, err)
		}
	}
	if err := ValidateTags("tags", map[string]string{"aws:x": ""}); err == nil || !strings.Contains(err.Error(), "reserve") {
		t.Errorf("aws: key: %v", err)
	}
}

func TestValidatePorts(t *testing.T) {
	if err := ValidatePorts(80, 80, "tcp", []string{"0.0.0.0/0", "203.0.113.7/32"}); err != nil {
		t.Error(err)
	}
	cases := []struct {
		from, to int
		proto    string
		cidrs    []string
		field    string
	}{
		{-1, 1, "tcp", nil, "from_port"},
		{80, 70, "tcp", nil, "to_port"},
		{80, 70000, "tcp", nil, "to_port"},
		{80, 80, "sctp", nil, "protocol"},
		{80, 80, "tcp", []string{"10.0.0.0/33"}, "cidrs"},
		{80, 80, "tcp", []string{"example.com"}, "cidrs"},
	}
	for _, c := range cases {
		err := ValidatePorts(c.from, c.to, c.proto, c.cidrs)
		e, ok := err.(*fountain.Error)
		if !ok || e.Field != c.field {
			t.Errorf("%+v: %v, want an error on %s", c, err, c.field)
		}
	}
}

func FuzzValidateName(f *testing.F) {
	f.Add("opensearch-instance")
	f.Add("-bad")
	f.Fuzz(func(t *testing.T, name string) {
		if ValidateName("instance_name", name) != nil {
			return
		}
		if len(name) < 2 || len(name) > 255 || strings.ContainsAny(name, " ;'\"$`/\\\n") {
			t.Fatalf("accepted %q", name)
		}
	})
}
