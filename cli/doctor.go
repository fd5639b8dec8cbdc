package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fountainai/fountain/api"
	"github.com/fountainai/fountain/server"
)

// doctorOptions are the flags of `fountain doctor`.
type doctorOptions struct {
	Local   bool
	Sandbox bool
	JSON    bool
}

func (a *app) newDoctorCmd() *cobra.Command {
	o := &doctorOptions{}
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check what a first real run needs, and say what to fix",
		Long: "Check what a first real run needs, one line per check (ok, warn or fail, what was found, what to do):\n" +
			"AWS credentials and region (with one read call; a refusal names the IAM action missing), the SSH key\n" +
			"directories and their modes, the GitHub token and its scopes, the GHCR login (a token-flow read), the data\n" +
			"directory and free disk, and in sandbox mode Docker, the host image and the apt cache.\n\n" +
			"The checks concern the server's machine, so the server runs them (GET /doctor). With --local, or when no\n" +
			"server answers, they run here, against --data-dir and this environment as `fountain serve` would read it.\n" +
			"Tokens and keys are never shown: only where they came from. Exits 1 when a check fails.",
		Example: "  fountain doctor\n  fountain doctor --local --sandbox\n  fountain doctor --json",
		Args:    cobra.NoArgs,
	}
	a.addClientFlags(cmd)
	cmd.Flags().BoolVar(&o.Local, "local", false, "run the checks here instead of asking the server")
	cmd.Flags().BoolVar(&o.Sandbox, "sandbox", envBool(a.getenv("FOUNTAIN_SANDBOX")), "with --local: check for `fountain serve --sandbox` (env FOUNTAIN_SANDBOX=1)")
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print the report as JSON")
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		ctx := cmd.Context()
		var report api.DoctorReport
		where := ""
		if !o.Local {
			r, why, err := a.serverDoctor(ctx)
			switch {
			case err != nil:
				return err
			case why == "":
				report, where = r, "by the server at "+a.client.URL
			default:
				fmt.Fprintf(a.io.ErrOut, "%s: checking here instead, against %s\n", why, a.client.DataDir)
			}
		}
		if where == "" {
			d, err := server.LocalDoctor(ctx, a.client.DataDir, o.Sandbox, a.getenv)
			if err != nil {
				return err
			}
			report, where = d.Check(ctx), "on this machine"
		}
		if o.JSON {
			b, err := json.MarshalIndent(report, "", "  ")
			if err != nil {
				return err
			}
			fmt.Fprintf(a.io.Out, "%s\n", b)
		} else {
			printDoctor(a, report, where)
		}
		if !report.OK {
			return &exitError{code: ExitError, msg: "a check failed", printed: true}
		}
		return nil
	})
	return cmd
}

// serverDoctor asks the server for its checks. why says, instead, why
// no server could be asked (no token, nothing answering); err is an
// answer of the server's that is an error.
func (a *app) serverDoctor(ctx context.Context) (r api.DoctorReport, why string, err error) {
	c, err := a.newClient()
	if err != nil {
		return r, strings.TrimSpace(err.Error()), nil
	}
	if _, err := c.get(ctx, "/doctor", nil, &r); err != nil {
		var ue *url.Error
		if errors.As(err, &ue) && ctx.Err() == nil {
			return r, "no Fountain server answers at " + a.client.URL, nil
		}
		return r, "", err
	}
	return r, "", nil
}

// printDoctor prints one line per check: status, name, what was found and
// what to do; then the counts.
func printDoctor(a *app, r api.DoctorReport, where string) {
	t := newTable(a.io.Out)
	counts := map[string]int{}
	for _, c := range r.Checks {
		counts[c.Status]++
		line := c.Found
		if c.Fix != "" {
			line += ". Fix: " + c.Fix
		}
		fmt.Fprintf(t, "%s\t%s\t%s\n", c.Status, c.Name, line)
	}
	t.Flush()
	mode := "AWS"
	if r.Mode == "sandbox" {
		mode = "the sandbox"
	}
	fmt.Fprintf(a.io.Out, "%d ok, %d warn, %d fail: checked %s, for %s, data dir %s\n",
		counts[api.CheckOK], counts[api.CheckWarn], counts[api.CheckFail], where, mode, strings.TrimSpace(r.DataDir))
}
