package cli

import (
	"fmt"
	"net/url"

	"github.com/spf13/cobra"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/api"
)

func (a *app) newSSHCmd() *cobra.Command {
	cmd := a.newGroupCmd("ssh", "The SSH host keys Fountain trusts")
	cmd.GroupID = "client"
	cmd.Long = "Fountain verifies every host it logs in to: keys are pinned from Lightsail for its instances, else the\n" +
		"first key seen is trusted (trust on first use). A host showing another key is refused.\n" +
		"List the trusted keys, or forget a host's keys after the machine behind its address was replaced."
	a.addClientFlags(cmd)
	cmd.AddCommand(a.newSSHHostKeysCmd(), a.newSSHForgetCmd())
	return cmd
}

// sshHostKeysOptions are the flags of `ssh host-keys`.
type sshHostKeysOptions struct {
	Host string
	JSON bool
}

func (a *app) newSSHHostKeysCmd() *cobra.Command {
	o := &sshHostKeysOptions{}
	cmd := &cobra.Command{
		Use:   "host-keys [--host ADDRESS[:PORT]]",
		Short: "List the trusted SSH host keys (GET /ssh/host-keys)",
		Args:  cobra.NoArgs,
	}
	cmd.Flags().StringVar(&o.Host, "host", "", "only the keys of this host, `address[:port]` (default port 22)")
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print the API's JSON answer")
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		c, err := a.newClient()
		if err != nil {
			return err
		}
		var q url.Values
		if o.Host != "" {
			q = url.Values{"host": {o.Host}}
		}
		var out struct {
			Keys []fountain.HostKey `json:"keys"`
		}
		raw, err := c.get(cmd.Context(), "/ssh/host-keys", q, &out)
		if err != nil {
			return err
		}
		if o.JSON {
			return writeJSON(a.io.Out, raw)
		}
		if len(out.Keys) == 0 {
			fmt.Fprintln(a.io.ErrOut, "No trusted host keys.")
			return nil
		}
		t := newTable(a.io.Out)
		fmt.Fprintln(t, "HOST\tALGORITHM\tFINGERPRINT\tSOURCE\tSINCE")
		for _, k := range out.Keys {
			fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%s\n", k.Host, k.Algorithm, k.FingerprintSHA256, k.Source, fmtTime(k.CreatedAt))
		}
		return t.Flush()
	})
	return cmd
}

// sshForgetOptions are the flags of `ssh forget`.
type sshForgetOptions struct {
	Host string
	mutateFlags
}

func (a *app) newSSHForgetCmd() *cobra.Command {
	o := &sshForgetOptions{}
	cmd := &cobra.Command{
		Use:   "forget ADDRESS[:PORT]",
		Short: "Forget a host's trusted SSH keys (POST /ssh/forget-host-key)",
		Long: "Forget the keys trusted for a host, e.g. after the instance behind its address was replaced.\n" +
			"The next connection pins Lightsail's keys, or trusts the first key it is shown.",
		Args: exactArgs(1, "one host ADDRESS[:PORT]"),
	}
	o.mutateFlags.add(cmd)
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		o.Host = args[0]
		c, err := a.newClient()
		if err != nil {
			return err
		}
		res, raw, err := c.mutate(cmd.Context(), "/ssh/forget-host-key", api.ForgetHostKeyInput{Host: o.Host}, o.Async)
		if err != nil {
			return err
		}
		return a.printMutation(o.mutateFlags, res, raw)
	})
	return cmd
}
