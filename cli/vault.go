package cli

import (
	"bytes"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/api"
	"github.com/fountainai/fountain/github"
	"github.com/fountainai/fountain/stack"
)

func (a *app) newVaultCmd() *cobra.Command {
	cmd := a.newGroupCmd("vault", "Manage the named secrets stack files refer to")
	cmd.Long = "Set, list and remove the vault's named secrets: the values a stack file (fountain.yml) refers to by name\n" +
		"(secret_env, GitHub secrets, OpenSearch's admin password). The server keeps them encrypted with its data\n" +
		"directory's key and never shows them again. Values are read from stdin or from a file (--from-file),\n" +
		"never from the command line."
	a.addClientFlags(cmd)
	cmd.AddCommand(a.newVaultSetCmd(), a.newVaultListCmd(), a.newVaultRmCmd())
	return cmd
}

// vaultSetOptions are the flags of `vault set`.
type vaultSetOptions struct {
	Name     string
	FromFile string
	mutateFlags
}

func (a *app) newVaultSetCmd() *cobra.Command {
	o := &vaultSetOptions{}
	cmd := &cobra.Command{
		Use:   "set NAME",
		Short: "Set a named secret (PUT /vault/NAME)",
		Long: "Set the vault secret NAME (1 to 64 lower-case letters, digits, '_', '.' and '-'). The value is read from stdin\n" +
			"(a terminal asks for it without echoing it; a trailing newline is dropped), or, with --from-file, from a file\n" +
			"on this machine, bytes exactly (one that group or others may read is refused if it is a private key).\n\n" +
			"Setting the value the secret already holds changes nothing (unchanged).",
		Example: "  printf %s \"$DB_PASSWORD\" | fountain vault set db-password\n" +
			"  fountain vault set deploy-key --from-file ~/.ssh/deploy_ed25519",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("%s takes one NAME (the value comes from stdin or --from-file, never the command line; got %d arguments)", cmd.CommandPath(), len(args))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&o.FromFile, "from-file", "", "read the value from this `file` (on this machine, bytes exactly)")
	o.mutateFlags.add(cmd)
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		o.Name = args[0]
		if err := checkVaultName(cmd, o.Name); err != nil {
			return err
		}
		var (
			v   string
			err error
		)
		if o.FromFile != "" {
			if v, err = readVaultFile(o.FromFile); err != nil {
				return usagef(cmd, "--from-file: %v", err)
			}
		} else if v, err = a.readVaultValue(o.Name); err != nil {
			return usagef(cmd, "%v", err)
		}
		c, err := a.newClient()
		if err != nil {
			return err
		}
		res, raw, err := c.mutateWith(cmd.Context(), "PUT", "/vault/"+url.PathEscape(o.Name), nil, api.VaultSetBody{Value: v}, o.Async)
		if err != nil {
			return err
		}
		return a.printMutation(o.mutateFlags, res, raw)
	})
	return cmd
}

// checkVaultName refuses a name the server would refuse, before anything
// is read or sent.
func checkVaultName(cmd *cobra.Command, name string) error {
	if err := stack.ValidateVaultName("NAME", name); err != nil {
		return usagef(cmd, "%s", fountain.ErrorMessage(err))
	}
	return nil
}

// readVaultFile reads a value from a file on this machine, bytes exactly.
// A private key that group or others may access is refused, as OpenSSH
// refuses it.
func readVaultFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, api.MaxVaultValue+1))
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 && github.IsPrivateKey(b) {
		clear(b)
		return "", fmt.Errorf("%s is a private key that group or others may access (mode %04o): chmod 600 %s first", path, perm, path)
	}
	return checkVaultValue(b, path+" is")
}

// readVaultValue reads a value: at a terminal without echo, else all of
// stdin, without its trailing newline.
func (a *app) readVaultValue(name string) (string, error) {
	if f, ok := a.io.In.(*os.File); ok && a.io.StdinTTY && term.IsTerminal(int(f.Fd())) {
		fmt.Fprintf(a.io.ErrOut, "Value of %s (not shown): ", name)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(a.io.ErrOut)
		if err != nil {
			return "", fmt.Errorf("read the value: %w", err)
		}
		return checkVaultValue(b, "the value is")
	}
	if a.io.In == nil {
		return "", fmt.Errorf("no value: pipe it to stdin, or use --from-file")
	}
	b, err := io.ReadAll(io.LimitReader(a.io.In, api.MaxVaultValue+2))
	if err != nil {
		return "", fmt.Errorf("read the value from stdin: %w", err)
	}
	return checkVaultValue(bytes.TrimRight(b, "\r\n"), "the value is")
}

func checkVaultValue(b []byte, what string) (string, error) {
	switch {
	case len(b) == 0:
		return "", fmt.Errorf("no value on stdin: pipe it in, or use --from-file")
	case len(b) > api.MaxVaultValue:
		return "", fmt.Errorf("%s larger than 64 KiB, the vault's limit", what)
	}
	return string(b), nil
}

func (a *app) newVaultListCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the vault's secrets (names and dates, never values)",
		Args:    cobra.NoArgs,
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON answer")
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		c, err := a.newClient()
		if err != nil {
			return err
		}
		var out struct {
			Secrets []fountain.VaultSecret `json:"secrets"`
		}
		raw, err := c.get(cmd.Context(), "/vault", nil, &out)
		if err != nil {
			return err
		}
		if asJSON {
			return writeJSON(a.io.Out, raw)
		}
		if len(out.Secrets) == 0 {
			fmt.Fprintln(a.io.ErrOut, "No secrets in the vault. Set one with: fountain vault set NAME")
			return nil
		}
		t := newTable(a.io.Out)
		fmt.Fprintln(t, "NAME\tUPDATED\tCREATED")
		for _, s := range out.Secrets {
			fmt.Fprintf(t, "%s\t%s\t%s\n", s.Name, fmtTime(s.UpdatedAt), fmtTime(s.CreatedAt))
		}
		return t.Flush()
	})
	return cmd
}

// vaultRmOptions are the flags of `vault rm`.
type vaultRmOptions struct {
	Name string
	Yes  bool
	mutateFlags
}

func (a *app) newVaultRmCmd() *cobra.Command {
	o := &vaultRmOptions{}
	cmd := &cobra.Command{
		Use:     "rm NAME",
		Aliases: []string{"delete"},
		Short:   "Delete a named secret (deleting one that is not set changes nothing)",
		Long: "Delete the vault secret NAME. Stack files that name it cannot be applied until it is set again.\n" +
			"On a terminal, you are asked to type the name to confirm; elsewhere, pass --yes.",
		Args: exactArgs(1, "one NAME"),
	}
	cmd.Flags().BoolVarP(&o.Yes, "yes", "y", false, "delete without asking for confirmation")
	o.mutateFlags.add(cmd)
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		o.Name = args[0]
		if err := checkVaultName(cmd, o.Name); err != nil {
			return err
		}
		if !o.Yes {
			if !a.io.CanPrompt() {
				return usagef(cmd, "refusing to delete vault secret %s without confirmation: stdin is not a terminal, so pass --yes", o.Name)
			}
			answer, err := a.io.Prompt(fmt.Sprintf("Delete vault secret %s? Its value cannot be recovered.\nType %s to confirm: ", o.Name, o.Name))
			if err != nil {
				return &exitError{code: ExitUsage, msg: "not deleted: " + err.Error()}
			}
			if strings.TrimSpace(answer) != o.Name {
				return &exitError{code: ExitUsage, msg: fmt.Sprintf("not deleted: %q does not match %q", strings.TrimSpace(answer), o.Name)}
			}
		}
		c, err := a.newClient()
		if err != nil {
			return err
		}
		res, raw, err := c.mutateWith(cmd.Context(), "DELETE", "/vault/"+url.PathEscape(o.Name), nil, nil, o.Async)
		if err != nil {
			return err
		}
		return a.printMutation(o.mutateFlags, res, raw)
	})
	return cmd
}
