// Package cli is Fountain's command line: `fountain serve` runs the control
// plane, `fountain emulate lightsail` runs the Lightsail emulator alone, and
// the client commands (`fountain instances ...`, `fountain snapshots ...`,
// `fountain lb ...`, `fountain ops ...`,
// `fountain cost`, `fountain sandbox ...`, `fountain secrets ...`,
// `fountain images ...`) drive a running server over its HTTP API.
// `fountain aws policy` prints the IAM policy Fountain needs, and
// `fountain doctor` checks what a first real run needs.
//
// Commands are `noun verb`, one file per noun, each verb with a small
// Options struct. Every command writes to the IOStreams it is given, prints
// human tables by default and the API's JSON with --json, and ends with one
// of the exit codes listed in exitCodesHelp.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fountainai/fountain/server"
)

// Exit codes of the fountain command.
const (
	ExitOK          = 0   // success
	ExitError       = 1   // the operation failed, or the API answered an error
	ExitUsage       = 2   // bad flags or arguments, or a confirmation was refused
	ExitAuth        = 3   // no API token, or the server rejected it (401)
	ExitNotFound    = 4   // the thing asked for does not exist (404)
	ExitInterrupted = 130 // a client command interrupted by SIGINT or SIGTERM
)

const exitCodesHelp = `Exit codes:
  0    success
  1    the operation failed or the API answered an error
  2    usage error (bad flags or arguments), or a confirmation was declined
  3    authentication failed: no API token, or the server answered 401
  4    not found: the instance, operation or repository does not exist (404)
  130  a client command interrupted (SIGINT/SIGTERM); serve and emulate stop gracefully with 0`

const envHelp = `Environment:
  FOUNTAIN_URL        the server client commands talk to (default http://127.0.0.1:8000)
  FOUNTAIN_API_TOKEN  the API token (default: read from the data directory)
  FOUNTAIN_DATA_DIR   the data directory (default $XDG_DATA_HOME/fountain or ~/.local/share/fountain)
  FOUNTAIN_ADDR, FOUNTAIN_SANDBOX, FOUNTAIN_SANDBOX_HOSTS, FOUNTAIN_LOG_LEVEL
                      defaults for 'fountain serve'`

// Main runs the fountain command with args (without the program name) and
// returns its exit code. Errors are printed to stderr.
func Main(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	ios := NewIOStreams(stdin, stdout, stderr)
	err := Run(ctx, args, getenv, ios)
	if err == nil {
		return ExitOK
	}
	printError(ios.ErrOut, err)
	return ExitCode(err)
}

// Run runs the fountain command with args on the given streams. The error it
// returns carries its exit code (see ExitCode).
func Run(ctx context.Context, args []string, getenv func(string) string, ios *IOStreams) error {
	a := &app{io: ios, getenv: getenv}
	root := a.newRootCmd()
	root.SetArgs(args)
	root.SetIn(ios.In)
	root.SetOut(ios.Out)
	root.SetErr(ios.ErrOut)
	cmd, err := root.ExecuteContextC(ctx)
	if err != nil && !a.ran {
		// Cobra failed before any command ran: flags, arguments, or an
		// unknown command.
		return &usageError{cmd: cmd.CommandPath(), err: err}
	}
	return err
}

// app is what every command shares: the streams, the environment, and the
// client settings bound to the client commands' flags.
type app struct {
	io     *IOStreams
	getenv func(string) string
	client clientOptions
	ran    bool // a command's RunE started
}

// clientOptions locate the server and the token of the client commands.
type clientOptions struct {
	URL     string
	DataDir string
}

// addClientFlags adds --url and --data-dir to a client noun and its verbs.
func (a *app) addClientFlags(cmd *cobra.Command) {
	pf := cmd.PersistentFlags()
	pf.StringVar(&a.client.URL, "url", a.env("FOUNTAIN_URL", DefaultURL), "`URL` of the Fountain server (env FOUNTAIN_URL)")
	pf.StringVar(&a.client.DataDir, "data-dir", a.env("FOUNTAIN_DATA_DIR", server.DefaultDataDir(a.getenv)),
		"data `directory` holding the API token, when FOUNTAIN_API_TOKEN is unset (env FOUNTAIN_DATA_DIR)")
}

// newClient returns an API client with the token from FOUNTAIN_API_TOKEN or
// the data directory.
func (a *app) newClient() (*Client, error) {
	token, err := server.ReadToken(a.client.DataDir, a.getenv)
	if err != nil {
		return nil, &authError{err: err}
	}
	return &Client{BaseURL: a.client.URL, Token: token}, nil
}

// env returns the environment variable key, or def when it is empty.
func (a *app) env(key, def string) string {
	if v := a.getenv(key); v != "" {
		return v
	}
	return def
}

// runE wraps a command's body so that errors from it are told apart from
// cobra's own usage errors.
func (a *app) runE(fn func(cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		a.ran = true
		return fn(cmd, args)
	}
}

func (a *app) newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "fountain",
		Short: "Fountain: a manual-first control plane for AWS Lightsail",
		Long: "Fountain is a manual-first control plane for a small AWS Lightsail infrastructure.\n" +
			"Every change is done only when asked, recorded as an operation, and idempotent.\n\n" +
			"Run `fountain serve` (add --sandbox to use the built-in Lightsail emulator instead of AWS),\n" +
			"then drive it with the client commands.",
		Example: "  fountain serve --sandbox\n" +
			"  fountain instances create web-1 --blueprint ubuntu_24_04 --bundle nano_3_0 --zone eu-central-1a\n" +
			"  fountain instances list\n" +
			"  fountain ops logs OPERATION_ID --follow",
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetHelpTemplate(root.HelpTemplate() + "{{if not .HasParent}}\n" + exitCodesHelp + "\n\n" + envHelp + "\n{{end}}")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &usageError{cmd: cmd.CommandPath(), err: err}
	})
	root.AddGroup(&cobra.Group{ID: "server", Title: "Server commands:"}, &cobra.Group{ID: "client", Title: "Client commands (talk to FOUNTAIN_URL):"})
	for _, c := range []*cobra.Command{a.newServeCmd(), a.newOpenAPICmd(), a.newEmulateCmd(), a.newHealthcheckCmd()} {
		c.GroupID = "server"
		root.AddCommand(c)
	}
	for _, c := range []*cobra.Command{a.newInstancesCmd(), a.newSnapshotsCmd(), a.newLBCmd(), a.newOpsCmd(), a.newCostCmd(), a.newSandboxCmd(), a.newSecretsCmd(), a.newImagesCmd(), a.newVaultCmd()} {
		c.GroupID = "client"
		root.AddCommand(c)
	}
	root.AddCommand(a.newDeployCmd())                                  // client: deploy app|opensearch|kong
	root.AddCommand(a.newAppsCmd())                                    // client: apps list|logs|rollback|remove
	root.AddCommand(a.newOpenSearchCmd())                              // client: opensearch health
	root.AddCommand(a.newSSHCmd())                                     // client: ssh host-keys|forget
	root.AddCommand(a.newKongCmd())                                    // client: kong config get|apply|history|rollback, kong routes list|add|rm
	root.AddCommand(a.newAWSCmd())                                     // aws policy: the IAM policy Fountain needs
	root.AddCommand(a.newDoctorCmd())                                  // doctor: what a first real run needs
	root.AddCommand(a.newStackCmd())                                   // stack schema|validate: the stack file, read here
	root.AddCommand(a.newPlanCmd(), a.newApplyCmd(), a.newImportCmd()) // plan, apply, import: the stack file over the infrastructure
	root.AddCommand(a.newBackupCmd())                                  // client: backup --out FILE (POST /backup)
	root.AddCommand(a.newRestoreCmd())                                 // restore --in FILE --data-dir DIR: no server
	root.AddCommand(a.newStandinCmd())                                 // hidden: sandbox stand-ins for OpenSearch and Kong
	return root
}

// newGroupCmd returns a noun command that only holds verbs: run alone it
// prints its help, and an unknown verb is a usage error.
func (a *app) newGroupCmd(use, short string) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return &usageError{cmd: cmd.CommandPath(), err: fmt.Errorf("unknown command %q for %q", args[0], cmd.CommandPath())}
			}
			return cmd.Help()
		},
	}
}

// exactArgs is cobra.ExactArgs with a message naming the arguments.
func exactArgs(n int, names string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return fmt.Errorf("%s takes %s (got %d arguments)", cmd.CommandPath(), names, len(args))
		}
		return nil
	}
}

// usageError is a mistake in how the command was called (exit 2).
type usageError struct {
	cmd string // the command path, for the "see --help" line
	err error
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usagef returns a usage error for cmd.
func usagef(cmd *cobra.Command, format string, args ...any) error {
	return &usageError{cmd: cmd.CommandPath(), err: fmt.Errorf(format, args...)}
}

// authError means the client has no token to send (exit 3).
type authError struct{ err error }

func (e *authError) Error() string { return e.err.Error() }
func (e *authError) Unwrap() error { return e.err }

// exitError ends the command with code; if printed, the command already told
// the user why.
type exitError struct {
	code    int
	msg     string
	printed bool
}

func (e *exitError) Error() string { return e.msg }

// ExitCode maps an error returned by Run to the process exit code.
func ExitCode(err error) int {
	var (
		ue *usageError
		ae *authError
		ee *exitError
		pe *APIError
	)
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ue):
		return ExitUsage
	case errors.As(err, &ae):
		return ExitAuth
	case errors.As(err, &pe):
		switch pe.StatusCode {
		case http.StatusUnauthorized:
			return ExitAuth
		case http.StatusNotFound:
			return ExitNotFound
		}
		return ExitError
	case errors.Is(err, context.Canceled):
		return ExitInterrupted
	}
	return ExitError
}

// printError tells the user what went wrong, on stderr.
func printError(w io.Writer, err error) {
	if err == nil {
		return
	}
	var (
		ue *usageError
		ee *exitError
		pe *APIError
	)
	switch {
	case errors.As(err, &ee) && ee.printed:
	case errors.As(err, &pe):
		printProblem(w, pe)
	case errors.As(err, &ue):
		fmt.Fprintf(w, "error: %s\n", ue.err)
		if ue.cmd != "" {
			fmt.Fprintf(w, "Run '%s --help' for usage.\n", ue.cmd)
		}
	case err == context.Canceled:
		fmt.Fprintln(w, "interrupted")
	default:
		fmt.Fprintf(w, "error: %s\n", strings.TrimSpace(err.Error()))
	}
}
