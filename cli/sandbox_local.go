package cli

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/fountainai/fountain/sandbox"
	"github.com/fountainai/fountain/server"
)

// sandboxLocalOptions are the flags of the sandbox verbs that act on Docker
// directly (build, down): they need no running server.
type sandboxLocalOptions struct {
	DataDir    string
	Namespace  string
	Docker     bool // build: the flavour with Docker preinstalled
	KeepImages bool // down: keep the registry's pushed images
}

func (a *app) localSandboxFlags(cmd *cobra.Command, o *sandboxLocalOptions) {
	f := cmd.Flags()
	f.StringVar(&o.DataDir, "data-dir", a.env("FOUNTAIN_DATA_DIR", server.DefaultDataDir(a.getenv)), "data `directory` (env FOUNTAIN_DATA_DIR)")
	f.StringVar(&o.Namespace, "namespace", sandbox.DefaultNamespace, "sandbox `namespace` (tests use their own)")
	_ = f.MarkHidden("namespace")
}

func (a *app) openSandbox(cmd *cobra.Command, o *sandboxLocalOptions) (*sandbox.Sandbox, error) {
	sb, err := sandbox.New(cmd.Context(), sandbox.Config{DataDir: o.DataDir, Namespace: o.Namespace,
		Logf: func(format string, args ...any) { fmt.Fprintf(a.io.ErrOut, format+"\n", args...) }})
	if err != nil {
		return nil, fmt.Errorf("%w (is Docker installed and running? scripts/ensure-docker sets it up on Debian)", err)
	}
	return sb, nil
}

func (a *app) newSandboxBuildCmd() *cobra.Command {
	o := &sandboxLocalOptions{}
	cmd := &cobra.Command{
		Use:   "build",
		Short: "Build the sandbox host image",
		Long: "Build the image of the Lightsail-like local hosts (systemd, OpenSSH, a sudo user ubuntu), from\n" +
			"ubuntu:24.04 when it is present locally, or else from a Debian root filesystem made with debootstrap\n" +
			"from this machine's apt mirror. The image is tagged by a hash of its recipe and base, so an\n" +
			"unchanged image is not rebuilt. `fountain serve --sandbox` builds it too, in the background.",
		Args: cobra.NoArgs,
	}
	a.localSandboxFlags(cmd, o)
	cmd.Flags().BoolVar(&o.Docker, "docker", false, "build the flavour with Docker preinstalled (for benchmarks)")
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		sb, err := a.openSandbox(cmd, o)
		if err != nil {
			return err
		}
		defer sb.Close()
		flavour := sandbox.FlavourPlain
		if o.Docker {
			flavour = sandbox.FlavourDocker
		}
		start := time.Now()
		img, err := sb.EnsureImage(cmd.Context(), flavour)
		if err != nil {
			return err
		}
		fmt.Fprintf(a.io.Out, "Host image %s is ready (%s)\n", img.Tag, time.Since(start).Round(100*time.Millisecond))
		return nil
	})
	return cmd
}

func (a *app) newSandboxDownCmd() *cobra.Command {
	o := &sandboxLocalOptions{}
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Remove every sandbox host, volume, network and the registry's images",
		Long: "Remove every container, volume and network that Fountain's sandbox created (found by their labels;\n" +
			"nothing else is touched), and the local registry's stored images unless --keep-images. The host\n" +
			"image stays as a build cache. Stop `fountain serve --sandbox` first: its emulator still lists the\n" +
			"instances whose hosts are gone.",
		Args: cobra.NoArgs,
	}
	a.localSandboxFlags(cmd, o)
	cmd.Flags().BoolVar(&o.KeepImages, "keep-images", false, "keep the images pushed to the sandbox registry")
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		sb, err := a.openSandbox(cmd, o)
		if err != nil {
			return err
		}
		defer sb.Close()
		before, err := sb.Leftovers(cmd.Context())
		if err != nil {
			return err
		}
		if err := sb.Down(cmd.Context()); err != nil {
			return err
		}
		left, err := sb.Leftovers(cmd.Context())
		if err != nil {
			return err
		}
		if len(left) > 0 {
			return fmt.Errorf("sandbox down left %v behind", left)
		}
		for _, l := range before {
			fmt.Fprintf(a.io.Out, "removed %s\n", l)
		}
		if !o.KeepImages {
			if err := os.RemoveAll(sandbox.RegistryDir(o.DataDir)); err != nil {
				return fmt.Errorf("remove registry data: %w", err)
			}
		}
		fmt.Fprintf(a.io.Out, "Sandbox %s is down: %d resources removed\n", o.Namespace, len(before))
		return nil
	})
	return cmd
}
