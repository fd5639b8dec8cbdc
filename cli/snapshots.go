package cli

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fountainai/fountain/lightsail"
)

func (a *app) newSnapshotsCmd() *cobra.Command {
	cmd := a.newGroupCmd("snapshots", "Manage Lightsail instance snapshots")
	cmd.Aliases = []string{"snapshot"}
	cmd.Long = "Take, list and delete snapshots of Lightsail instances, and turn automatic daily snapshots on or off.\n\n" +
		"A snapshot is the instance's whole disk: `fountain instances create NAME --from-snapshot SNAPSHOT` makes\n" +
		"a new instance with the same files, Docker images, containers and volumes. Snapshots are billed per\n" +
		"GB-month ($0.05) until deleted; `fountain cost` lists them."
	a.addClientFlags(cmd)
	cmd.AddCommand(a.newSnapshotsCreateCmd(), a.newSnapshotsListCmd(), a.newSnapshotsRmCmd(), a.newSnapshotsAutoCmd())
	return cmd
}

// snapshotsCreateOptions are the flags of `snapshots create`.
type snapshotsCreateOptions struct {
	Instance string
	Name     string
	Region   string
	Wait     bool
	DryRun   bool
	mutateFlags
}

func (a *app) newSnapshotsCreateCmd() *cobra.Command {
	o := &snapshotsCreateOptions{}
	cmd := &cobra.Command{
		Use:     "create INSTANCE",
		Short:   "Snapshot an instance",
		Example: "  fountain snapshots create web-1 --name web-1-before-upgrade --wait",
		Args:    exactArgs(1, "one INSTANCE name"),
	}
	f := cmd.Flags()
	f.StringVar(&o.Name, "name", "", "the snapshot's `name` (default: INSTANCE-<UTC date and time>)")
	f.StringVar(&o.Region, "region", "", "AWS `region` (default: the server's)")
	f.BoolVar(&o.Wait, "wait", false, "wait until the snapshot is available")
	f.BoolVar(&o.DryRun, "dry-run", false, "only print the plan (and what it would cost a month) and change nothing")
	o.mutateFlags.add(cmd)
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		o.Instance = args[0]
		body := lightsail.CreateSnapshotInput{InstanceName: o.Instance, SnapshotName: o.Name, Region: o.Region, Wait: o.Wait, DryRun: o.DryRun}
		return a.mutation(cmd, o.mutateFlags, "/aws/lightsail/create-instance-snapshot", body, func(raw json.RawMessage) {
			var res lightsail.SnapshotResult
			if json.Unmarshal(raw, &res) == nil && res.Snapshot != nil {
				s := res.Snapshot
				fmt.Fprintf(a.io.Out, "Snapshot %s of %s is %s (%d GB, about %s a month).\n", s.Name, s.FromInstance, s.State, s.SizeGB, money(s.PriceMonthly))
			}
		})
	})
	return cmd
}

// snapshotsListOptions are the flags of `snapshots list`.
type snapshotsListOptions struct {
	Region string
	JSON   bool
}

func (a *app) newSnapshotsListCmd() *cobra.Command {
	o := &snapshotsListOptions{}
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the region's instance snapshots, with their monthly cost",
		Args:    cobra.NoArgs,
	}
	cmd.Flags().StringVar(&o.Region, "region", "", "AWS `region` (default: the server's)")
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print the API's JSON answer")
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		c, err := a.newClient()
		if err != nil {
			return err
		}
		var out struct {
			Region    string               `json:"region"`
			Snapshots []lightsail.Snapshot `json:"snapshots"`
			TotalUSD  float64              `json:"total_monthly_usd"`
		}
		raw, err := c.get(cmd.Context(), "/aws/lightsail/snapshots", regionQuery(o.Region), &out)
		if err != nil {
			return err
		}
		if o.JSON {
			return writeJSON(a.io.Out, raw)
		}
		if len(out.Snapshots) == 0 {
			fmt.Fprintf(a.io.ErrOut, "No snapshots in %s.\n", out.Region)
			return nil
		}
		t := newTable(a.io.Out)
		fmt.Fprintln(t, "NAME\tSTATE\tFROM INSTANCE\tBLUEPRINT\tBUNDLE\tSIZE\tCREATED\tMONTHLY")
		for _, s := range out.Snapshots {
			created := "-"
			if s.CreatedAt != nil {
				created = fmtTime(*s.CreatedAt)
			}
			state := s.State
			if s.Automatic {
				state += " (auto)"
			}
			fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%s\t%d GB\t%s\t%s\n", s.Name, state, s.FromInstance, s.FromBlueprintID, s.FromBundleID, s.SizeGB, created, money(s.PriceMonthly))
		}
		fmt.Fprintf(t, "TOTAL (%s)\t\t\t\t\t\t\t%s\n", out.Region, money(out.TotalUSD))
		return t.Flush()
	})
	return cmd
}

func (a *app) newSnapshotsRmCmd() *cobra.Command {
	return a.newDeleteCmd(deleteCmd{
		use: "rm SNAPSHOT", args: "one SNAPSHOT name", what: "snapshot",
		short: "Delete a snapshot",
		long:  "Delete an instance snapshot. This cannot be undone.",
		ask:   "Delete snapshot %s? This cannot be undone.",
		route: "/aws/lightsail/delete-instance-snapshot",
		body: func(name, region string, dry bool) any {
			return lightsail.SnapshotInput{SnapshotName: name, Region: region, DryRun: dry}
		},
	})
}

// deleteCmd describes a command that deletes one Lightsail resource by
// name, after the user types the name (or --yes).
type deleteCmd struct {
	use, args, what  string // the usage line, what Args says is missing, the resource's kind
	short, long, ask string // ask is the question, with %s for the name
	route            string
	body             func(name, region string, dry bool) any
}

// newDeleteCmd is the command deleteCmd describes: --region, --yes,
// --dry-run and the mutation flags; on a terminal it asks for the
// resource's name to be typed.
func (a *app) newDeleteCmd(d deleteCmd) *cobra.Command {
	var region string
	var yes, dry bool
	var mf mutateFlags
	cmd := &cobra.Command{
		Use:     d.use,
		Aliases: []string{"delete"},
		Short:   d.short,
		Long:    d.long + "\n\nOn a terminal, you are asked to type the " + d.what + "'s name to confirm; elsewhere, pass --yes.",
		Args:    exactArgs(1, d.args),
	}
	f := cmd.Flags()
	f.StringVar(&region, "region", "", "AWS `region` (default: the server's)")
	f.BoolVarP(&yes, "yes", "y", false, "delete without asking for confirmation")
	f.BoolVar(&dry, "dry-run", false, "only print the plan and change nothing")
	mf.add(cmd)
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		name := args[0]
		if !yes && !dry {
			if err := a.confirmName(cmd, d.what, name, fmt.Sprintf(d.ask, name)); err != nil {
				return err
			}
		}
		return a.mutation(cmd, mf, d.route, d.body(name, region, dry), nil)
	})
	return cmd
}

func (a *app) newSnapshotsAutoCmd() *cobra.Command {
	cmd := a.newGroupCmd("auto", "Turn automatic daily snapshots of an instance on or off")
	cmd.Long = "Lightsail's AutoSnapshot add-on snapshots an instance every day at a time you choose (UTC, on the hour)\n" +
		"and keeps the last seven. Turning it on is free; the snapshots' storage is billed per GB-month."
	for _, enable := range []bool{true, false} {
		cmd.AddCommand(a.newSnapshotsAutoVerbCmd(enable))
	}
	return cmd
}

// snapshotsAutoOptions are the flags of `snapshots auto enable|disable`.
type snapshotsAutoOptions struct {
	Instance string
	At       string
	Region   string
	DryRun   bool
	mutateFlags
}

func (a *app) newSnapshotsAutoVerbCmd(enable bool) *cobra.Command {
	o := &snapshotsAutoOptions{}
	verb, path, short := "disable", "/aws/lightsail/disable-auto-snapshot", "Turn automatic snapshots off"
	if enable {
		verb, path, short = "enable", "/aws/lightsail/enable-auto-snapshot", "Turn automatic snapshots on (or change their time)"
	}
	cmd := &cobra.Command{
		Use:   verb + " INSTANCE",
		Short: short,
		Args:  exactArgs(1, "one INSTANCE name"),
	}
	f := cmd.Flags()
	if enable {
		f.StringVar(&o.At, "at", "", "the `time` of day, HH:00 UTC (default 06:00)")
		cmd.Example = "  fountain snapshots auto enable web-1 --at 03:00"
	}
	f.StringVar(&o.Region, "region", "", "AWS `region` (default: the server's)")
	f.BoolVar(&o.DryRun, "dry-run", false, "only print the plan and change nothing")
	o.mutateFlags.add(cmd)
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		o.Instance = args[0]
		body := lightsail.AutoSnapshotInput{InstanceName: o.Instance, TimeOfDay: o.At, Region: o.Region, DryRun: o.DryRun}
		return a.mutation(cmd, o.mutateFlags, path, body, nil)
	})
	return cmd
}

// mutation makes a mutating call and prints its answer as m asks; more,
// if set, prints more from the operation's result (human output only).
func (a *app) mutation(cmd *cobra.Command, m mutateFlags, path string, body any, more func(result json.RawMessage)) error {
	c, err := a.newClient()
	if err != nil {
		return err
	}
	res, raw, err := c.mutate(cmd.Context(), path, body, m.Async)
	if err != nil {
		return err
	}
	if err := a.printMutation(m, res, raw); err != nil || m.JSON || m.Async {
		return err
	}
	if more != nil && res.Operation != nil {
		more(res.Operation.Result)
	}
	return nil
}

// confirmName asks the person at the terminal to type a name to confirm
// a deletion. Without a terminal it refuses: scripts must say --yes.
func (a *app) confirmName(cmd *cobra.Command, what, name, question string) error {
	if !a.io.CanPrompt() {
		return usagef(cmd, "refusing to delete %s %s without confirmation: stdin is not a terminal, so pass --yes", what, name)
	}
	answer, err := a.io.Prompt(fmt.Sprintf("%s\nType %s to confirm: ", question, name))
	if err != nil {
		return &exitError{code: ExitUsage, msg: "not deleted: " + err.Error()}
	}
	if strings.TrimSpace(answer) != name {
		return &exitError{code: ExitUsage, msg: fmt.Sprintf("not deleted: %q does not match %q", strings.TrimSpace(answer), name)}
	}
	return nil
}
