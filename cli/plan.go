package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/api"
	"github.com/fountainai/fountain/stack"
)

// ExitChanges is fountain plan's exit code when the plan changes
// something (terraform plan -detailed-exitcode's 2).
const ExitChanges = 2

// planFile is a saved plan (fountain plan --out): the stack it was made
// from, and what it observed.
type planFile struct {
	Format      string               `json:"format"`
	Version     int                  `json:"version"`
	File        string               `json:"file"`
	Stack       string               `json:"stack"`
	AllowDelete bool                 `json:"allow_delete,omitempty"`
	CreatedAt   time.Time            `json:"created_at"`
	Plan        *api.StackPlanResult `json:"plan"`
}

const planFormat = "fountain-plan"

// planOptions are the flags of plan and apply.
type planOptions struct {
	File        string
	Out         string
	AllowDelete bool
	AutoApprove bool
	JSON        bool
	Async       bool
}

func (a *app) newPlanCmd() *cobra.Command {
	o := &planOptions{}
	cmd := &cobra.Command{
		Use:   "plan [-f fountain.yml] [--out FILE]",
		Short: "Show what applying a stack file would change (POST /stack/plan)",
		Long: "Observe everything the stack file declares, in parallel, and show per resource what applying it would do:\n" +
			"create (+), update (~), replace (-/+), delete (-) or nothing, why, the diff, and the monthly cost before and after.\n" +
			"What exists but the file does not declare is listed as unmanaged (?), and as drift when found on what the file\n" +
			"manages; it is never changed. Nothing is changed.\n\n" +
			"Exit codes, as terraform plan -detailed-exitcode: 0 no changes, 2 changes, 1 an error.\n" +
			"--out saves the plan: `fountain apply FILE` applies it, or refuses if the world changed since.",
		Example: "  fountain plan\n  fountain plan -f prod.yml --out prod.plan\n  fountain apply prod.plan",
		Args:    cobra.NoArgs,
	}
	f := cmd.Flags()
	f.StringVarP(&o.File, "file", "f", "fountain.yml", "the stack `file` (- for stdin)")
	f.StringVar(&o.Out, "out", "", "save the plan to `FILE`, for fountain apply FILE")
	f.BoolVar(&o.AllowDelete, "allow-delete", false, "plan the deletions the file's remove section names")
	f.BoolVar(&o.JSON, "json", false, "print the API's JSON answer")
	a.addClientFlags(cmd)
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		name, data, err := a.readStackFile(o.File)
		if err != nil {
			return usagef(cmd, "%v", err)
		}
		c, err := a.newClient()
		if err != nil {
			return err
		}
		res, raw, err := stackPlan(cmd.Context(), c, name, string(data), o.AllowDelete)
		if err != nil {
			return err
		}
		if o.Out != "" {
			pf := planFile{Format: planFormat, Version: 1, File: name, Stack: string(data), AllowDelete: o.AllowDelete, CreatedAt: time.Now().UTC(), Plan: res}
			b, _ := json.MarshalIndent(pf, "", "  ")
			if err := os.WriteFile(o.Out, append(b, '\n'), 0o600); err != nil {
				return fmt.Errorf("save the plan: %w", err)
			}
		}
		if o.JSON {
			if err := writeJSON(a.io.Out, raw); err != nil {
				return err
			}
		} else {
			printStackPlan(a.io.Out, res)
			if o.Out != "" {
				fmt.Fprintf(a.io.Out, "Saved the plan to %s: apply it with fountain apply %s\n", o.Out, o.Out)
			}
		}
		switch res.ExitCode {
		case 1:
			return &exitError{code: ExitError, msg: "some resources could not be planned", printed: true}
		case ExitChanges:
			return &exitError{code: ExitChanges, msg: "the plan has changes", printed: true}
		}
		return nil
	})
	return cmd
}

func stackPlan(ctx context.Context, c *Client, name, text string, allowDelete bool) (*api.StackPlanResult, []byte, error) {
	var res api.StackPlanResult
	raw, err := c.do(ctx, request{method: http.MethodPost, path: "/stack/plan",
		body: api.StackInput{Stack: text, File: name, AllowDelete: allowDelete}}, &res)
	if err != nil {
		return nil, nil, err
	}
	return &res, raw, nil
}

// actionMark is how a plan marks an action, as Terraform does.
func actionMark(a stack.Action) string {
	switch a {
	case stack.ActionCreate:
		return "+"
	case stack.ActionUpdate:
		return "~"
	case stack.ActionReplace:
		return "-/+"
	case stack.ActionDelete:
		return "-"
	case stack.ActionUnmanaged:
		return "?"
	}
	return " "
}

// printStackPlan prints a stack plan: each resource with its action and
// why, what would change in it, the cost, and the summary.
func printStackPlan(w io.Writer, res *api.StackPlanResult) {
	if res.Plan == nil {
		return
	}
	for _, r := range res.Resources {
		switch {
		case r.Error != "":
			fmt.Fprintf(w, "!   %s: error: %s\n", r.Key, r.Error)
			continue
		case r.Action == stack.ActionUnmanaged:
			fmt.Fprintf(w, "?   %s: unmanaged: %s\n", r.Key, r.Why)
			if r.Drift != "" {
				fmt.Fprintf(w, "      drift: %s\n", r.Drift)
			}
			continue
		}
		fmt.Fprintf(w, "%-3s %s: %s", actionMark(r.Action), r.Key, r.Action)
		if r.Why != "" && r.Action != stack.ActionNone {
			fmt.Fprintf(w, " (%s)", r.Why)
		}
		if m := r.Monthly; m != nil && m.Before != m.After {
			fmt.Fprintf(w, " [$%.2f -> $%.2f a month]", m.Before, m.After)
		}
		fmt.Fprintln(w)
		if r.Action == stack.ActionNone {
			continue
		}
		for _, st := range r.Steps {
			if !st.Change {
				continue
			}
			fmt.Fprintf(w, "      %s: %s\n", st.Name, st.Reason)
			if st.Diff != "" {
				for _, l := range strings.Split(strings.TrimRight(st.Diff, "\n"), "\n") {
					fmt.Fprintf(w, "        %s\n", l)
				}
			}
		}
	}
	fmt.Fprintln(w, res.Summary)
}

func (a *app) newApplyCmd() *cobra.Command {
	o := &planOptions{}
	cmd := &cobra.Command{
		Use:   "apply [-f fountain.yml | PLANFILE]",
		Short: "Apply a stack file, or a saved plan (POST /stack/apply)",
		Long: "Plan the stack file, show the plan and ask to type yes (read from stdin, also when it is not a terminal;\n" +
			"--auto-approve skips the question), then apply it: one operation with a child operation per changed resource,\n" +
			"each the same call a person would make, in dependency order, independent ones in parallel. A failure skips what\n" +
			"needs the failed resource and leaves the rest applied; apply again to continue.\n" +
			"With a PLANFILE (fountain plan --out), apply that plan as it was shown, without asking: refused as stale if what\n" +
			"it observed has changed since.",
		Example: "  fountain apply\n  fountain apply -f prod.yml --auto-approve\n  fountain apply prod.plan",
		Args:    cobra.MaximumNArgs(1),
	}
	f := cmd.Flags()
	f.StringVarP(&o.File, "file", "f", "fountain.yml", "the stack `file` (- for stdin)")
	f.BoolVar(&o.AllowDelete, "allow-delete", false, "apply the deletions the file's remove section names")
	f.BoolVar(&o.AutoApprove, "auto-approve", false, "apply without asking")
	f.BoolVar(&o.JSON, "json", false, "print the API's JSON answer")
	f.BoolVar(&o.Async, "async", false, "print the operation's id at once and return (follow it with fountain ops logs ID --follow)")
	a.addClientFlags(cmd)
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		c, err := a.newClient()
		if err != nil {
			return err
		}
		ctx := cmd.Context()
		var in api.StackApplyInput
		var plan *api.StackPlanResult
		if len(args) == 1 {
			b, err := os.ReadFile(args[0])
			if err != nil {
				return usagef(cmd, "read the plan: %v", err)
			}
			var pf planFile
			if json.Unmarshal(b, &pf) != nil || pf.Format != planFormat || pf.Plan == nil || pf.Plan.Plan == nil {
				return usagef(cmd, "%s is not a plan saved by fountain plan --out", args[0])
			}
			in = api.StackApplyInput{StackInput: api.StackInput{Stack: pf.Stack, File: pf.File, AllowDelete: pf.AllowDelete}, Plan: stack.Saved(pf.Plan.Resources)}
			plan = pf.Plan
			if !o.JSON {
				fmt.Fprintf(a.io.Out, "Applying the plan saved in %s at %s:\n", args[0], pf.CreatedAt.Local().Format(time.RFC3339))
			}
		} else {
			if o.File == "-" && !o.AutoApprove {
				return usagef(cmd, "the stack file comes from stdin, so stdin cannot answer the question: pass --auto-approve, or save the plan (fountain plan --out FILE) and apply FILE")
			}
			name, data, err := a.readStackFile(o.File)
			if err != nil {
				return usagef(cmd, "%v", err)
			}
			if plan, _, err = stackPlan(ctx, c, name, string(data), o.AllowDelete); err != nil {
				return err
			}
			in = api.StackApplyInput{StackInput: api.StackInput{Stack: string(data), File: name, AllowDelete: o.AllowDelete}, Plan: stack.Saved(plan.Resources)}
		}
		if !o.JSON {
			printStackPlan(a.io.Out, plan)
		}
		if plan.ExitCode == 1 {
			return &exitError{code: ExitError, msg: "some resources could not be planned: nothing applied"}
		}
		if plan.ExitCode == 0 {
			if !o.JSON {
				fmt.Fprintln(a.io.Out, "Nothing to apply.")
			}
			return nil
		}
		// A saved plan was shown and approved when it was saved, as
		// Terraform's: it is applied without asking.
		if !o.AutoApprove && len(args) == 0 {
			answer, err := a.io.Prompt("Apply these changes? Only 'yes' will be accepted: ")
			if err != nil || strings.TrimSpace(answer) != "yes" {
				return &exitError{code: ExitUsage, msg: "not applied"}
			}
		}
		async := o.Async || (a.io.StdoutTTY && !o.JSON)
		res, raw, err := c.mutate(ctx, "/stack/apply", in, async)
		if err != nil {
			return err
		}
		if o.JSON || o.Async {
			return a.printMutation(mutateFlags{JSON: o.JSON, Async: o.Async}, res, raw)
		}
		end := res.Operation
		if async {
			if end, err = a.streamOperation(ctx, c, res.Operation.ID, false); err != nil {
				if errors.Is(err, context.Canceled) {
					return fmt.Errorf("%w: the apply goes on on the server; follow it with `fountain ops logs %s --follow`", err, res.Operation.ID)
				}
				return err
			}
		} else {
			printResult(a.io.Out, res)
		}
		printApplyOutcome(a.io.Out, end)
		if end.Status != fountain.StatusSucceeded {
			return operationFailed(a.io.ErrOut, end)
		}
		return nil
	})
	return cmd
}

// printApplyOutcome prints what an apply did to each resource.
func printApplyOutcome(w io.Writer, op *fountain.Operation) {
	var res api.StackApplyResult
	if op == nil || json.Unmarshal(op.Result, &res) != nil || len(res.Resources) == 0 {
		return
	}
	t := newTable(w)
	fmt.Fprintln(t, "RESOURCE\tOUTCOME\tOPERATION\tDETAIL")
	for _, r := range res.Resources {
		fmt.Fprintf(t, "%s\t%s\t%s\t%s\n", r.Key, r.Status, r.OperationID, oneLine(r.Detail))
	}
	t.Flush()
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}

// importOptions are the flags of import.
type importOptions struct {
	Out    string
	Region string
	Repos  []string
}

func (a *app) newImportCmd() *cobra.Command {
	o := &importOptions{}
	cmd := &cobra.Command{
		Use:   "import [-o FILE] [--repo OWNER/NAME]...",
		Short: "Print a stack file of what exists (GET /stack/import)",
		Long: "Read the region's instances, and the apps, Kong and its routes, and OpenSearch on its running instances, and the\n" +
			"Actions secrets of the repositories named with --repo, into a stack file whose plan is empty: the way to move\n" +
			"from single calls to a stack file. GitHub never returns secret values: set each vault secret the file names\n" +
			"(fountain vault set NAME) before planning. Changes nothing.",
		Example: "  fountain import -o fountain.yml --repo user/repo\n  fountain plan",
		Args:    cobra.NoArgs,
	}
	f := cmd.Flags()
	f.StringVarP(&o.Out, "out", "o", "", "write the stack file to `FILE` (default: stdout)")
	f.StringVar(&o.Region, "region", "", "the `region` (default: the server's)")
	f.StringSliceVar(&o.Repos, "repo", nil, "a GitHub repository (`OWNER/NAME`) whose secrets to import; repeatable")
	a.addClientFlags(cmd)
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		c, err := a.newClient()
		if err != nil {
			return err
		}
		q := url.Values{}
		if o.Region != "" {
			q.Set("region", o.Region)
		}
		for _, r := range o.Repos {
			q.Add("repo", r)
		}
		var res api.StackImport
		if _, err := c.get(cmd.Context(), "/stack/import", q, &res); err != nil {
			return err
		}
		for _, n := range res.Notes {
			fmt.Fprintf(a.io.ErrOut, "note: %s\n", n)
		}
		if len(res.VaultNames) > 0 {
			fmt.Fprintf(a.io.ErrOut, "set these vault secrets before planning (fountain vault set NAME): %s\n", strings.Join(res.VaultNames, ", "))
		}
		if o.Out == "" {
			_, err := io.WriteString(a.io.Out, res.Stack)
			return err
		}
		if err := os.WriteFile(o.Out, []byte(res.Stack), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", o.Out, err)
		}
		fmt.Fprintf(a.io.ErrOut, "Wrote %s\n", o.Out)
		return nil
	})
	return cmd
}
