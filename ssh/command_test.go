package ssh

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/fountainai/fountain"
)

func TestBuild(t *testing.T) {
	prelude := "IFS= read -r __fountain_env || exit 125\neval \"$__fountain_env\"\nunset __fountain_env\n"
	relay := func(body string) string {
		return "exec 3<&0\ntrap 'trap - TERM; kill -TERM 0' TERM\nsh -c " + Quote(body) + " 0<&3 3<&- &\nwait $!"
	}
	for _, tc := range []struct {
		name      string
		cmd       Cmd
		user      string
		line, env string
	}{
		{"argv", Cmd{Argv: []string{"docker", "inspect", "my app"}}, "ubuntu", "docker inspect 'my app'", ""},
		{"script", Cmd{Script: "set -e\necho hi"}, "ubuntu", "sh -c 'set -e\necho hi'", ""},
		{"sudo argv", Cmd{Argv: []string{"apt-get", "install", "-y", "docker.io"}, Sudo: true}, "ubuntu",
			"sudo -n -- sh -c " + Quote(relay("exec apt-get install -y docker.io")), ""},
		{"sudo as root is plain", Cmd{Argv: []string{"id", "-u"}, Sudo: true}, "root", "id -u", ""},
		{"sudo script", Cmd{Script: "echo 'x'", Sudo: true}, "ubuntu", "sudo -n -- sh -c " + Quote(relay("echo 'x'")), ""},
		{"env", Cmd{Script: "env", Env: map[string]string{"B": "it's", "A": "1"}}, "ubuntu",
			"sh -c " + Quote(prelude+"env"), "A=1; export A; B='it'\\''s'; export B;\n"},
		{"env newline", Cmd{Argv: []string{"x"}, Env: map[string]string{"K": "a\nb"}, Sudo: true}, "ubuntu",
			"sudo -n -- sh -c " + Quote(prelude+relay("exec x")),
			"__fountain_nl=$(printf '\\nx'); __fountain_nl=${__fountain_nl%x}; K=a\"$__fountain_nl\"b; export K; unset __fountain_nl;\n"},
	} {
		line, env, err := tc.cmd.build(tc.user)
		if err != nil || line != tc.line || env != tc.env {
			t.Errorf("%s:\n got %q %q %v\nwant %q %q", tc.name, line, env, err, tc.line, tc.env)
		}
	}
	for _, c := range []Cmd{
		{}, {Script: "a", Argv: []string{"b"}}, {Argv: []string{"a\x00"}}, {Script: "\x00"},
		{Script: "x", Env: map[string]string{"1A": "x"}}, {Script: "x", Env: map[string]string{"__fountain_nl": "x"}},
		{Script: "x", Env: map[string]string{"A": "\x00"}},
	} {
		if _, _, err := c.build("ubuntu"); fountain.ErrorCode(err) != fountain.EINVALID {
			t.Errorf("%+v: %v", c, err)
		}
	}
}

// The environment line, evaluated by sh, sets every value exactly.
func TestEnvScriptAgainstShell(t *testing.T) {
	env := map[string]string{}
	for i, v := range hostile {
		env["V"+string(rune('A'+i%26))+strings.Repeat("_", i/26)] = v
	}
	line, err := envScript(env)
	if err != nil || strings.Count(line, "\n") != 1 || !strings.HasSuffix(line, "\n") {
		t.Fatalf("%q %v", line, err)
	}
	var script strings.Builder
	script.WriteString("IFS= read -r e; eval \"$e\"; printf '%s\\0'")
	var want []string
	for k, v := range env {
		script.WriteString(` "$` + k + `"`)
		want = append(want, v)
	}
	cmd := exec.Command("sh", "-c", script.String())
	cmd.Stdin = strings.NewReader(line)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00"); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}
