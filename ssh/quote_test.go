package ssh

import (
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/fountainai/fountain"
)

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		"":                "''",
		"plain":           "plain",
		"/var/run/x.sock": "/var/run/x.sock",
		"user@host:1,2+%": "user@host:1,2+%",
		"a b":             "'a b'",
		"it's":            `'it'\''s'`,
		"'":               `''\'''`,
		"A=1":             "'A=1'",
		"if":              "'if'",
		"~":               "'~'",
		"$(id)":           "'$(id)'",
		"x\ny":            "'x\ny'",
		"é":               "'é'",
	} {
		if got := Quote(in); got != want {
			t.Errorf("Quote(%q) = %s, want %s", in, got, want)
		}
	}
	if got := Join("docker", "run", "--name", "my app", "-e", "A=$B"); got != `docker run --name 'my app' -e 'A=$B'` {
		t.Errorf("Join = %s", got)
	}
	if got := Join(); got != "" {
		t.Errorf("Join() = %q", got)
	}
	q, err := QuoteValue("ok value")
	if err != nil || q != "'ok value'" {
		t.Errorf("QuoteValue = %q, %v", q, err)
	}
	if _, err := QuoteValue("a\x00b"); !errors.Is(err, ErrNUL) || fountain.ErrorCode(err) != fountain.EINVALID {
		t.Errorf("QuoteValue(NUL) = %v", err)
	}
}

// hostile are values that break naive quoting.
var hostile = []string{
	"", " ", "'", "''", `"`, `\`, `\'`, "'\\''", "$(touch /tmp/fountain-pwned)", "`id`", "$HOME", "${x:-y}",
	"a\nb", "\n", "a\rb", "\t", "*", "?", "[a]", "~", "~root", "!", "#comment", ";", "&", "|", "<", ">",
	"a b c", "-n", "-e", "--", "if", "then", "{", "}", "x=1", "é€𝄞", "\x01\x7f\xff", "%s%n", "'; rm -rf / #",
}

// shellEcho runs sh -c 'printf %s WORD' and returns what the shell made of
// the quoted word.
func shellEcho(t testing.TB, quoted string) string { return shellEchoIn(t, "sh", quoted) }

func shellEchoIn(t testing.TB, shell, quoted string) string {
	out, err := exec.Command(shell, "-c", "printf %s "+quoted).Output()
	if err != nil {
		t.Fatalf("%s -c 'printf %%s %s': %v", shell, quoted, err)
	}
	return string(out)
}

func TestQuoteAgainstShell(t *testing.T) {
	// sh (dash on Debian and Ubuntu) runs scripts; bash is the login shell
	// of Ubuntu's user, which reads the command line of an Argv command.
	for _, shell := range []string{"sh", "bash"} {
		if _, err := exec.LookPath(shell); err != nil {
			t.Fatalf("%s: %v", shell, err)
		}
		for _, s := range hostile {
			if got := shellEchoIn(t, shell, Quote(s)); got != s {
				t.Errorf("%s read Quote(%q) as %q", shell, s, got)
			}
		}
	}
	// All at once, as separate arguments, with the separator the shell sees.
	out, err := exec.Command("sh", "-c", "printf '%s\\0' "+Join(hostile...)).Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00"); strings.Join(got, "|") != strings.Join(hostile, "|") {
		t.Errorf("Join: sh read %q", got)
	}
}

func FuzzQuote(f *testing.F) {
	for _, s := range hostile {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := QuoteValue(s)
		if strings.IndexByte(s, 0) >= 0 {
			if err == nil {
				t.Fatalf("QuoteValue(%q) accepted a NUL", s)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if got := shellEcho(t, q); got != s {
			t.Fatalf("sh read Quote(%q) = %s as %q", s, q, got)
		}
	})
}
