package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fountainai/fountain/api"
	"github.com/fountainai/fountain/lightsail"
)

func (a *app) newInstancesCmd() *cobra.Command {
	cmd := a.newGroupCmd("instances", "Manage Lightsail instances")
	cmd.Aliases = []string{"instance"}
	cmd.Long = "List, show, create, start, stop, reboot and delete Lightsail instances.\n\n" +
		"Every change is idempotent: stopping a stopped instance, say, succeeds and reports `unchanged`.\n" +
		"--region defaults to the server's region."
	a.addClientFlags(cmd)
	cmd.AddCommand(a.newInstancesListCmd(), a.newInstancesShowCmd(), a.newInstancesCreateCmd())
	for _, v := range []struct{ verb, short string }{
		{"start", "Start a stopped instance"},
		{"stop", "Stop a running instance"},
		{"reboot", "Reboot a running instance"},
		{"delete", "Delete an instance and its disk"},
	} {
		cmd.AddCommand(a.newInstanceActionCmd(v.verb, v.short))
	}
	return cmd
}

// mutateFlags are the output flags every mutating verb has.
type mutateFlags struct {
	Async bool
	JSON  bool
}

func (m *mutateFlags) add(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&m.Async, "async", false, "return at once and print the operation id (Prefer: respond-async)")
	cmd.Flags().BoolVar(&m.JSON, "json", false, "print the API's JSON answer")
}

// printMutation prints the answer of a mutating call as m asks.
func (a *app) printMutation(m mutateFlags, res api.OperationResult, raw []byte) error {
	switch {
	case m.JSON:
		return writeJSON(a.io.Out, raw)
	case m.Async:
		fmt.Fprintln(a.io.Out, res.Operation.ID)
		if a.io.StdoutTTY {
			fmt.Fprintf(a.io.ErrOut, "Operation %s accepted; follow it with: fountain ops logs %s --follow\n", res.Operation.ID, res.Operation.ID)
		}
	default:
		printResult(a.io.Out, res)
	}
	return nil
}

// instancesListOptions are the flags of `instances list`.
type instancesListOptions struct {
	Region string
	JSON   bool
}

func (a *app) newInstancesListCmd() *cobra.Command {
	o := &instancesListOptions{}
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the region's instances",
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
			Instances []lightsail.Instance `json:"instances"`
		}
		raw, err := c.get(cmd.Context(), "/aws/lightsail/instances", regionQuery(o.Region), &out)
		if err != nil {
			return err
		}
		if o.JSON {
			return writeJSON(a.io.Out, raw)
		}
		if len(out.Instances) == 0 {
			fmt.Fprintf(a.io.ErrOut, "No instances in %s.\n", out.Region)
			return nil
		}
		printInstances(a.io.Out, out.Instances)
		return nil
	})
	return cmd
}

// printInstances prints one line per instance.
func printInstances(w io.Writer, insts []lightsail.Instance) {
	t := newTable(w)
	fmt.Fprintln(t, "NAME\tSTATE\tZONE\tBLUEPRINT\tBUNDLE\tPUBLIC IP\tMONTHLY")
	for _, in := range insts {
		ip := in.PublicIP
		if ip == "" {
			ip = "-"
		} else if in.IsStaticIP {
			ip += " (static)"
		}
		fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", in.Name, in.State, in.AvailabilityZone, in.BlueprintID, in.BundleID, ip, money(in.PriceMonthly))
	}
	t.Flush()
}

// instancesShowOptions are the flags of `instances show`.
type instancesShowOptions struct {
	Name   string
	Region string
	JSON   bool
}

func (a *app) newInstancesShowCmd() *cobra.Command {
	o := &instancesShowOptions{}
	cmd := &cobra.Command{
		Use:   "show NAME",
		Short: "Show an instance, with its SSH host keys",
		Args:  exactArgs(1, "one instance NAME"),
	}
	cmd.Flags().StringVar(&o.Region, "region", "", "AWS `region` (default: the server's)")
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print the API's JSON answer")
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		o.Name = args[0]
		c, err := a.newClient()
		if err != nil {
			return err
		}
		var inst lightsail.Instance
		raw, err := c.get(cmd.Context(), "/aws/lightsail/instances/"+url.PathEscape(o.Name), regionQuery(o.Region), &inst)
		if err != nil {
			return err
		}
		if o.JSON {
			return writeJSON(a.io.Out, raw)
		}
		printInstance(a.io.Out, inst)
		return nil
	})
	return cmd
}

// printInstance prints one instance, field by field.
func printInstance(w io.Writer, in lightsail.Instance) {
	ip := in.PublicIP
	if ip != "" && in.IsStaticIP {
		ip += " (static)"
	}
	created := ""
	if in.CreatedAt != nil {
		created = fmtTime(*in.CreatedAt)
	}
	tags := make([]string, 0, len(in.Tags))
	for k, v := range in.Tags {
		tags = append(tags, k+"="+v)
	}
	sort.Strings(tags)
	ports := make([]string, 0, len(in.Ports))
	for _, p := range in.Ports {
		r := fmt.Sprint(p.FromPort)
		if p.ToPort != p.FromPort {
			r += fmt.Sprintf("-%d", p.ToPort)
		}
		r += "/" + p.Protocol
		if len(p.Cidrs) > 0 {
			r += " from " + strings.Join(p.Cidrs, ",")
		}
		ports = append(ports, r)
	}
	printFields(w, [][2]string{
		{"Name", in.Name},
		{"State", in.State},
		{"Region", in.Region},
		{"Zone", in.AvailabilityZone},
		{"Blueprint", in.BlueprintID},
		{"Bundle", fmt.Sprintf("%s (%s a month)", in.BundleID, money(in.PriceMonthly))},
		{"Public IP", ip},
		{"Private IP", in.PrivateIP},
		{"SSH user", in.Username},
		{"SSH key", in.SSHKeyName},
		{"Created", created},
		{"Tags", strings.Join(tags, ", ")},
		{"Ports", strings.Join(ports, "; ")},
	})
	if len(in.SSHHostKeys) > 0 {
		fmt.Fprintln(w, "SSH host keys:")
		t := newTable(w)
		for _, k := range in.SSHHostKeys {
			fmt.Fprintf(t, "  %s\t%s\n", k.Algorithm, k.FingerprintSHA256)
		}
		t.Flush()
	}
}

// instancesCreateOptions are the flags of `instances create`.
type instancesCreateOptions struct {
	Name         string
	FromSnapshot string
	Blueprint    string
	Bundle       string
	Zone         string
	Region       string
	KeyPair      string
	StaticIP     bool
	Wait         bool
	WaitTimeout  time.Duration
	Tags         []string
	mutateFlags
}

func (a *app) newInstancesCreateCmd() *cobra.Command {
	o := &instancesCreateOptions{}
	cmd := &cobra.Command{
		Use:   "create NAME (--blueprint ID | --from-snapshot SNAPSHOT) --bundle ID --zone ZONE",
		Short: "Create an instance",
		Long: "Create an instance, idempotently: if one of the same name exists with the same blueprint, bundle and zone,\n" +
			"nothing changes; with other settings, the server answers a conflict.\n\n" +
			"--from-snapshot creates it from a snapshot (fountain snapshots list) in place of a blueprint: with the\n" +
			"snapshot's files, Docker images, containers and volumes. The bundle's disk must be at least the snapshot's size.",
		Example: "  fountain instances create web-1 --blueprint ubuntu_24_04 --bundle nano_3_0 --zone eu-central-1a --static-ip --tag env=dev\n" +
			"  fountain instances create web-2 --from-snapshot web-1-20250102-150405 --bundle nano_3_0 --zone eu-central-1a --wait",
		Args: exactArgs(1, "one instance NAME"),
	}
	f := cmd.Flags()
	f.StringVar(&o.Blueprint, "blueprint", "", "image `id`, e.g. ubuntu_24_04")
	f.StringVar(&o.FromSnapshot, "from-snapshot", "", "create it from this `snapshot` in place of --blueprint")
	f.StringVar(&o.Bundle, "bundle", "", "plan `id`, e.g. nano_3_0")
	f.StringVar(&o.Zone, "zone", "", "availability `zone`, e.g. eu-central-1a")
	f.StringVar(&o.Region, "region", "", "AWS `region` (default: the server's)")
	f.StringVar(&o.KeyPair, "key-pair", "", "key pair `name` that logs in (default: the region's default key pair)")
	f.BoolVar(&o.StaticIP, "static-ip", false, "allocate and attach a static IP named NAME-ip")
	f.BoolVar(&o.Wait, "wait", false, "wait until the instance runs and SSH answers")
	f.DurationVar(&o.WaitTimeout, "wait-timeout", 0, "deadline for --wait (default: the server's, 5m)")
	f.StringArrayVar(&o.Tags, "tag", nil, "tag `key=value` to set (repeatable)")
	o.mutateFlags.add(cmd)
	for _, name := range []string{"bundle", "zone"} {
		_ = cmd.MarkFlagRequired(name)
	}
	cmd.MarkFlagsMutuallyExclusive("blueprint", "from-snapshot")
	cmd.MarkFlagsOneRequired("blueprint", "from-snapshot")
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		o.Name = args[0]
		body := lightsail.CreateInstanceInput{
			InstanceName: o.Name, BlueprintID: o.Blueprint, FromSnapshot: o.FromSnapshot, BundleID: o.Bundle, Region: o.Region,
			AvailabilityZone: o.Zone, KeyPairName: o.KeyPair, StaticIP: o.StaticIP, Wait: o.Wait,
		}
		if o.WaitTimeout > 0 {
			body.WaitTimeoutSec = int((o.WaitTimeout + time.Second - 1) / time.Second)
		}
		tags, err := parseTags(o.Tags)
		if err != nil {
			return usagef(cmd, "%v", err)
		}
		body.Tags = tags
		c, err := a.newClient()
		if err != nil {
			return err
		}
		res, raw, err := c.mutate(cmd.Context(), "/aws/lightsail/create-instance", body, o.Async)
		if err != nil {
			return err
		}
		if err := a.printMutation(o.mutateFlags, res, raw); err != nil || o.JSON || o.Async {
			return err
		}
		var cr lightsail.CreateResult
		if json.Unmarshal(res.Operation.Result, &cr) == nil && cr.Instance.Name != "" {
			in := cr.Instance
			fmt.Fprintf(a.io.Out, "Instance %s is %s", in.Name, in.State)
			if in.PublicIP != "" {
				fmt.Fprintf(a.io.Out, " at %s", in.PublicIP)
			}
			fmt.Fprintf(a.io.Out, "; it costs %s a month.\n", money(in.PriceMonthly))
		}
		return nil
	})
	return cmd
}

// parseTags turns key=value flags into a map.
func parseTags(flags []string) (map[string]string, error) {
	if len(flags) == 0 {
		return nil, nil
	}
	tags := make(map[string]string, len(flags))
	for _, f := range flags {
		k, v, ok := strings.Cut(f, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--tag %q: want key=value", f)
		}
		tags[k] = v
	}
	return tags, nil
}

// instanceActionOptions are the flags of start, stop, reboot and delete.
type instanceActionOptions struct {
	Verb   string
	Name   string
	Region string
	Wait   bool
	Yes    bool // delete only: do not ask to type the name
	// Delete only: take a final snapshot first (FinalSnapshot), or not
	// (NoFinalSnapshot); neither asks on a terminal.
	FinalSnapshot, NoFinalSnapshot bool
	FinalSnapshotName              string
	mutateFlags
}

func (a *app) newInstanceActionCmd(verb, short string) *cobra.Command {
	o := &instanceActionOptions{Verb: verb}
	cmd := &cobra.Command{
		Use:   verb + " NAME",
		Short: short,
		Args:  exactArgs(1, "one instance NAME"),
	}
	f := cmd.Flags()
	f.StringVar(&o.Region, "region", "", "AWS `region` (default: the server's)")
	waitFor := map[string]string{"start": "runs", "stop": "is stopped", "reboot": "runs again", "delete": "is gone"}[verb]
	f.BoolVar(&o.Wait, "wait", false, "wait until the instance "+waitFor)
	if verb == "delete" {
		cmd.Long = "Delete an instance and its disk. This cannot be undone.\n\n" +
			"On a terminal, you are asked whether to take a final snapshot first (unless --final-snapshot or\n" +
			"--no-final-snapshot says), then to type the instance's name to confirm; elsewhere, pass --yes.\n" +
			"A final snapshot is taken and available before anything is deleted; it is billed per GB-month until\n" +
			"you delete it (fountain snapshots rm). Deleting an instance that does not exist changes nothing."
		f.BoolVarP(&o.Yes, "yes", "y", false, "delete without asking to type the name")
		f.BoolVar(&o.FinalSnapshot, "final-snapshot", false, "take a final snapshot first, without asking")
		f.BoolVar(&o.NoFinalSnapshot, "no-final-snapshot", false, "take no final snapshot, without asking")
		f.StringVar(&o.FinalSnapshotName, "final-snapshot-name", "", "the final snapshot's `name` (default: NAME-final-<UTC date and time>)")
		cmd.MarkFlagsMutuallyExclusive("final-snapshot", "no-final-snapshot")
	}
	o.mutateFlags.add(cmd)
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		o.Name = args[0]
		if o.Verb == "delete" {
			if o.FinalSnapshotName != "" && !o.NoFinalSnapshot {
				o.FinalSnapshot = true
			}
			if !o.FinalSnapshot && !o.NoFinalSnapshot && a.io.CanPrompt() {
				yes, err := a.askYesNo(fmt.Sprintf("Take a final snapshot of %s first (kept, billed per GB-month)? [y/N] ", o.Name))
				if err != nil {
					return err
				}
				o.FinalSnapshot = yes
			}
			if !o.Yes {
				if err := a.confirmDelete(cmd, o.Name); err != nil {
					return err
				}
			}
		}
		c, err := a.newClient()
		if err != nil {
			return err
		}
		body := lightsail.InstanceInput{InstanceName: o.Name, Region: o.Region, Wait: o.Wait,
			FinalSnapshot: o.FinalSnapshot, FinalSnapshotName: o.FinalSnapshotName}
		res, raw, err := c.mutate(cmd.Context(), "/aws/lightsail/"+o.Verb+"-instance", body, o.Async)
		if err != nil {
			return err
		}
		return a.printMutation(o.mutateFlags, res, raw)
	})
	return cmd
}

// askYesNo asks a y/N question on the terminal: only y or yes is yes.
func (a *app) askYesNo(question string) (bool, error) {
	answer, err := a.io.Prompt(question)
	if err != nil {
		return false, &exitError{code: ExitUsage, msg: "not deleted: " + err.Error()}
	}
	switch strings.ToLower(strings.TrimSpace(answer)) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}

// confirmDelete asks the person at the terminal to type the instance's
// name. Without a terminal it refuses: scripts must say --yes.
func (a *app) confirmDelete(cmd *cobra.Command, name string) error {
	if !a.io.CanPrompt() {
		return usagef(cmd, "refusing to delete instance %s without confirmation: stdin is not a terminal, so pass --yes", name)
	}
	answer, err := a.io.Prompt(fmt.Sprintf("Delete instance %s and its disk? This cannot be undone.\nType %s to confirm: ", name, name))
	if err != nil {
		return &exitError{code: ExitUsage, msg: "not deleted: " + err.Error()}
	}
	if strings.TrimSpace(answer) != name {
		return &exitError{code: ExitUsage, msg: fmt.Sprintf("not deleted: %q does not match %q", strings.TrimSpace(answer), name)}
	}
	return nil
}
