package stack

import (
	"strings"
	"testing"
)

func TestAutoSnapshot(t *testing.T) {
	text := strings.Replace(base, "zone: eu-central-1a, ports:", "zone: eu-central-1a, auto_snapshot: \"06:00\", ports:", 1)
	text = strings.Replace(text, "  app-1: {bundle: micro_3_0, blueprint: ubuntu_24_04, zone: eu-central-1a}", "  app-1: {bundle: micro_3_0, blueprint: ubuntu_24_04, zone: eu-central-1a, auto_snapshot: off}", 1)
	s, err := Parse("", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if a, b := s.Instances["web-1"].AutoSnapshot, s.Instances["app-1"].AutoSnapshot; a != "06:00" || b != AutoSnapshotOff {
		t.Fatalf("auto_snapshot: %q %q", a, b)
	}
	out, err := s.YAML()
	if err != nil {
		t.Fatal(err)
	}
	again, err := Parse("", out)
	if err != nil || again.Instances["web-1"].AutoSnapshot != "06:00" || again.Instances["app-1"].AutoSnapshot != AutoSnapshotOff {
		t.Fatalf("rendered:\n%s\n%v", out, err)
	}
	for _, c := range []struct{ value, want string }{
		{`"06:30"`, `fountain.yml:5:91: instances.app-1.auto_snapshot: "06:30" is not a time on the hour (HH:00, 00:00 to 23:00, UTC): Lightsail takes automatic snapshots in hourly increments`},
		{`"24:00"`, `fountain.yml:5:91: instances.app-1.auto_snapshot: "24:00" is not a time on the hour (HH:00, 00:00 to 23:00, UTC): Lightsail takes automatic snapshots in hourly increments`},
		{`daily`, `fountain.yml:5:91: instances.app-1.auto_snapshot: "daily" is not a time on the hour (HH:00, 00:00 to 23:00, UTC): Lightsail takes automatic snapshots in hourly increments`},
		{`"6:00:00"`, `fountain.yml:5:91: instances.app-1.auto_snapshot: is 7 characters long; at most 5`},
	} {
		_, err := Parse("", []byte(replace(5, "  app-1: {bundle: micro_3_0, blueprint: ubuntu_24_04, zone: eu-central-1a, auto_snapshot: "+c.value+"}")))
		if err == nil || err.Error() != c.want {
			t.Errorf("%s: got\n%v\nwant\n%s", c.value, err, c.want)
		}
	}
}

// What a YAML 1.1 reader (an editor's) takes for a number or a bool is
// rendered quoted.
func TestRenderQuotesYAML11(t *testing.T) {
	s := &Stack{Version: Version, Region: "eu-central-1", Instances: map[string]Instance{
		"a1": {Bundle: "nano_3_0", Blueprint: "ubuntu_24_04", Zone: "eu-central-1a", AutoSnapshot: "06:00"},
		"b1": {Bundle: "nano_3_0", Blueprint: "ubuntu_24_04", Zone: "eu-central-1a", AutoSnapshot: "off"}}}
	out, err := s.YAML()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `auto_snapshot: "06:00"`) || !strings.Contains(string(out), `auto_snapshot: "off"`) {
		t.Errorf("rendered:\n%s", out)
	}
}
