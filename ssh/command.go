package ssh

import (
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/fountainai/fountain"
)

// Cmd is one command to run on a host, in its own SSH session.
type Cmd struct {
	// Name says in words what the command does ("install docker.io"). It
	// names the command in errors instead of its text; without it, errors
	// name the program (Argv[0]) or "a script".
	Name string
	// Script is run by the remote POSIX shell (sh -c SCRIPT). Exactly one
	// of Script and Argv is set.
	Script string
	// Argv is run as given, each argument quoted with Quote.
	Argv []string
	// Sudo runs the command as root with "sudo -n" (never a password
	// prompt) when the user is not root.
	Sudo bool
	// Env holds environment values for the command. They travel on the
	// session's stdin, ahead of Stdin, and are set by the remote shell:
	// never on a command line (not in the host's process list) and not
	// with the SSH "env" request, which sshd refuses by default.
	Env map[string]string
	// Stdin, if set, is the command's standard input (e.g. a file body).
	// It must reach EOF: Run waits for it to be sent.
	Stdin io.Reader
	// Timeout bounds the command; 0 leaves it to the context.
	Timeout time.Duration
	// OnLine, if set, is called with each line of output as it arrives
	// ("stdout" or "stderr", the line without its newline). Calls are
	// never concurrent; lines of one stream come in order. A line longer
	// than MaxLineBytes arrives in pieces.
	OnLine func(stream, line string)
	// TailBytes bounds Result.Stdout and Result.Stderr (default
	// DefaultTailBytes).
	TailBytes int
}

// Bounds of a command's output.
const (
	MaxLineBytes     = 8 << 10  // longest line passed to OnLine in one piece
	DefaultTailBytes = 64 << 10 // default bound of Result.Stdout and Result.Stderr
)

// envName is a portable environment variable name.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// envVar is the shell variable the environment line is read into.
const envVar = "__fountain_env"

// describe names the command in words for errors and logs.
func (c Cmd) describe() string {
	switch {
	case c.Name != "":
		return c.Name
	case len(c.Argv) > 0:
		return c.Argv[0]
	default:
		return "a script"
	}
}

// build returns the command line to execute for a user and the line that
// goes to stdin first (the environment, "" if none). It is pure.
func (c Cmd) build(user string) (line, envLine string, err error) {
	if (c.Script == "") == (len(c.Argv) == 0) {
		return "", "", fountain.Errorf(fountain.EINVALID, "command %q: set exactly one of Script and Argv", c.describe())
	}
	for _, a := range append(slices.Clone(c.Argv), c.Script) {
		if strings.IndexByte(a, 0) >= 0 {
			return "", "", &fountain.Error{Code: fountain.EINVALID, Err: ErrNUL,
				Message: fmt.Sprintf("command %q: an argument or the script contains a NUL byte, which no shell value can hold", c.describe())}
		}
	}
	envLine, err = envScript(c.Env)
	if err != nil {
		return "", "", err
	}
	sudo := c.Sudo && user != "root"
	if c.Script == "" && envLine == "" && !sudo {
		return Join(c.Argv...), "", nil // the login shell runs it as is
	}
	body := c.Script
	if body == "" {
		body = "exec " + Join(c.Argv...)
	}
	if sudo {
		// A cancelled command gets SIGTERM from sshd, which runs as the
		// user and so reaches only sudo; sudo relays it to its child alone.
		// That child, a root shell, runs the command in the background (its
		// stdin passed on explicitly) and passes the signal on to its whole
		// process group, so nothing keeps running as root.
		body = "exec 3<&0\ntrap 'trap - TERM; kill -TERM 0' TERM\nsh -c " + Quote(body) + " 0<&3 3<&- &\nwait $!"
	}
	if envLine != "" {
		// POSIX read takes one line from a pipe byte by byte, leaving the
		// rest of stdin to the command.
		body = "IFS= read -r " + envVar + " || exit 125\neval \"$" + envVar + "\"\nunset " + envVar + "\n" + body
	}
	line = "sh -c " + Quote(body)
	if sudo {
		line = "sudo -n -- " + line
	}
	return line, envLine, nil
}

// envScript renders env as one line of shell assignments and exports
// (sorted by name), which the remote shell evaluates. Values are quoted
// with Quote; a newline in a value is written as "$__fountain_nl" so that
// the line stays one line.
func envScript(env map[string]string) (string, error) {
	if len(env) == 0 {
		return "", nil
	}
	var b strings.Builder
	nl := false
	for _, k := range slices.Sorted(maps.Keys(env)) {
		v := env[k]
		if !envName.MatchString(k) || strings.HasPrefix(k, "__fountain") {
			return "", fountain.Errorf(fountain.EINVALID, "environment variable name %q is not a valid name (letters, digits and _, not starting with a digit)", k)
		}
		if strings.IndexByte(v, 0) >= 0 {
			return "", &fountain.Error{Code: fountain.EINVALID, Err: ErrNUL,
				Message: fmt.Sprintf("environment variable %s contains a NUL byte, which no shell value can hold", k)}
		}
		parts := strings.Split(v, "\n")
		q := make([]string, len(parts))
		for i, p := range parts {
			q[i] = Quote(p)
		}
		if len(parts) > 1 {
			nl = true
		}
		b.WriteString(k + "=" + strings.Join(q, `"$__fountain_nl"`) + "; export " + k + "; ")
	}
	s := strings.TrimSuffix(b.String(), " ")
	if nl {
		s = `__fountain_nl=$(printf '\nx'); __fountain_nl=${__fountain_nl%x}; ` + s + " unset __fountain_nl;"
	}
	return s + "\n", nil
}
