package cli

import (
	"bytes"
	"fmt"
	"io"
	"net/url"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/fountainai/fountain/api"
	"github.com/fountainai/fountain/github"
)

func (a *app) newSecretsCmd() *cobra.Command {
	cmd := a.newGroupCmd("secrets", "Manage GitHub Actions secrets")
	cmd.Aliases = []string{"secret"}
	cmd.Long = "Set, list and remove the Actions secrets of a GitHub repository (or of one of its environments).\n\n" +
		"The server talks to GitHub with its GITHUB_TOKEN (in sandbox mode, to its GitHub stand-in).\n" +
		"Values are read from stdin or from a file (--from-file), never from the command line."
	a.addClientFlags(cmd)
	cmd.AddCommand(a.newSecretsSetCmd(), a.newSecretsListCmd(), a.newSecretsRmCmd())
	return cmd
}

// secretsSetOptions are the flags of `secrets set`.
type secretsSetOptions struct {
	Repo, Name  string
	FromFile    string
	Environment string
	Force       bool
	DryRun      bool
	mutateFlags
}

func (a *app) newSecretsSetCmd() *cobra.Command {
	o := &secretsSetOptions{}
	cmd := &cobra.Command{
		Use:   "set REPO NAME",
		Short: "Create or update a secret",
		Long: "Create or update the secret NAME of REPO (owner/name). The value is read from stdin (a terminal asks for it\n" +
			"without echoing it; a trailing newline is dropped), or, with --from-file, from a file on this machine, bytes\n" +
			"exactly (an SSH private key, say; one that group or others may read is refused). It is sent as the value.\n\n" +
			"Sending the value Fountain last wrote changes nothing (unchanged), unless --force. --dry-run shows the plan\n" +
			"(create, update or nothing, and why) and writes nothing.",
		Example: "  printf %s \"$DB_PASSWORD\" | fountain secrets set octocat/hello-world DB_PASSWORD\n" +
			"  fountain secrets set octocat/hello-world DEPLOY_KEY --from-file ~/.local/share/fountain/keys/deploy_ed25519\n" +
			"  fountain secrets set octocat/hello-world API_KEY --env production < api-key.txt",
		Args: exactArgs(2, "REPO and NAME"),
	}
	f := cmd.Flags()
	f.StringVar(&o.FromFile, "from-file", "", "read the value from this `file` (on this machine, bytes exactly)")
	f.StringVar(&o.Environment, "env", "", "set a secret of this deployment `environment`")
	f.BoolVar(&o.Force, "force", false, "write even if Fountain's last write of this value still stands")
	f.BoolVar(&o.DryRun, "dry-run", false, "only check: print the plan and write nothing")
	o.mutateFlags.add(cmd)
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		o.Repo, o.Name = args[0], args[1]
		body := api.AddSecretInput{RepoName: o.Repo, SecretName: o.Name, Environment: o.Environment, Force: o.Force, DryRun: o.DryRun}
		if o.FromFile != "" {
			v, err := readGitHubSecretFile(o.FromFile)
			if err != nil {
				return usagef(cmd, "--from-file: %v", err)
			}
			body.SecretValue = v
		} else {
			v, err := a.readSecretValue(o.Name)
			if err != nil {
				return usagef(cmd, "%v", err)
			}
			body.SecretValue = v
		}
		c, err := a.newClient()
		if err != nil {
			return err
		}
		res, raw, err := c.mutate(cmd.Context(), "/github/add-secret", body, o.Async)
		if err != nil {
			return err
		}
		return a.printMutation(o.mutateFlags, res, raw)
	})
	return cmd
}

// readGitHubSecretFile reads a secret's value from a file on this machine,
// bytes exactly, as gh secret set does: the server never reads a file for
// the CLI. A private key that group or others may access is refused, as
// OpenSSH refuses it.
func readGitHubSecretFile(path string) (string, error) {
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
	b, err := io.ReadAll(io.LimitReader(f, github.MaxSecretValue+1))
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 && github.IsPrivateKey(b) {
		clear(b)
		return "", fmt.Errorf("%s is a private key that group or others may access (mode %04o): chmod 600 %s first", path, perm, path)
	}
	switch {
	case len(b) == 0:
		return "", fmt.Errorf("%s is empty", path)
	case len(b) > github.MaxSecretValue:
		return "", fmt.Errorf("%s is larger than 48 KB, GitHub's limit", path)
	}
	return string(b), nil
}

// readSecretValue reads a secret's value: at a terminal without echo,
// else all of stdin, without its trailing newline.
func (a *app) readSecretValue(name string) (string, error) {
	if f, ok := a.io.In.(*os.File); ok && a.io.StdinTTY && term.IsTerminal(int(f.Fd())) {
		fmt.Fprintf(a.io.ErrOut, "Value of %s (not shown): ", name)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(a.io.ErrOut)
		if err != nil {
			return "", fmt.Errorf("read the value: %w", err)
		}
		return checkValue(b)
	}
	if a.io.In == nil {
		return "", fmt.Errorf("no value: pipe it to stdin, or use --from-file")
	}
	b, err := io.ReadAll(io.LimitReader(a.io.In, github.MaxSecretValue+2))
	if err != nil {
		return "", fmt.Errorf("read the value from stdin: %w", err)
	}
	return checkValue(bytes.TrimRight(b, "\r\n"))
}

func checkValue(b []byte) (string, error) {
	switch {
	case len(b) == 0:
		return "", fmt.Errorf("no value on stdin: pipe it in, or use --from-file")
	case len(b) > github.MaxSecretValue:
		return "", fmt.Errorf("the value is larger than 48 KB, GitHub's limit")
	}
	return string(b), nil
}

// secretsListOptions are the flags of `secrets list`.
type secretsListOptions struct {
	Repo        string
	Environment string
	JSON        bool
}

func (a *app) newSecretsListCmd() *cobra.Command {
	o := &secretsListOptions{}
	cmd := &cobra.Command{
		Use:     "list REPO",
		Aliases: []string{"ls"},
		Short:   "List a repository's secrets (names and dates; GitHub never returns values)",
		Args:    exactArgs(1, "one REPO (owner/name)"),
	}
	cmd.Flags().StringVar(&o.Environment, "env", "", "list the secrets of this deployment `environment`")
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print the API's JSON answer")
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		o.Repo = args[0]
		c, err := a.newClient()
		if err != nil {
			return err
		}
		q := url.Values{"repo_name": {o.Repo}}
		if o.Environment != "" {
			q.Set("environment", o.Environment)
		}
		var out github.SecretList
		raw, err := c.get(cmd.Context(), "/github/secrets", q, &out)
		if err != nil {
			return err
		}
		if o.JSON {
			return writeJSON(a.io.Out, raw)
		}
		where := out.Repo
		if out.Environment != "" {
			where += " environment " + out.Environment
		}
		if len(out.Secrets) == 0 {
			fmt.Fprintf(a.io.ErrOut, "No secrets in %s.\n", where)
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

// secretsRmOptions are the flags of `secrets rm`.
type secretsRmOptions struct {
	Repo, Name  string
	Environment string
	DryRun      bool
	mutateFlags
}

func (a *app) newSecretsRmCmd() *cobra.Command {
	o := &secretsRmOptions{}
	cmd := &cobra.Command{
		Use:     "rm REPO NAME",
		Aliases: []string{"delete"},
		Short:   "Delete a secret (deleting one that does not exist changes nothing)",
		Args:    exactArgs(2, "REPO and NAME"),
	}
	cmd.Flags().StringVar(&o.Environment, "env", "", "delete a secret of this deployment `environment`")
	cmd.Flags().BoolVar(&o.DryRun, "dry-run", false, "only check: print the plan and delete nothing")
	o.mutateFlags.add(cmd)
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		o.Repo, o.Name = args[0], args[1]
		c, err := a.newClient()
		if err != nil {
			return err
		}
		body := api.DeleteSecretInput{RepoName: o.Repo, SecretName: o.Name, Environment: o.Environment, DryRun: o.DryRun}
		res, raw, err := c.mutate(cmd.Context(), "/github/delete-secret", body, o.Async)
		if err != nil {
			return err
		}
		return a.printMutation(o.mutateFlags, res, raw)
	})
	return cmd
}
