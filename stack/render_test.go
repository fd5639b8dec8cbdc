package stack

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// A stack rendered as YAML reads back as the same stack.
func TestYAMLRoundTrip(t *testing.T) {
	data, err := os.ReadFile("../docs/fountain.example.yml")
	if err != nil {
		t.Fatal(err)
	}
	st, err := Parse("fountain.example.yml", data)
	if err != nil {
		t.Fatal(err)
	}
	f := false
	for name, r := range st.Kong.Routes {
		r.StripPath = &f
		st.Kong.Routes[name] = r
		break
	}
	out, err := st.YAML("made by a test", "two lines")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(out), "# made by a test\n# two lines\n") {
		t.Fatalf("header:\n%s", out)
	}
	back, err := Parse("rendered.yml", out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	st.file, st.pos, back.file, back.pos = "", nil, "", nil
	if !reflect.DeepEqual(st, back) {
		t.Fatalf("round trip differs:\n%s", out)
	}
}
