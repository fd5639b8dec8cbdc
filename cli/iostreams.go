package cli

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/mattn/go-isatty"
)

// IOStreams are the streams a command reads and writes, and whether they are
// terminals. Tests build them over buffers and set the TTY flags directly.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	// StdinTTY reports that In is a terminal: someone can answer a prompt.
	StdinTTY bool
	// StdoutTTY reports that Out is a terminal: a person reads the output.
	StdoutTTY bool

	lines *bufio.Reader // In, read a line at a time by prompts
}

// NewIOStreams returns streams over stdin, stdout and stderr, detecting
// which of them are terminals.
func NewIOStreams(stdin io.Reader, stdout, stderr io.Writer) *IOStreams {
	return &IOStreams{In: stdin, Out: stdout, ErrOut: stderr, StdinTTY: isTerminal(stdin), StdoutTTY: isTerminal(stdout)}
}

func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	if !ok || f == nil {
		return false
	}
	return isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())
}

// CanPrompt reports whether a person can answer a question on stdin.
func (s *IOStreams) CanPrompt() bool { return s.StdinTTY && s.In != nil }

// Prompt writes question to stderr and returns the line typed in answer,
// without its line ending.
func (s *IOStreams) Prompt(question string) (string, error) {
	fmt.Fprint(s.ErrOut, question)
	if s.lines == nil {
		s.lines = bufio.NewReader(s.In)
	}
	line, err := s.lines.ReadString('\n')
	if err != nil && line == "" {
		fmt.Fprintln(s.ErrOut)
		return "", fmt.Errorf("read answer: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}
