package cli

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/fountainai/fountain/api"
)

// openAPIOptions are the flags of `fountain openapi`.
type openAPIOptions struct {
	YAML bool
}

func (a *app) newOpenAPICmd() *cobra.Command {
	o := &openAPIOptions{}
	cmd := &cobra.Command{
		Use:   "openapi",
		Short: "Print the API's OpenAPI document",
		Long:  "Print the OpenAPI 3.1 document of Fountain's HTTP API, as indented JSON or, with --yaml, YAML.\nNo server is needed.",
		Args:  cobra.NoArgs,
	}
	cmd.Flags().BoolVar(&o.YAML, "yaml", false, "print YAML instead of JSON")
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		doc := api.New(api.Deps{}).OpenAPI()
		var (
			b   []byte
			err error
		)
		if o.YAML {
			b, err = doc.YAML()
		} else {
			b, err = json.MarshalIndent(doc, "", "  ")
			b = append(b, '\n')
		}
		if err != nil {
			return fmt.Errorf("render the OpenAPI document: %w", err)
		}
		_, err = a.io.Out.Write(b)
		return err
	})
	return cmd
}
