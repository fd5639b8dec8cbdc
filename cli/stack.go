package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/stack"
)

func (a *app) newStackCmd() *cobra.Command {
	cmd := a.newGroupCmd("stack", "The stack file, fountain.yml: its schema, and checking one")
	cmd.Long = "A stack file (fountain.yml) declares one region's infrastructure: instances, OpenSearch, Kong and its\n" +
		"routes, Docker apps, GitHub secrets and workflow. It never holds a secret value: it names secrets kept\n" +
		"in Fountain's vault (fountain vault set NAME). See docs/fountain.example.yml."
	cmd.AddCommand(a.newStackSchemaCmd(), a.newStackValidateCmd())
	return cmd
}

func (a *app) newStackSchemaCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the stack file's JSON Schema",
		Long: "Print the JSON Schema (draft 2020-12) of the stack file, for editors. A server serves the same at\n" +
			"GET /schemas/stack.json; with the YAML language server, start fountain.yml with\n" +
			"# yaml-language-server: $schema=http://127.0.0.1:8000/schemas/stack.json\nNo server is needed.",
		Args: cobra.NoArgs,
		RunE: a.runE(func(cmd *cobra.Command, args []string) error {
			b, err := stack.JSONSchema()
			if err != nil {
				return fmt.Errorf("render the stack file's schema: %w", err)
			}
			_, err = a.io.Out.Write(b)
			return err
		}),
	}
}

// stackValidateOptions are the flags of `stack validate`.
type stackValidateOptions struct {
	File       string
	CheckVault bool
}

func (a *app) newStackValidateCmd() *cobra.Command {
	o := &stackValidateOptions{}
	cmd := &cobra.Command{
		Use:   "validate [-f FILE]",
		Short: "Check a stack file, here (each problem with its line and column)",
		Long: "Read a stack file and check it as the server will: its shape (unknown or duplicate keys, wrong types),\n" +
			"each value by the rule of the engine that receives it, and that what it names exists in the file.\n" +
			"With --check-vault, also ask the server whether every vault secret it names is set.",
		Example: "  fountain stack validate\n  fountain stack validate -f prod.yml --check-vault",
		Args:    cobra.NoArgs,
	}
	cmd.Flags().StringVarP(&o.File, "file", "f", "fountain.yml", "the stack `file` (- for stdin)")
	cmd.Flags().BoolVar(&o.CheckVault, "check-vault", false, "ask the server (FOUNTAIN_URL) which vault secrets the file names are not set")
	a.addClientFlags(cmd)
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		name, data, err := a.readStackFile(o.File)
		if err != nil {
			return usagef(cmd, "%v", err)
		}
		s, err := stack.Parse(name, data)
		if err != nil {
			return a.stackProblems(err)
		}
		if o.CheckVault {
			c, err := a.newClient()
			if err != nil {
				return err
			}
			var out struct {
				Secrets []fountain.VaultSecret `json:"secrets"`
			}
			if _, err := c.get(cmd.Context(), "/vault", nil, &out); err != nil {
				return err
			}
			have := map[string]bool{}
			for _, v := range out.Secrets {
				have[v.Name] = true
			}
			if err := s.CheckVault(func(n string) bool { return have[n] }); err != nil {
				return a.stackProblems(err)
			}
		}
		routes := 0
		if s.Kong != nil {
			routes = len(s.Kong.Routes)
		}
		fmt.Fprintf(a.io.Out, "%s: valid: %s, %s, %s", name, plural(len(s.Instances), "instance"), plural(len(s.Apps), "app"), plural(routes, "route"))
		if names := s.VaultNames(); len(names) > 0 {
			fmt.Fprintf(a.io.Out, "; vault secrets: %s", strings.Join(names, ", "))
		}
		fmt.Fprintln(a.io.Out)
		return nil
	})
	return cmd
}

// readStackFile reads a stack file, or stdin for "-", at most one byte
// over the largest stack file (Parse says why it is too large).
func (a *app) readStackFile(path string) (string, []byte, error) {
	var r io.Reader
	name := filepath.Base(path)
	if path == "-" {
		if a.io.In == nil {
			return "", nil, errors.New("no stack file on stdin")
		}
		r, name = a.io.In, "stdin"
	} else {
		f, err := os.Open(path)
		if err != nil {
			return "", nil, err
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, stack.MaxSize+1))
	if err != nil {
		return "", nil, fmt.Errorf("read %s: %w", path, err)
	}
	return name, b, nil
}

// stackProblems prints a stack file's problems, one a line with its hint,
// and ends the command with exit code 1.
func (a *app) stackProblems(err error) error {
	var l stack.ErrorList
	if !errors.As(err, &l) {
		return err
	}
	for _, e := range l {
		fmt.Fprintln(a.io.ErrOut, e.Error())
		if e.Hint != "" {
			fmt.Fprintf(a.io.ErrOut, "  hint: %s\n", e.Hint)
		}
	}
	return &exitError{code: ExitError, msg: fmt.Sprintf("%d problems", len(l)), printed: true}
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
