package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/api"
)

// hostCall is one mutating call of the deploy, apps and ssh commands: an
// operation on a host that may take minutes.
type hostCall struct {
	method string     // default POST
	path   string     // the route, e.g. /services/deploy-docker-app
	query  url.Values // for routes that take the host in the query
	body   any
	dryRun bool
	// noStream, when set, says why progress is not streamed on a terminal
	// (a value shown once comes only with the direct answer).
	noStream string
	// summary returns the lines that say what the operation produced (from
	// its result), printed after it succeeded.
	summary func(result json.RawMessage) [][2]string
	// detail, if set, prints more of the result after a dry run's plan or
	// the outcome (a diff).
	detail func(w io.Writer, result json.RawMessage)
}

func (h hostCall) mutate(ctx context.Context, c *Client, async bool) (api.OperationResult, []byte, error) {
	method := h.method
	if method == "" {
		method = http.MethodPost
	}
	return c.mutateWith(ctx, method, h.path, h.query, h.body, async)
}

// runHostCall calls the route and prints what happened:
//   - --json: the API's answer; --async: the operation id at once;
//   - --dry-run: the plan as a table (step, would change, why);
//   - on a terminal: progress streamed live (the call is made with Prefer:
//     respond-async and the operation's events followed, resuming a dropped
//     stream), then how it ended and what it produced;
//   - otherwise: the outcome with its steps, once it is over.
//
// A failed operation exits 1 (4 when something was not found).
func (a *app) runHostCall(cmd *cobra.Command, m mutateFlags, call hostCall) error {
	c, err := a.newClient()
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	w := a.io.Out
	if m.JSON || m.Async {
		res, raw, err := call.mutate(ctx, c, m.Async)
		if err != nil {
			return err
		}
		return a.printMutation(m, res, raw)
	}
	if call.dryRun || !a.io.StdoutTTY || call.noStream != "" {
		if a.io.StdoutTTY && call.noStream != "" && !call.dryRun {
			fmt.Fprintf(a.io.ErrOut, "Waiting for the outcome (progress is not streamed: %s)...\n", call.noStream)
		}
		res, _, err := call.mutate(ctx, c, false)
		if err != nil {
			return err
		}
		if call.dryRun {
			printPlan(w, res)
			if call.detail != nil {
				call.detail(w, res.Operation.Result)
			}
			return nil
		}
		printResult(w, res)
		printSummary(w, call.summary, res.Operation.Result)
		printOnce(w, res.Once)
		return nil
	}
	res, _, err := call.mutate(ctx, c, true)
	if err != nil {
		return err
	}
	id := res.Operation.ID
	end, err := a.streamOperation(ctx, c, id, false)
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("%w: operation %s goes on on the server; follow it with `fountain ops logs %s --follow`, or stop it with `fountain ops cancel %s`", err, id, id, id)
	}
	if err != nil {
		return err
	}
	printOperationEnd(w, end)
	if end.Status == fountain.StatusSucceeded {
		printSummary(w, call.summary, end.Result)
		return nil
	}
	return operationFailed(a.io.ErrOut, end)
}

// operationFailed tells why a followed operation did not succeed, on w, and
// returns its exit code: 4 when something was not found, else 1.
func operationFailed(w io.Writer, op *fountain.Operation) error {
	msg := fmt.Sprintf("operation %s %s", op.ID, op.Status)
	if op.Error != "" {
		msg += ": " + op.Error
	}
	fmt.Fprintf(w, "error: %s\n", msg)
	if op.ErrorHint != "" {
		fmt.Fprintf(w, "hint: %s\n", op.ErrorHint)
	}
	code := ExitError
	if op.ErrorCode == fountain.ENOTFOUND {
		code = ExitNotFound
	}
	return &exitError{code: code, msg: msg, printed: true}
}

// printPlan prints a dry run: its message, then each step, whether it
// would change anything and why.
func printPlan(w io.Writer, res api.OperationResult) {
	fmt.Fprintln(w, res.Message)
	t := newTable(w)
	fmt.Fprintln(t, "STEP\tWOULD CHANGE\tWHY")
	for _, st := range res.Operation.Steps {
		would := "no"
		switch st.Status {
		case fountain.StepWouldChange, fountain.StepChanged:
			would = "yes"
		case fountain.StepSkipped:
			would = "-"
		case fountain.StepFailed:
			would = "failed"
		}
		why := st.Reason
		if why == "" {
			why = firstLine(st.Error)
		}
		if why == "" {
			why = firstLine(st.Output)
		}
		fmt.Fprintf(t, "%s\t%s\t%s\n", st.Name, would, why)
	}
	t.Flush()
	fmt.Fprintf(w, "Operation: %s (a dry run: nothing was changed)\n", res.Operation.ID)
}

// printSummary prints what an operation produced, if summary knows how.
func printSummary(w io.Writer, summary func(json.RawMessage) [][2]string, result json.RawMessage) {
	if summary == nil || len(result) == 0 {
		return
	}
	printFields(w, summary(result))
}

// printOnce prints the values an answer shows once (a generated admin
// password), each on its own line, and says they will not be shown again.
func printOnce(w io.Writer, once map[string]string) {
	if len(once) == 0 {
		return
	}
	names := make([]string, 0, len(once))
	for k := range once {
		names = append(names, k)
	}
	sort.Strings(names)
	fmt.Fprintln(w)
	for _, k := range names {
		fmt.Fprintf(w, "%s: %s\n", k, once[k])
	}
	fmt.Fprintln(w, "Keep it now: it is shown this once and will not be shown again (Fountain keeps it only encrypted).")
}

// readHiddenValue reads one secret value: typed without echo after prompt
// when stdin is a terminal, else the next line of stdin (the line ending
// dropped). An empty value is an error.
func readHiddenValue(ios *IOStreams, prompt string) (string, error) {
	if f, ok := ios.In.(*os.File); ok && ios.StdinTTY && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(ios.ErrOut, prompt)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(ios.ErrOut)
		if err != nil {
			return "", fmt.Errorf("read %s: %w", strings.TrimSuffix(strings.TrimSpace(prompt), ":"), err)
		}
		if len(b) == 0 {
			return "", errors.New("no value typed")
		}
		return string(b), nil
	}
	if ios.In == nil {
		return "", errors.New("no stdin to read it from")
	}
	if ios.StdinTTY {
		fmt.Fprint(ios.ErrOut, prompt)
	}
	if ios.lines == nil {
		ios.lines = bufio.NewReader(ios.In)
	}
	line, err := ios.lines.ReadString('\n')
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if line == "" {
		if err != nil && err != io.EOF {
			return "", fmt.Errorf("read stdin: %w", err)
		}
		return "", errors.New("stdin has no value for it (one line per value)")
	}
	return line, nil
}
