package cli

import (
	"encoding/json"

	"github.com/spf13/cobra"

	"github.com/fountainai/fountain"
	"github.com/fountainai/fountain/lightsail"
)

// newAWSCmd is the `aws` noun: what Fountain needs from an AWS account.
func (a *app) newAWSCmd() *cobra.Command {
	cmd := a.newGroupCmd("aws", "What Fountain needs from an AWS account")
	cmd.AddCommand(a.newAWSPolicyCmd())
	return cmd
}

// awsPolicyOptions are the flags of `aws policy`.
type awsPolicyOptions struct {
	Region  string
	Account string
}

func (a *app) newAWSPolicyCmd() *cobra.Command {
	o := &awsPolicyOptions{}
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Print the least-privilege IAM policy for Fountain's Lightsail calls",
		Long: "Print the IAM policy (JSON, ready to paste) that allows every Lightsail call Fountain makes and nothing else.\n" +
			"It is made from the table every call is checked against when it is sent, so it cannot drift from the code.\n" +
			"Reads, and the writes IAM cannot limit (CreateInstances, AllocateStaticIp, DownloadDefaultKeyPair), are on *;\n" +
			"the others on instance and static IP ARNs. --region and --account narrow them (with --region, the * statements\n" +
			"are limited to it by aws:RequestedRegion). Needs no server: the same policy is GET /aws/policy.",
		Example: "  fountain aws policy > fountain-policy.json\n" +
			"  fountain aws policy --region eu-central-1 --account 123456789012\n" +
			"  aws iam put-user-policy --user-name fountain --policy-name fountain --policy-document file://fountain-policy.json",
		Args: cobra.NoArgs,
	}
	cmd.Flags().StringVar(&o.Region, "region", "", "limit every action to this Lightsail `region`")
	cmd.Flags().StringVar(&o.Account, "account", "", "the 12-digit AWS `account` ID in the ARNs")
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		p, err := lightsail.MakePolicy(lightsail.PolicyOptions{Region: o.Region, Account: o.Account})
		if err != nil {
			return usagef(cmd, "%s", fountain.ErrorMessage(err))
		}
		b, err := json.MarshalIndent(p, "", "  ")
		if err != nil {
			return err
		}
		_, err = a.io.Out.Write(append(b, '\n'))
		return err
	})
	return cmd
}
