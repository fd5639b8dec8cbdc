package ssh

import (
	"strings"
	"testing"
)

func TestOutputLines(t *testing.T) {
	var got []string
	o := newOutput(func(stream, line string) { got = append(got, stream+":"+line) }, 10)
	long := strings.Repeat("a", 2*MaxLineBytes)
	for _, chunk := range []string{"one\ntw", "o\r\n", long[:100], long[100:], "\n", "\n", "x"} {
		o.stdout.Write([]byte(chunk))
	}
	o.stderr.Write([]byte("e1\ne2"))
	o.finish()
	o.stdout.Write([]byte("after finish\n"))
	want := []string{"stdout:one", "stdout:two", "stdout:" + long[:MaxLineBytes], "stdout:" + long[MaxLineBytes:], "stdout:", "stderr:e1", "stdout:x", "stderr:e2"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("lines\n%q\nwant\n%q", shorten(got), shorten(want))
	}
	out, errs, outCut, errCut := o.tails()
	if out != "\nx" || !outCut || errs != "e1\ne2" || errCut {
		t.Fatalf("tails %q %v %q %v", out, outCut, errs, errCut)
	}
}

func shorten(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		if len(l) > 20 {
			l = l[:20] + "..."
		}
		out[i] = l
	}
	return out
}

func TestTail(t *testing.T) {
	tl := tail{max: 8}
	for _, w := range []string{"abc\n", "defgh\nij", "k"} {
		tl.write([]byte(w))
	}
	if s, cut := tl.text(); s != "ijk" || !cut { // "fgh\nijk" cut to whole lines
		t.Fatalf("%q %v", s, cut)
	}
	tl = tail{max: 4}
	tl.write([]byte("0123456789"))
	if s, cut := tl.text(); s != "6789" || !cut {
		t.Fatalf("%q %v", s, cut)
	}
	if got := lastBytes("l1\nl2\nl3\n", 5); got != "l3\n" {
		t.Fatalf("lastBytes %q", got)
	}
	if got := lastLine("a\nb\n\n"); got != "b" {
		t.Fatalf("lastLine %q", got)
	}
}
