package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fountainai/fountain/deploy"
)

func (a *app) newAppsCmd() *cobra.Command {
	cmd := a.newGroupCmd("apps", "List, inspect, roll back and remove the Docker apps on a host")
	cmd.GroupID = "client"
	cmd.Aliases = []string{"app"}
	cmd.Long = "The Docker apps Fountain runs on a host (deployed with `fountain deploy app`): list them, print an\n" +
		"app's last lines of output, roll it back to its previous version, or remove it.\n\n" + hostFlagsHelp
	a.addClientFlags(cmd)
	cmd.AddCommand(a.newAppsListCmd(), a.newAppsLogsCmd(), a.newAppActionCmd("rollback"), a.newAppActionCmd("remove"))
	return cmd
}

func (a *app) newAppsListCmd() *cobra.Command {
	o := &hostReadFlags{}
	o.multi = "the apps across those hosts, with each app's digest per host and the drift between them"
	cmd := &cobra.Command{
		Use:     "list (--host ADDRESS --key PATH | --instance NAME...)",
		Aliases: []string{"ls"},
		Short:   "List the apps on a host (or across hosts), with image, digest, state, health and uptime",
		Args:    cobra.NoArgs,
	}
	o.add(cmd, "")
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		if len(o.Instances) > 1 {
			return a.listAppsAcross(cmd, o)
		}
		var out struct {
			Host string       `json:"host"`
			Apps []deploy.App `json:"apps"`
		}
		raw, err := a.hostGet(cmd, &o.hostFlags, "/services/docker-apps", nil, &out)
		if err != nil {
			return err
		}
		if o.JSON {
			return writeJSON(a.io.Out, raw)
		}
		if len(out.Apps) == 0 {
			fmt.Fprintf(a.io.ErrOut, "No apps on %s.\n", out.Host)
			return nil
		}
		printApps(a.io.Out, out.Apps)
		return nil
	})
	return cmd
}

// hostApps are the apps of one host, as GET /services/docker-apps answers.
type hostApps struct {
	Instance string       `json:"instance"`
	Host     string       `json:"host"`
	Apps     []deploy.App `json:"apps"`
}

// listAppsAcross lists the apps of several instances (a read each): one
// line per app and host, then, for each app on more than one host, the
// drift between them (different digests, or not running everywhere).
func (a *app) listAppsAcross(cmd *cobra.Command, o *hostReadFlags) error {
	var all []hostApps
	for _, inst := range o.Instances {
		one := o.hostFlags
		one.Instances, one.multi = []string{inst}, ""
		var out hostApps
		if _, err := a.hostGet(cmd, &one, "/services/docker-apps", nil, &out); err != nil {
			return fmt.Errorf("%s: %w", inst, err)
		}
		out.Instance = inst
		all = append(all, out)
	}
	if o.JSON {
		b, _ := json.Marshal(map[string]any{"hosts": all})
		return writeJSON(a.io.Out, b)
	}
	t := newTable(a.io.Out)
	fmt.Fprintln(t, "NAME	INSTANCE	STATE	HEALTH	IMAGE	DIGEST	UPTIME	PORTS")
	for _, h := range all {
		for _, ap := range h.Apps {
			if ap.Role != deploy.RoleCurrent {
				continue
			}
			uptime := "-"
			if ap.State == "running" {
				uptime = fmtUptime(time.Duration(ap.UptimeSeconds) * time.Second)
			}
			fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", ap.ContainerName, h.Instance, dash(ap.State), dash(ap.Health),
				dash(ap.Image), dash(shortDigest(ap.Digest)), uptime, dash(strings.Join(ap.Ports, ",")))
		}
	}
	t.Flush()
	for _, line := range appDrift(all) {
		fmt.Fprintln(a.io.Out, line)
	}
	return nil
}

// appDrift says, for each app, how its hosts differ: the digests they
// run, and the hosts where it is missing or not running.
func appDrift(all []hostApps) []string {
	type where struct{ digests, down, missing []string }
	apps := map[string]*where{}
	var names []string
	for _, h := range all {
		for _, ap := range h.Apps {
			if ap.Role != deploy.RoleCurrent {
				continue
			}
			if apps[ap.ContainerName] == nil {
				apps[ap.ContainerName] = &where{}
				names = append(names, ap.ContainerName)
			}
		}
	}
	sort.Strings(names)
	var out []string
	for _, name := range names {
		w := apps[name]
		byDigest := map[string][]string{}
		for _, h := range all {
			i := slices.IndexFunc(h.Apps, func(ap deploy.App) bool { return ap.ContainerName == name && ap.Role == deploy.RoleCurrent })
			if i < 0 {
				w.missing = append(w.missing, h.Instance)
				continue
			}
			ap := h.Apps[i]
			d := dash(shortDigest(ap.Digest))
			if d == "-" {
				d = dash(shortDigest(ap.ImageID))
			}
			byDigest[d] = append(byDigest[d], h.Instance)
			if ap.State != "running" {
				w.down = append(w.down, h.Instance)
			}
		}
		var parts []string
		if len(byDigest) > 1 {
			ds := make([]string, 0, len(byDigest))
			for d := range byDigest {
				ds = append(ds, d)
			}
			sort.Strings(ds)
			for _, d := range ds {
				verb := " run "
				if len(byDigest[d]) == 1 {
					verb = " runs "
				}
				parts = append(parts, strings.Join(byDigest[d], ", ")+verb+d)
			}
		}
		if len(w.missing) > 0 {
			parts = append(parts, "not on "+strings.Join(w.missing, ", "))
		}
		if len(w.down) > 0 {
			parts = append(parts, "not running on "+strings.Join(w.down, ", "))
		}
		if len(parts) == 0 {
			out = append(out, fmt.Sprintf("%s: the same on %d hosts", name, len(all)))
			continue
		}
		out = append(out, fmt.Sprintf("%s: DRIFT: %s", name, strings.Join(parts, "; ")))
	}
	return out
}

// printApps prints one line per app container.
func printApps(w io.Writer, apps []deploy.App) {
	t := newTable(w)
	fmt.Fprintln(t, "NAME\tROLE\tSTATE\tHEALTH\tIMAGE\tDIGEST\tUPTIME\tPORTS")
	for _, ap := range apps {
		uptime := "-"
		if ap.State == "running" {
			uptime = fmtUptime(time.Duration(ap.UptimeSeconds) * time.Second)
		}
		fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", ap.ContainerName, ap.Role, dash(ap.State), dash(ap.Health),
			dash(ap.Image), dash(shortDigest(ap.Digest)), uptime, dash(strings.Join(ap.Ports, ",")))
	}
	t.Flush()
}

// shortDigest shortens repo@sha256:<64 hex> to sha256:<12 hex>.
func shortDigest(d string) string {
	if i := strings.LastIndex(d, "@"); i >= 0 {
		d = d[i+1:]
	}
	if alg, hex, ok := strings.Cut(d, ":"); ok && len(hex) > 12 {
		return alg + ":" + hex[:12]
	}
	return d
}

// fmtUptime formats an uptime: 45s, 12m, 3h4m, 5d2h.
func fmtUptime(d time.Duration) string {
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(d.Seconds())) + "s"
	case d < time.Hour:
		return strconv.Itoa(int(d.Minutes())) + "m"
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// appsLogsOptions are the flags of `apps logs`.
type appsLogsOptions struct {
	Name string
	Tail int
	hostReadFlags
}

func (a *app) newAppsLogsCmd() *cobra.Command {
	o := &appsLogsOptions{}
	cmd := &cobra.Command{
		Use:   "logs APP (--host ADDRESS --key PATH | --instance NAME)",
		Short: "Print an app's last lines of output (stdout and stderr)",
		Args:  exactArgs(1, "one APP name"),
	}
	o.hostReadFlags.add(cmd, "")
	cmd.Flags().IntVarP(&o.Tail, "tail", "n", 0, "how many of the last `lines` (default 100, at most 10000)")
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		o.Name = args[0]
		if o.Tail < 0 {
			return usagef(cmd, "--tail %d: want a number of lines", o.Tail)
		}
		q := url.Values{}
		q.Set("container_name", o.Name)
		if o.Tail > 0 {
			q.Set("tail", strconv.Itoa(o.Tail))
		}
		var out struct {
			Lines []string `json:"lines"`
		}
		raw, err := a.hostGet(cmd, &o.hostFlags, "/services/docker-app-logs", q, &out)
		if err != nil {
			return err
		}
		if o.JSON {
			return writeJSON(a.io.Out, raw)
		}
		for _, l := range out.Lines {
			fmt.Fprintln(a.io.Out, l)
		}
		return nil
	})
	return cmd
}

// appActionOptions are the flags of `apps rollback` and `apps remove`.
type appActionOptions struct {
	Verb    string
	Name    string
	DryRun  bool
	Yes     bool     // remove only: do not ask
	Gateway []string // rollback only: the app's gateway
	Drain   time.Duration
	hostFlags
	mutateFlags
}

func (a *app) newAppActionCmd(verb string) *cobra.Command {
	o := &appActionOptions{Verb: verb}
	cmd := &cobra.Command{
		Use:  verb + " APP (--host ADDRESS --key PATH | --instance NAME)",
		Args: exactArgs(1, "one APP name"),
	}
	switch verb {
	case "rollback":
		cmd.Short = "Roll an app back to its previous version (POST /services/rollback-docker-app)"
		cmd.Long = "Swap an app back to its previous version, kept stopped on the host since the last deploy that\n" +
			"replaced it: instant, and health-gated like a deploy. Rolling back again returns to where it was.\n" +
			"An app behind Kong names its gateway (--gateway): the previous version starts beside the running one,\n" +
			"Kong moves to it once healthy, and the one rolled back from drains (--drain), then stops."
		cmd.Flags().StringArrayVar(&o.Gateway, "gateway", nil, "the Kong `instance` the app is routed through (repeatable for a gateway of several)")
		cmd.Flags().StringVar(&o.GatewayName, "gateway-name", "", "the `name` of a gateway of several --gateway (default kong)")
		cmd.Flags().DurationVar(&o.Drain, "drain", 0, "behind Kong: how long the version rolled back from keeps its requests, e.g. 30s (default 30s)")
	case "remove":
		cmd.Short = "Remove an app and its previous version from a host (POST /services/remove-docker-app)"
		cmd.Long = "Stop and remove an app's container and its kept previous version (its images stay on the host).\n" +
			"This cannot be undone: on a terminal, you are asked to type the app's name; elsewhere, pass --yes.\n" +
			"Removing an app that is not there changes nothing."
		cmd.Flags().BoolVarP(&o.Yes, "yes", "y", false, "remove without asking for confirmation")
	}
	o.hostFlags.add(cmd)
	cmd.Flags().BoolVar(&o.DryRun, "dry-run", false, "only check: print the plan and change nothing")
	o.mutateFlags.add(cmd)
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		o.Name = args[0]
		host, err := o.hostFlags.input(cmd, a.getenv)
		if err != nil {
			return err
		}
		host.DryRun = o.DryRun
		if o.Verb == "remove" && !o.Yes && !o.DryRun {
			where := host.InstanceIP
			if where == "" {
				where = "instance " + host.InstanceName
			}
			if err := a.confirmAppRemove(cmd, o.Name, where); err != nil {
				return err
			}
		}
		body := &deploy.AppInput{HostInput: host, ContainerName: o.Name, Gateway: gatewayRef(o.Gateway, o.GatewayName)}
		if cmd.Flags().Changed("drain") {
			d := int((o.Drain + time.Second - 1) / time.Second)
			body.DrainSeconds = &d
		}
		return a.runHostCall(cmd, o.mutateFlags, hostCall{path: "/services/" + o.Verb + "-docker-app", body: body, dryRun: o.DryRun, summary: rollbackSummary})
	})
	return cmd
}

// rollbackSummary says which image an app runs after a rollback.
func rollbackSummary(raw json.RawMessage) [][2]string {
	var r struct {
		ContainerName string `json:"container_name"`
		ImageID       string `json:"image_id"`
		Previous      string `json:"previous_image_id"`
	}
	if json.Unmarshal(raw, &r) != nil || r.ContainerName == "" {
		return nil
	}
	return [][2]string{{"Container", r.ContainerName}, {"Image ID", r.ImageID}, {"Previous", kept(r.Previous)}}
}

// confirmAppRemove asks the person at the terminal to type the app's name.
// Without a terminal it refuses: scripts must say --yes.
func (a *app) confirmAppRemove(cmd *cobra.Command, name, where string) error {
	if !a.io.CanPrompt() {
		return usagef(cmd, "refusing to remove app %s without confirmation: stdin is not a terminal, so pass --yes", name)
	}
	answer, err := a.io.Prompt(fmt.Sprintf("Remove app %s and its previous version from %s? This cannot be undone.\nType %s to confirm: ", name, where, name))
	if err != nil {
		return &exitError{code: ExitUsage, msg: "not removed: " + err.Error()}
	}
	if strings.TrimSpace(answer) != name {
		return &exitError{code: ExitUsage, msg: fmt.Sprintf("not removed: %q does not match %q", strings.TrimSpace(answer), name)}
	}
	return nil
}
