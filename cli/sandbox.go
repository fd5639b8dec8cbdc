package cli

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/spf13/cobra"
)

// newSandboxCmd is the `sandbox` noun. status talks to a server started with
// --sandbox; build and down act on Docker directly (sandbox_local.go).
func (a *app) newSandboxCmd() *cobra.Command {
	cmd := a.newGroupCmd("sandbox", "Inspect the local sandbox")
	cmd.Long = "The sandbox is what `fountain serve --sandbox` runs instead of AWS: a Lightsail emulator,\n" +
		"and, when Docker is available, local hosts behind the sandbox instances."
	status := a.newSandboxStatusCmd()
	a.addClientFlags(status)
	cmd.AddCommand(status, a.newSandboxBuildCmd(), a.newSandboxDownCmd())
	return cmd
}

// sandboxStatusOptions are the flags of `sandbox status`.
type sandboxStatusOptions struct {
	JSON bool
}

func (a *app) newSandboxStatusCmd() *cobra.Command {
	o := &sandboxStatusOptions{}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the sandbox's state",
		Long:  "Show the sandbox's state (GET /sandbox). A server not in sandbox mode answers not found (exit 4).",
		Args:  cobra.NoArgs,
	}
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print the API's JSON answer")
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		c, err := a.newClient()
		if err != nil {
			return err
		}
		var st map[string]any
		raw, err := c.get(cmd.Context(), "/sandbox", nil, &st)
		if err != nil {
			return err
		}
		if o.JSON {
			return writeJSON(a.io.Out, raw)
		}
		// The status's shape belongs to the sandbox; print whatever it holds.
		keys := make([]string, 0, len(st))
		for k := range st {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fields := make([][2]string, 0, len(keys))
		for _, k := range keys {
			fields = append(fields, [2]string{k, fmtValue(st[k])})
		}
		printFields(a.io.Out, fields)
		return nil
	})
	return cmd
}

// fmtValue formats a JSON value on one line: strings bare, the rest as JSON.
func fmtValue(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case nil:
		return "-"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
