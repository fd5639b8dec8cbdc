package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/api"
)

// writeJSON prints an API answer as indented JSON.
func writeJSON(w io.Writer, raw []byte) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return fmt.Errorf("the server's answer is not JSON: %w", err)
	}
	buf.WriteByte('\n')
	_, err := w.Write(buf.Bytes())
	return err
}

// newTable returns a tabwriter for aligned columns; Flush it when done.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
}

// stepMark is a step's status as shown: ✓ ok, ~ changed, ✗ failed,
// - skipped, + would change.
func stepMark(s fountain.StepStatus) string {
	switch s {
	case fountain.StepOK:
		return "✓ ok"
	case fountain.StepChanged:
		return "~ changed"
	case fountain.StepFailed:
		return "✗ failed"
	case fountain.StepRunning:
		return "… running"
	case fountain.StepSkipped:
		return "- skipped"
	case fountain.StepWouldChange:
		return "+ would change"
	}
	return "? " + string(s)
}

// fmtMillis formats a step duration: 35ms, 1.2s, 2m3s.
func fmtMillis(ms int64) string {
	d := time.Duration(ms) * time.Millisecond
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", ms)
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return d.Round(time.Second).String()
}

// fmtTime formats a timestamp in local time; the zero time is "-".
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

// firstLine returns the first line of s, saying how many more there are.
func firstLine(s string) string {
	s = strings.TrimSpace(s)
	first, rest, ok := strings.Cut(s, "\n")
	if !ok {
		return first
	}
	return fmt.Sprintf("%s (+%d lines)", first, strings.Count(rest, "\n")+1)
}

// changedWord is "changed" or "unchanged".
func changedWord(changed bool) string {
	if changed {
		return "changed"
	}
	return "unchanged"
}

// money formats US dollars.
func money(usd float64) string { return fmt.Sprintf("$%.2f", usd) }

// printSteps prints one line per step: mark, name, duration, and the first
// line of its output (or its error).
func printSteps(w io.Writer, steps []fountain.Step) {
	t := newTable(w)
	for _, st := range steps {
		note := firstLine(st.Output)
		if st.Error != "" {
			note = firstLine(st.Error)
		}
		if note == "" {
			fmt.Fprintf(t, "  %s\t%s\t%s\n", stepMark(st.Status), st.Name, fmtMillis(st.DurationMS))
			continue
		}
		fmt.Fprintf(t, "  %s\t%s\t%s\t%s\n", stepMark(st.Status), st.Name, fmtMillis(st.DurationMS), note)
	}
	t.Flush()
}

// printResult prints the outcome of a mutating call: its message, whether
// it changed anything, its steps and its operation id.
func printResult(w io.Writer, res api.OperationResult) {
	fmt.Fprintf(w, "%s (%s)\n", res.Message, changedWord(res.Changed))
	if res.Operation == nil {
		return
	}
	printSteps(w, res.Operation.Steps)
	fmt.Fprintf(w, "Operation: %s\n", res.Operation.ID)
}

// printProblem prints an API error: its detail, the failed operation's
// steps, the field errors and the hint.
func printProblem(w io.Writer, e *APIError) {
	fmt.Fprintf(w, "error: %s\n", e.Error())
	if e.Operation != nil && len(e.Operation.Steps) > 0 {
		printSteps(w, e.Operation.Steps)
	}
	// Field errors, unless the detail already says them all.
	var fields []string
	repeated := true
	for _, fe := range e.Errors {
		f := fe.Message
		if loc := strings.TrimPrefix(fe.Location, "body."); loc != "" {
			f = loc + ": " + fe.Message
		}
		fields = append(fields, f)
		repeated = repeated && strings.Contains(e.Detail, f)
	}
	if !repeated {
		for _, f := range fields {
			fmt.Fprintf(w, "  - %s\n", f)
		}
	}
	if e.Hint != "" {
		fmt.Fprintf(w, "hint: %s\n", e.Hint)
	}
	if id := e.OperationID; id != "" {
		fmt.Fprintf(w, "Operation: %s (fountain ops logs %s)\n", id, id)
	}
}

// printFields prints label: value lines, aligned; empty values are skipped.
func printFields(w io.Writer, fields [][2]string) {
	t := newTable(w)
	for _, f := range fields {
		if f[1] == "" {
			continue
		}
		fmt.Fprintf(t, "%s:\t%s\n", f[0], f[1])
	}
	t.Flush()
}
