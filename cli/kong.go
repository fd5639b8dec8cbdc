package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/deploy"
)

func (a *app) newKongCmd() *cobra.Command {
	cmd := a.newGroupCmd("kong", "Manage a Kong gateway's declarative config and routes")
	cmd.Long = "Read and change the declarative config of a Kong gateway Fountain deployed (fountain deploy kong).\n" +
		"Every change is loaded through Kong's Admin API (reached over SSH; Kong's own validation decides), written\n" +
		"to /etc/kong/kong.yml so a restart keeps it, and recorded as a version you can roll back to.\n\n" + hostFlagsHelp
	a.addClientFlags(cmd)
	config := a.newGroupCmd("config", "The whole declarative config: get, apply, history, rollback")
	config.AddCommand(a.newKongConfigGetCmd(), a.newKongConfigApplyCmd(), a.newKongConfigHistoryCmd(), a.newKongConfigRollbackCmd())
	routes := a.newGroupCmd("routes", "Routes to upstreams or apps: list, add, rm")
	routes.AddCommand(a.newKongRoutesListCmd(), a.newKongRoutesAddCmd(), a.newKongRoutesRmCmd())
	cmd.AddCommand(config, routes)
	return cmd
}

func (a *app) kongConfig(cmd *cobra.Command, o *hostReadFlags) (*deploy.KongConfigView, []byte, error) {
	var v deploy.KongConfigView
	raw, err := a.hostGet(cmd, &o.hostFlags, "/services/kong/config", nil, &v)
	return &v, raw, err
}

func (a *app) newKongConfigGetCmd() *cobra.Command {
	o := &hostReadFlags{}
	cmd := &cobra.Command{Use: "get (--host ADDRESS --key PATH | --instance NAME)", Short: "Print the config Kong runs (YAML)", Args: cobra.NoArgs}
	addKongRead(o, cmd, "print the API's JSON answer (with version, hash and routes)")
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		v, raw, err := a.kongConfig(cmd, o)
		if err != nil {
			return err
		}
		if o.JSON {
			return writeJSON(a.io.Out, raw)
		}
		fmt.Fprint(a.io.Out, v.Config)
		sync := "in sync with Fountain's version"
		if !v.InSync {
			sync = "NOT what Fountain applied last"
		}
		fmt.Fprintf(a.io.ErrOut, "# version %d, hash %s: %s\n", v.Version, v.Hash, sync)
		return nil
	})
	return cmd
}

// kongChangeOptions are the flags of the kong changes.
type kongChangeOptions struct {
	hostFlags
	mutateFlags
	DryRun bool
}

func (o *kongChangeOptions) add(cmd *cobra.Command) {
	o.multi = kongMulti
	o.hostFlags.add(cmd)
	o.addGatewayName(cmd)
	cmd.Flags().BoolVar(&o.DryRun, "dry-run", false, "only show what would change (the diff) and change nothing")
	o.mutateFlags.add(cmd)
}

// kongMulti says what several --instance are to the Kong commands.
const kongMulti = "the nodes of a gateway of several Kong instances, changed one after the other (--gateway-name names the gateway)"

// nodes is the gateway's fields of a change: its instances and name.
func (o *kongChangeOptions) nodes(names []string) deploy.NodesInput {
	return deploy.NodesInput{InstanceNames: names, Gateway: o.GatewayName}
}

// addKongRead adds a Kong read's flags: several --instance, the
// gateway's name, --json.
func addKongRead(o *hostReadFlags, cmd *cobra.Command, jsonHelp string) {
	o.multi = kongMulti
	o.add(cmd, jsonHelp)
	o.addGatewayName(cmd)
}

// printKongDiff prints the diff a config change made or would make.
func printKongDiff(w io.Writer, result json.RawMessage) {
	var r struct {
		Diff string `json:"diff"`
	}
	if json.Unmarshal(result, &r) == nil && r.Diff != "" {
		fmt.Fprintln(w)
		fmt.Fprint(w, r.Diff)
	}
}

// kongSummaryOf says which version a gateway runs after a change, and
// Kong's own field errors when it refused one.
func kongConfigSummary(raw json.RawMessage) [][2]string {
	var r struct {
		Version    int    `json:"version"`
		Hash       string `json:"hash"`
		Source     string `json:"source"`
		KongErrors []struct {
			EntityType string `json:"entity_type"`
			EntityName string `json:"entity_name"`
			Errors     []struct {
				Field   string `json:"field"`
				Message string `json:"message"`
			} `json:"errors"`
		} `json:"kong_errors"`
	}
	if json.Unmarshal(raw, &r) != nil {
		return nil
	}
	out := [][2]string{{"Version", strconv.Itoa(r.Version)}, {"Hash", r.Hash}}
	for _, e := range r.KongErrors {
		for _, fe := range e.Errors {
			out = append(out, [2]string{"Kong error", fmt.Sprintf("%s %s: %s: %s", e.EntityType, e.EntityName, fe.Field, fe.Message)})
		}
	}
	return out
}

func (a *app) newKongConfigApplyCmd() *cobra.Command {
	o := &kongChangeOptions{}
	cmd := &cobra.Command{
		Use:   "apply FILE (--host ADDRESS --key PATH | --instance NAME)",
		Short: "Load a whole declarative config (YAML or JSON; - reads stdin) into Kong",
		Long: "Load a whole declarative config into Kong (PUT /services/kong/config). Fountain checks its structure,\n" +
			"then Kong's own validation decides: an invalid config is refused with Kong's field errors and the\n" +
			"running one stays. An unchanged config changes nothing. --dry-run prints the diff.",
		Args: exactArgs(1, "one config FILE (or - for stdin)"),
	}
	o.add(cmd)
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		host, names, err := o.hostFlags.inputs(cmd, a.getenv)
		if err != nil {
			return err
		}
		var text []byte
		if args[0] == "-" {
			text, err = io.ReadAll(io.LimitReader(a.io.In, 16<<20))
		} else {
			text, err = os.ReadFile(args[0])
		}
		if err != nil {
			return usagef(cmd, "read the config: %v", err)
		}
		host.DryRun = o.DryRun
		body := &deploy.KongConfigInput{HostInput: host, NodesInput: o.nodes(names), Config: string(text)}
		return a.runHostCall(cmd, o.mutateFlags, hostCall{method: http.MethodPut, path: "/services/kong/config", body: body,
			dryRun: o.DryRun, summary: kongConfigSummary, detail: printKongDiff})
	})
	return cmd
}

func (a *app) newKongConfigHistoryCmd() *cobra.Command {
	o := &hostReadFlags{}
	cmd := &cobra.Command{Use: "history (--host ADDRESS --key PATH | --instance NAME...)", Short: "List the config versions Fountain applied", Args: cobra.NoArgs}
	addKongRead(o, cmd, "")
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		var out struct {
			Versions []fountain.ConfigVersion `json:"versions"`
		}
		raw, err := a.hostGet(cmd, &o.hostFlags, "/services/kong/config/history", nil, &out)
		if err != nil {
			return err
		}
		if o.JSON {
			return writeJSON(a.io.Out, raw)
		}
		if len(out.Versions) == 0 {
			fmt.Fprintln(a.io.ErrOut, "No version applied yet: the gateway runs the empty config.")
			return nil
		}
		t := newTable(a.io.Out)
		fmt.Fprintln(t, "VERSION\tSOURCE\tHASH\tAPPLIED")
		for _, v := range out.Versions {
			fmt.Fprintf(t, "%d\t%s\t%s\t%s\n", v.Version, v.Source, v.Hash, fmtTime(v.CreatedAt))
		}
		t.Flush()
		return nil
	})
	return cmd
}

func (a *app) newKongConfigRollbackCmd() *cobra.Command {
	o := &kongChangeOptions{}
	cmd := &cobra.Command{
		Use:   "rollback VERSION (--host ADDRESS --key PATH | --instance NAME)",
		Short: "Apply a stored config version again (recorded as a new version)",
		Args:  exactArgs(1, "one VERSION number (see `fountain kong config history`)"),
	}
	o.add(cmd)
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		v, err := strconv.Atoi(args[0])
		if err != nil || v < 1 {
			return usagef(cmd, "VERSION %q: want a version number, 1 or more", args[0])
		}
		host, names, err := o.hostFlags.inputs(cmd, a.getenv)
		if err != nil {
			return err
		}
		host.DryRun = o.DryRun
		body := &deploy.KongRollbackInput{HostInput: host, NodesInput: o.nodes(names), Version: v}
		return a.runHostCall(cmd, o.mutateFlags, hostCall{path: "/services/kong/config/rollback", body: body, dryRun: o.DryRun,
			summary: kongConfigSummary, detail: printKongDiff})
	})
	return cmd
}

func (a *app) newKongRoutesListCmd() *cobra.Command {
	o := &hostReadFlags{}
	cmd := &cobra.Command{Use: "list (--host ADDRESS --key PATH | --instance NAME...)", Aliases: []string{"ls"}, Short: "List the gateway's routes", Args: cobra.NoArgs}
	addKongRead(o, cmd, "")
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		v, raw, err := a.kongConfig(cmd, o)
		if err != nil {
			return err
		}
		if o.JSON {
			return writeJSON(a.io.Out, raw)
		}
		if len(v.Routes) == 0 {
			fmt.Fprintln(a.io.ErrOut, "No routes.")
			return nil
		}
		t := newTable(a.io.Out)
		fmt.Fprintln(t, "NAME\tUPSTREAM\tPATHS\tHOSTS\tMETHODS")
		for _, r := range v.Routes {
			fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%s\n", r.Name, dash(r.UpstreamURL), dash(strings.Join(r.Paths, ",")),
				dash(strings.Join(r.Hosts, ",")), dash(strings.Join(r.Methods, ",")))
		}
		t.Flush()
		return nil
	})
	return cmd
}

// kongRouteAddOptions are the flags of `kong routes add`.
type kongRouteAddOptions struct {
	kongChangeOptions
	Upstream     string
	App          string
	AppHost      string
	AppInstances []string
	Paths        []string
	Hostnames    []string
	Methods      []string
	StripPath    bool
	PreserveHost bool
}

func (a *app) newKongRoutesAddCmd() *cobra.Command {
	o := &kongRouteAddOptions{}
	cmd := &cobra.Command{
		Use:   "add NAME (--upstream URL | --app CONTAINER) (--path P | --hostname H)... (--host ADDRESS --key PATH | --instance NAME)",
		Short: "Add or update a service and its route by name",
		Long: "Add (or update, by name) a service and its route: traffic matching --path prefixes and/or --hostname\n" +
			"names goes to --upstream URL, or to an app Fountain deployed (--app CONTAINER, on the gateway's host\n" +
			"unless --app-host or --app-instance names another; several --app-instance for an app on several hosts).\n" +
			"A route to an app goes to its upstream app-NAME, whose targets are its hosts, checked by Kong as the app is.\n" +
			"The rest of the config is kept.",
		Example: "  fountain kong routes add my-app --app my-app --path /api --host 203.0.113.7 --key ~/.ssh/id_ed25519",
		Args:    exactArgs(1, "one route NAME"),
	}
	o.kongChangeOptions.add(cmd)
	f := cmd.Flags()
	f.StringVar(&o.Upstream, "upstream", "", "the upstream `URL`, e.g. http://10.0.0.5:8080")
	f.StringVar(&o.App, "app", "", "an app's `container`, instead of --upstream")
	f.StringVar(&o.AppHost, "app-host", "", "the app's host `address` (default: the gateway's)")
	f.StringArrayVar(&o.AppInstances, "app-instance", nil, "the app's Lightsail instance `name` (default: the gateway's host); repeatable: an app on several, each a target of its upstream")
	f.StringArrayVar(&o.Paths, "path", nil, "a path `prefix` that matches (repeatable)")
	f.StringArrayVar(&o.Hostnames, "hostname", nil, "a host `name` that matches (repeatable)")
	f.StringArrayVar(&o.Methods, "method", nil, "an HTTP `method` that matches (repeatable; default all)")
	f.BoolVar(&o.StripPath, "strip-path", true, "strip the matched path prefix before proxying")
	f.BoolVar(&o.PreserveHost, "preserve-host", false, "send the client's Host header upstream")
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		host, names, err := o.hostFlags.inputs(cmd, a.getenv)
		if err != nil {
			return err
		}
		if (o.Upstream == "") == (o.App == "") {
			return usagef(cmd, "give --upstream URL or --app CONTAINER")
		}
		if len(o.Paths) == 0 && len(o.Hostnames) == 0 {
			return usagef(cmd, "give at least one --path or --hostname")
		}
		host.DryRun = o.DryRun
		body := &deploy.KongRouteInput{HostInput: host, NodesInput: o.nodes(names), Name: args[0], UpstreamURL: o.Upstream, Paths: o.Paths, Hosts: o.Hostnames,
			Methods: o.Methods, PreserveHost: o.PreserveHost}
		if cmd.Flags().Changed("strip-path") {
			body.StripPath = &o.StripPath
		}
		if o.App != "" {
			body.App = &deploy.AppRef{ContainerName: o.App, InstanceIP: o.AppHost}
			switch len(o.AppInstances) {
			case 0:
			case 1:
				body.App.InstanceName = o.AppInstances[0]
			default:
				body.App.InstanceNames = o.AppInstances
			}
		}
		return a.runHostCall(cmd, o.mutateFlags, hostCall{path: "/services/kong/routes", body: body, dryRun: o.DryRun,
			summary: kongConfigSummary, detail: printKongDiff})
	})
	return cmd
}

func (a *app) newKongRoutesRmCmd() *cobra.Command {
	o := &kongChangeOptions{}
	cmd := &cobra.Command{
		Use:     "rm NAME (--host ADDRESS --key PATH | --instance NAME)",
		Aliases: []string{"remove"},
		Short:   "Remove a service and its routes by name",
		Args:    exactArgs(1, "one route NAME"),
	}
	o.add(cmd)
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		host, names, err := o.hostFlags.inputs(cmd, a.getenv)
		if err != nil {
			return err
		}
		q := hostQuery(host)
		if len(names) > 0 {
			q.Set("instance_names", strings.Join(names, ","))
		}
		if o.GatewayName != "" {
			q.Set("gateway", o.GatewayName)
		}
		if o.DryRun {
			q.Set("dry_run", "true")
		}
		return a.runHostCall(cmd, o.mutateFlags, hostCall{method: http.MethodDelete, path: "/services/kong/routes/" + url.PathEscape(args[0]),
			query: q, dryRun: o.DryRun, summary: kongConfigSummary, detail: printKongDiff})
	})
	return cmd
}
