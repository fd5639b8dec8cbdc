package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/fountainai/fountain/lightsail"
)

// costOptions are the flags of `fountain cost`.
type costOptions struct {
	Region string
	JSON   bool
}

func (a *app) newCostCmd() *cobra.Command {
	o := &costOptions{}
	cmd := &cobra.Command{
		Use:   "cost",
		Short: "Show the monthly cost of the region's resources",
		Long: "Show what the region's instances, unattached static IPs, instance snapshots (per GB-month) and load balancers\n" +
			"cost a month, per resource and in total (US dollars).",
		Args: cobra.NoArgs,
	}
	a.addClientFlags(cmd)
	cmd.Flags().StringVar(&o.Region, "region", "", "AWS `region` (default: the server's)")
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print the API's JSON answer")
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		c, err := a.newClient()
		if err != nil {
			return err
		}
		var cost lightsail.Cost
		raw, err := c.get(cmd.Context(), "/aws/lightsail/cost", regionQuery(o.Region), &cost)
		if err != nil {
			return err
		}
		if o.JSON {
			return writeJSON(a.io.Out, raw)
		}
		t := newTable(a.io.Out)
		fmt.Fprintln(t, "RESOURCE\tTYPE\tPLAN\tMONTHLY")
		for _, it := range cost.Items {
			fmt.Fprintf(t, "%s\t%s\t%s\t%s\n", it.Resource, it.Type, it.Plan, money(it.Monthly))
		}
		fmt.Fprintf(t, "TOTAL (%s)\t\t\t%s\n", cost.Region, money(cost.TotalUSD))
		return t.Flush()
	})
	return cmd
}
