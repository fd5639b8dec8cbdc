package cli

import (
	"fmt"
	"net/http"
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
	Base       string // build: the base image (default: ubuntu:24.04 if present, else debootstrap)
	Pull       bool   // build: pull the base image from its registry if missing
	Docker     bool   // build: the flavour with Docker preinstalled
	KeepImages bool   // down: keep the registry's pushed images
	Force      bool   // down: even while a server seems to run the sandbox
}

func (a *app) localSandboxFlags(cmd *cobra.Command, o *sandboxLocalOptions) {
	f := cmd.Flags()
	f.StringVar(&o.DataDir, "data-dir", a.env("FOUNTAIN_DATA_DIR", server.DefaultDataDir(a.getenv)), "data `directory` (env FOUNTAIN_DATA_DIR)")
	f.StringVar(&o.Namespace, "namespace", sandbox.DefaultNamespace, "sandbox `namespace` (tests use their own)")
	_ = f.MarkHidden("namespace")
}

func (a *app) openSandbox(cmd *cobra.Command, o *sandboxLocalOptions) (*sandbox.Sandbox, error) {
	sb, err := sandbox.New(cmd.Context(), sandbox.Config{DataDir: o.DataDir, Namespace: o.Namespace,
		BaseImage: o.Base, PullBase: o.Pull,
		Logf: func(format string, args ...any) { fmt.Fprintf(a.io.ErrOut, format+"\n", args...) }})
	if err != nil {
		return nil, err
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
	cmd.Flags().StringVar(&o.Base, "base", a.getenv("FOUNTAIN_SANDBOX_BASE"), "base `image` (env FOUNTAIN_SANDBOX_BASE; default ubuntu:24.04 when present locally, else Debian made with debootstrap)")
	cmd.Flags().BoolVar(&o.Pull, "pull", false, "pull the base image from its registry when it is not present")
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
	cmd.Flags().BoolVar(&o.Force, "force", false, "go on even though a sandbox server seems to be running")
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		if !o.Force && o.Namespace == sandbox.DefaultNamespace && registryAnswers(sandbox.DefaultRegistryPush) {
			return fmt.Errorf("a sandbox server seems to be running (its registry answers at %s): stop `fountain serve --sandbox` first, or pass --force", sandbox.DefaultRegistryPush)
		}
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

// registryAnswers reports whether a registry answers at addr (loopback).
func registryAnswers(addr string) bool {
	c := http.Client{Timeout: time.Second}
	res, err := c.Get("http://" + addr + "/v2/")
	if err != nil {
		return false
	}
	res.Body.Close()
	return true
}
