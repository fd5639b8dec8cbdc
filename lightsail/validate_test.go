package lightsail

import (
	"strings"
	"testing"

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
	for _, r := range []string{"eu-central-1", "ap-southeast-2", "us-gov-west-1"} {
		if err := ValidateRegion("region", r); err != nil {
			t.Error(err)
		}
	}
	for _, r := range []string{"", "eu", "EU-central-1", "eu-central", "eu-central-1a"} {
		if ValidateRegion("region", r) == nil {
			t.Errorf("region %q accepted", r)
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
