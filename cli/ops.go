package cli

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/api"
)

func (a *app) newOpsCmd() *cobra.Command {
	cmd := a.newGroupCmd("ops", "Inspect and follow operations")
	cmd.Aliases = []string{"operations"}
	cmd.Long = "Every change Fountain makes is an operation, recorded with its steps.\n" +
		"List them, show one, print or follow its logs, or cancel one that runs."
	a.addClientFlags(cmd)
	cmd.AddCommand(a.newOpsListCmd(), a.newOpsShowCmd(), a.newOpsLogsCmd(), a.newOpsCancelCmd())
	return cmd
}

// opsListOptions are the flags of `ops list`.
type opsListOptions struct {
	Kind, Target, Status string
	Limit                int
	JSON                 bool
}

func (a *app) newOpsListCmd() *cobra.Command {
	o := &opsListOptions{}
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List operations, newest first",
		Args:    cobra.NoArgs,
	}
	f := cmd.Flags()
	f.StringVar(&o.Kind, "kind", "", "only operations of this `kind`, e.g. lightsail.create-instance")
	f.StringVar(&o.Target, "target", "", "only operations on this `target`, e.g. eu-central-1/web-1")
	f.StringVar(&o.Status, "status", "", "only operations in this `status`: pending, running, succeeded, failed, cancelled, interrupted")
	f.IntVar(&o.Limit, "limit", 0, "at most `n` operations (default: the server's, 100)")
	f.BoolVar(&o.JSON, "json", false, "print the API's JSON answer")
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		c, err := a.newClient()
		if err != nil {
			return err
		}
		q := url.Values{}
		for k, v := range map[string]string{"kind": o.Kind, "target": o.Target, "status": o.Status} {
			if v != "" {
				q.Set(k, v)
			}
		}
		if o.Limit > 0 {
			q.Set("limit", strconv.Itoa(o.Limit))
		}
		var out struct {
			Operations []*fountain.Operation `json:"operations"`
		}
		raw, err := c.get(cmd.Context(), "/operations", q, &out)
		if err != nil {
			return err
		}
		if o.JSON {
			return writeJSON(a.io.Out, raw)
		}
		if len(out.Operations) == 0 {
			fmt.Fprintln(a.io.ErrOut, "No operations.")
			return nil
		}
		t := newTable(a.io.Out)
		fmt.Fprintln(t, "ID\tKIND\tTARGET\tSTATUS\tCHANGED\tCREATED")
		for _, op := range out.Operations {
			fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%s\t%s\n", op.ID, op.Kind, op.Target, op.Status, changedWord(op.Changed), fmtTime(op.CreatedAt))
		}
		return t.Flush()
	})
	return cmd
}

// opsShowOptions are the flags of `ops show`.
type opsShowOptions struct {
	ID   string
	JSON bool
}

func (a *app) newOpsShowCmd() *cobra.Command {
	o := &opsShowOptions{}
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show an operation and its steps",
		Args:  exactArgs(1, "one operation ID"),
	}
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print the API's JSON answer")
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		o.ID = args[0]
		c, err := a.newClient()
		if err != nil {
			return err
		}
		var op fountain.Operation
		raw, err := c.get(cmd.Context(), "/operations/"+url.PathEscape(o.ID), nil, &op)
		if err != nil {
			return err
		}
		if o.JSON {
			return writeJSON(a.io.Out, raw)
		}
		printOperation(a.io.Out, &op)
		return nil
	})
	return cmd
}

// printOperation prints an operation's record and its steps.
func printOperation(w io.Writer, op *fountain.Operation) {
	status := string(op.Status)
	if op.Status.Final() {
		status += " (" + changedWord(op.Changed) + ")"
	}
	errText := op.Error
	if errText != "" && op.ErrorCode != "" {
		errText += " [" + op.ErrorCode + "]"
	}
	fields := [][2]string{
		{"ID", op.ID},
		{"Kind", op.Kind},
		{"Target", op.Target},
		{"Status", status},
		{"Message", op.Message},
		{"Error", errText},
		{"Created", fmtTime(op.CreatedAt)},
	}
	if op.StartedAt != nil {
		fields = append(fields, [2]string{"Started", fmtTime(*op.StartedAt)})
	}
	if op.FinishedAt != nil {
		took := ""
		if op.StartedAt != nil {
			took = " (took " + fmtMillis(op.FinishedAt.Sub(*op.StartedAt).Milliseconds()) + ")"
		}
		fields = append(fields, [2]string{"Finished", fmtTime(*op.FinishedAt) + took})
	}
	printFields(w, fields)
	if len(op.Steps) > 0 {
		fmt.Fprintln(w, "Steps:")
		printSteps(w, op.Steps)
	}
}

// opsLogsOptions are the flags of `ops logs`.
type opsLogsOptions struct {
	ID     string
	Follow bool
	JSON   bool
}

func (a *app) newOpsLogsCmd() *cobra.Command {
	o := &opsLogsOptions{}
	cmd := &cobra.Command{
		Use:   "logs ID",
		Short: "Print an operation's steps and output",
		Long: "Print each step of an operation with its status, duration and output.\n\n" +
			"With --follow, stream the operation live until it ends (Server-Sent Events), and exit 1 unless it succeeded.\n" +
			"With --json, print the operation's log (GET /operations/{id}/log); with --json --follow, one JSON object per event: {\"event\": ..., \"data\": ...}.",
		Example: "  id=$(fountain instances start web-1 --wait --async)\n  fountain ops logs \"$id\" --follow",
		Args:    exactArgs(1, "one operation ID"),
	}
	cmd.Flags().BoolVarP(&o.Follow, "follow", "f", false, "stream the operation until it ends")
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print JSON")
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		o.ID = args[0]
		c, err := a.newClient()
		if err != nil {
			return err
		}
		// Read the operation first: a missing one is a 404 (exit 4), and one
		// that already ended needs no stream.
		var op fountain.Operation
		raw, err := c.get(cmd.Context(), "/operations/"+url.PathEscape(o.ID), nil, &op)
		if err != nil {
			return err
		}
		if !o.Follow {
			var log api.OperationLog
			raw, err := c.get(cmd.Context(), "/operations/"+url.PathEscape(o.ID)+"/log", nil, &log)
			if err != nil {
				return err
			}
			if o.JSON {
				return writeJSON(a.io.Out, raw)
			}
			printLogs(a.io.Out, &op, log.Lines)
			return nil
		}
		_ = raw
		return a.followOperation(cmd, c, o)
	})
	return cmd
}

// printLogs prints every step with its whole output, then how the
// operation ended.
func printLogs(w io.Writer, op *fountain.Operation, lines []api.LogLine) {
	byStep := map[int][]string{}
	for _, l := range lines {
		byStep[l.Step] = append(byStep[l.Step], l.Line)
	}
	for _, l := range byStep[-1] {
		printIndented(w, l)
	}
	for i, st := range op.Steps {
		printStepEnd(w, st, false)
		printIndented(w, strings.Join(byStep[i], "\n"))
		if st.Status != fountain.StepFailed && st.Reason != "" && st.Status != fountain.StepOK {
			printIndented(w, "("+st.Reason+")")
		}
	}
	printOperationEnd(w, op)
}

// printStepEnd prints a step's line and, with output, its output and error
// indented below it.
func printStepEnd(w io.Writer, st fountain.Step, output bool) {
	fmt.Fprintf(w, "%s  %s  (%s)\n", stepMark(st.Status), st.Name, fmtMillis(st.DurationMS))
	if output {
		printIndented(w, st.Output)
	}
	if st.Error != "" {
		printIndented(w, "error: "+st.Error)
	}
}

func printIndented(w io.Writer, text string) {
	text = strings.TrimRight(text, "\n")
	if text == "" {
		return
	}
	for _, line := range strings.Split(text, "\n") {
		fmt.Fprintf(w, "    %s\n", line)
	}
}

// printOperationEnd prints the last line of an operation's logs.
func printOperationEnd(w io.Writer, op *fountain.Operation) {
	switch {
	case !op.Status.Final():
		fmt.Fprintf(w, "Operation %s is %s (see it live with --follow)\n", op.ID, op.Status)
	case op.Status == fountain.StatusSucceeded:
		fmt.Fprintf(w, "Operation %s succeeded (%s): %s\n", op.ID, changedWord(op.Changed), op.Message)
	default:
		fmt.Fprintf(w, "Operation %s %s: %s\n", op.ID, op.Status, op.Error)
	}
}

// opsCancelOptions are the flags of `ops cancel`.
type opsCancelOptions struct {
	ID   string
	JSON bool
}

func (a *app) newOpsCancelCmd() *cobra.Command {
	o := &opsCancelOptions{}
	cmd := &cobra.Command{
		Use:   "cancel ID",
		Short: "Cancel a running operation",
		Long:  "Stop a running operation at its current step; it ends as cancelled. An operation that already ended cannot be cancelled (exit 1).",
		Args:  exactArgs(1, "one operation ID"),
	}
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print the API's JSON answer")
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		o.ID = args[0]
		c, err := a.newClient()
		if err != nil {
			return err
		}
		var op fountain.Operation
		raw, err := c.do(cmd.Context(), request{method: http.MethodPost, path: "/operations/" + url.PathEscape(o.ID) + "/cancel"}, &op)
		if err != nil {
			return err
		}
		if o.JSON {
			return writeJSON(a.io.Out, raw)
		}
		fmt.Fprintf(a.io.Out, "Operation %s is %s\n", op.ID, op.Status)
		return nil
	})
	return cmd
}
