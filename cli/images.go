package cli

import (
	"fmt"
	"net/url"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/fountainai/fountain/github/ghcr"
)

func (a *app) newImagesCmd() *cobra.Command {
	cmd := a.newGroupCmd("images", "Inspect container images in GHCR")
	cmd.Aliases = []string{"image"}
	cmd.Long = "List the tags of an image in GitHub Container Registry with their digests and creation times,\n" +
		"to deploy exactly one of them by digest (in sandbox mode, ghcr.io is the sandbox registry)."
	a.addClientFlags(cmd)
	cmd.AddCommand(a.newImagesTagsCmd())
	return cmd
}

// imagesTagsOptions are the flags of `images tags`.
type imagesTagsOptions struct {
	Image string
	Limit int
	JSON  bool
}

func (a *app) newImagesTagsCmd() *cobra.Command {
	o := &imagesTagsOptions{}
	cmd := &cobra.Command{
		Use:     "tags IMAGE",
		Short:   "List an image's tags, newest first, with digests",
		Example: "  fountain images tags ghcr.io/octocat/my-app\n  fountain images tags ghcr.io/octocat/my-app --limit 5 --json",
		Args:    exactArgs(1, "one IMAGE, e.g. ghcr.io/OWNER/NAME"),
	}
	cmd.Flags().IntVar(&o.Limit, "limit", 0, "describe at most `n` tags (default and most: 100)")
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print the API's JSON answer")
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		o.Image = args[0]
		c, err := a.newClient()
		if err != nil {
			return err
		}
		q := url.Values{"image": {o.Image}}
		if o.Limit > 0 {
			q.Set("limit", strconv.Itoa(o.Limit))
		}
		var out ghcr.TagList
		raw, err := c.get(cmd.Context(), "/github/packages/tags", q, &out)
		if err != nil {
			return err
		}
		if o.JSON {
			return writeJSON(a.io.Out, raw)
		}
		if len(out.Tags) == 0 {
			fmt.Fprintf(a.io.ErrOut, "No tags in %s.\n", out.Image)
			return nil
		}
		t := newTable(a.io.Out)
		fmt.Fprintln(t, "TAG\tDIGEST\tCREATED")
		for _, tag := range out.Tags {
			created := "-"
			if tag.Created != nil {
				created = fmtTime(*tag.Created)
			}
			digest := tag.Digest
			if tag.Error != "" {
				digest = "(" + tag.Error + ")"
			}
			fmt.Fprintf(t, "%s\t%s\t%s\n", tag.Name, digest, created)
		}
		if err := t.Flush(); err != nil {
			return err
		}
		if out.Truncated {
			fmt.Fprintf(a.io.ErrOut, "Showing %d of %d tags (--limit).\n", len(out.Tags), out.Total)
		}
		if a.io.StdoutTTY {
			fmt.Fprintf(a.io.ErrOut, "Deploy one exactly by digest: %s@%s\n", out.Image, out.Tags[0].Digest)
		}
		return nil
	})
	return cmd
}
