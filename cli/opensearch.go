package cli

import (
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/fountainai/fountain/deploy"
)

func (a *app) newOpenSearchCmd() *cobra.Command {
	cmd := a.newGroupCmd("opensearch", "OpenSearch Fountain deployed: health, snapshots, clusters")
	cmd.GroupID = "client"
	cmd.Long = "OpenSearch on a host, deployed with `fountain deploy opensearch`: its cluster health and its snapshots,\n" +
		"through an SSH tunnel with the admin password Fountain keeps; and clusters across instances.\n\n" + hostFlagsHelp
	a.addClientFlags(cmd)
	cmd.AddCommand(a.newOpenSearchHealthCmd(), a.newOpenSearchSnapshotCmd(), a.newOpenSearchClusterCmd())
	return cmd
}

func (a *app) newOpenSearchHealthCmd() *cobra.Command {
	o := &hostReadFlags{}
	cmd := &cobra.Command{
		Use:   "health (--host ADDRESS --key PATH | --instance NAME)",
		Short: "Show the cluster health and version (GET /services/opensearch/health)",
		Long: "Show the cluster health, version, nodes and shards of the OpenSearch Fountain deployed on a host.\n" +
			"Exits 1 when the cluster is red, 4 when Fountain has not deployed OpenSearch there.",
		Args: cobra.NoArgs,
	}
	o.add(cmd, "")
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		var h deploy.OpenSearchHealth
		raw, err := a.hostGet(cmd, &o.hostFlags, "/services/opensearch/health", nil, &h)
		if err != nil {
			return err
		}
		if o.JSON {
			err = writeJSON(a.io.Out, raw)
		} else {
			via := ""
			if h.ThroughTunnel {
				via = "an SSH tunnel (OpenSearch is not reached over the internet)"
			}
			printFields(a.io.Out, [][2]string{
				{"Host", h.Host},
				{"Cluster", h.ClusterName},
				{"Status", h.Status},
				{"Version", h.Version},
				{"Nodes", strconv.Itoa(h.Nodes)},
				{"Active shards", strconv.Itoa(h.ActiveShards)},
				{"Unassigned shards", strconv.Itoa(h.Unassigned)},
				{"Tagline", h.Tagline},
				{"Asked through", via},
			})
		}
		if err == nil && h.Status == "red" {
			return &exitError{code: ExitError, msg: fmt.Sprintf("the cluster %s on %s is red", h.ClusterName, h.Host)}
		}
		return err
	})
	return cmd
}
