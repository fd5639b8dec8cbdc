package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/fountainai/fountain/standin/kong"
	"github.com/fountainai/fountain/standin/opensearch"
)

// newStandinCmd is the hidden `fountain standin` group: the stand-ins for
// OpenSearch and Kong that sandbox hosts run (from the opensearch .deb and
// the kong image). They are for the sandbox and tests only.
func (a *app) newStandinCmd() *cobra.Command {
	cmd := a.newGroupCmd("standin", "Run a sandbox stand-in (OpenSearch, Kong); sandbox and tests only")
	cmd.Hidden = true
	cmd.AddCommand(a.newStandinKongCmd(), a.newStandinOpenSearchCmd())
	return cmd
}

// signalContext ends on SIGINT, SIGTERM or SIGQUIT (Kong's image stops
// with SIGQUIT).
func signalContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM, syscall.SIGQUIT)
}

func (a *app) newStandinKongCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "kong [kong docker-start | kong version | kong health | kong config parse FILE]",
		Short: "Kong Gateway 3.9 DB-less stand-in, configured by KONG_* variables like Kong's image",
		Long: "Runs the Kong Gateway stand-in. Settings come from the environment like in Kong's\n" +
			"Docker image: KONG_DATABASE (must be off), KONG_DECLARATIVE_CONFIG, KONG_PROXY_LISTEN,\n" +
			"KONG_ADMIN_LISTEN. FOUNTAIN_STANDIN_MIN_LOAD_TIME (a duration) slows configuration loads.",
		Args: cobra.ArbitraryArgs,
		RunE: a.runE(func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 && args[0] == "kong" {
				args = args[1:]
			}
			verb := "docker-start"
			if len(args) > 0 {
				verb = args[0]
			}
			switch {
			case verb == "docker-start" || verb == "start":
				return a.runKong(cmd.Context())
			case verb == "version":
				fmt.Fprintln(a.io.Out, kong.Version)
				return nil
			case verb == "health":
				return a.kongHealth()
			case verb == "config" && len(args) == 3 && args[1] == "parse":
				return a.kongConfigParse(args[2])
			}
			return usagef(cmd, "unsupported kong command %q", strings.Join(args, " "))
		}),
	}
}

func (a *app) runKong(ctx context.Context) error {
	s, err := kong.SettingsFromEnv(a.getenv)
	if err != nil {
		return err
	}
	var minLoad time.Duration
	if v := a.getenv("FOUNTAIN_STANDIN_MIN_LOAD_TIME"); v != "" {
		if minLoad, err = time.ParseDuration(v); err != nil {
			return fmt.Errorf("FOUNTAIN_STANDIN_MIN_LOAD_TIME: %w", err)
		}
	}
	logger := log.New(a.io.ErrOut, "", log.LstdFlags)
	g, err := kong.New(kong.Options{Settings: s, MinLoadTime: minLoad, Logf: logger.Printf})
	if err != nil {
		return a.standinFail("Error: " + err.Error())
	}
	if err := kong.WritePID(s.Prefix, os.Getpid()); err != nil {
		logger.Printf("no pid file in %s (kong health will say it is not running): %v", s.Prefix, err)
	}
	ctx, stop := signalContext(ctx)
	defer stop()
	logger.Printf("Kong %s stand-in (Fountain sandbox) starting, configuration hash %s", kong.Version, g.Hash())
	return g.Run(ctx)
}

// kongHealth is `kong health`: the running node's pid is alive (like
// Kong's, it asks nothing of the Admin API).
func (a *app) kongHealth() error {
	s, err := kong.SettingsFromEnv(a.getenv)
	if err != nil {
		return err
	}
	if err := kong.Healthy(s.Prefix); err != nil {
		return a.standinFail("Error: " + err.Error())
	}
	fmt.Fprintln(a.io.Out, "nginx.......running\n\nKong is healthy at "+s.Prefix)
	return nil
}

// kongConfigParse is `kong config parse FILE`.
func (a *app) kongConfigParse(file string) error {
	text, err := os.ReadFile(file)
	if err != nil {
		return a.standinFail("Error: " + err.Error())
	}
	if _, cerr := kong.ParseConfig(text, false, time.Now()); cerr != nil {
		return a.standinFail("Error: Failed parsing:\n" + kong.PrettyError(cerr))
	}
	fmt.Fprintln(a.io.Out, "parse successful")
	return nil
}

func (a *app) newStandinOpenSearchCmd() *cobra.Command {
	var opts struct {
		pidFile, confDir, dataDir string
		quiet, daemonize          bool
	}
	cmd := &cobra.Command{
		Use:   "opensearch [-p PIDFILE] [--quiet]",
		Short: "OpenSearch 2.19 single-node stand-in, configured like the package (/etc/opensearch)",
		Args:  cobra.NoArgs,
		RunE: a.runE(func(cmd *cobra.Command, args []string) error {
			logw := a.io.ErrOut
			if opts.quiet {
				logw = io.Discard
			}
			logger := log.New(logw, "", log.LstdFlags)
			n, err := opensearch.New(opensearch.Options{ConfDir: opts.confDir, DataDir: opts.dataDir, Getenv: a.getenv, Logf: logger.Printf})
			if err != nil {
				// Start-up failures go to stderr even with --quiet, like
				// the JVM's and the bootstrap checks'.
				return a.standinFail(err.Error())
			}
			ls, err := n.Listen()
			if err != nil {
				return a.standinFail(err.Error())
			}
			if opts.pidFile != "" {
				if err := os.WriteFile(opts.pidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
					return err
				}
				defer os.Remove(opts.pidFile)
			}
			ctx, stop := signalContext(cmd.Context())
			defer stop()
			return n.Serve(ctx, ls)
		}),
	}
	f := cmd.Flags()
	f.StringVarP(&opts.pidFile, "pidfile", "p", "", "write the process id to `FILE`")
	f.BoolVarP(&opts.quiet, "quiet", "q", false, "no log output on stdout/stderr")
	f.BoolVarP(&opts.daemonize, "daemonize", "d", false, "accepted for compatibility; the stand-in stays in the foreground")
	f.StringVar(&opts.confDir, "conf-dir", "", "configuration `directory` (default $OPENSEARCH_PATH_CONF or /etc/opensearch)")
	f.StringVar(&opts.dataDir, "data-dir", "", "data `directory` (default path.data; - keeps data in memory)")
	cmd.AddCommand(a.newStandinDemoConfigCmd(), a.newStandinHashPasswordCmd())
	return cmd
}

// newStandinDemoConfigCmd is the package's install_demo_configuration.sh.
func (a *app) newStandinDemoConfigCmd() *cobra.Command {
	var confDir string
	var yes, initSecurity, skip bool
	cmd := &cobra.Command{
		Use:   "install-demo-config",
		Short: "Set the admin password from " + opensearch.InitialAdminPasswordEnv + " and create demo certificates",
		Args:  cobra.NoArgs,
		RunE: a.runE(func(cmd *cobra.Command, args []string) error {
			err := opensearch.InstallDemoConfig(confDir, a.getenv(opensearch.InitialAdminPasswordEnv), a.io.Out)
			if errors.Is(err, opensearch.ErrDemoConfig) {
				return &exitError{code: ExitError, msg: err.Error(), printed: true}
			}
			return err
		}),
	}
	cmd.Flags().StringVar(&confDir, "conf-dir", opensearch.DefaultConfDir, "configuration `directory`")
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "accepted for compatibility")
	cmd.Flags().BoolVarP(&initSecurity, "initsecurity", "i", false, "accepted for compatibility")
	cmd.Flags().BoolVarP(&skip, "skip", "s", false, "accepted for compatibility")
	return cmd
}

// newStandinHashPasswordCmd hashes a password read from stdin.
func (a *app) newStandinHashPasswordCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "hash-password",
		Short: "Print the bcrypt hash of the password read from standard input",
		Args:  cobra.NoArgs,
		RunE: a.runE(func(cmd *cobra.Command, args []string) error {
			line, err := bufio.NewReader(a.io.In).ReadString('\n')
			if err != nil && !errors.Is(err, io.EOF) {
				return err
			}
			pw := strings.TrimRight(line, "\r\n")
			if pw == "" {
				return usagef(cmd, "no password on standard input")
			}
			h, err := opensearch.HashPassword(pw)
			if err != nil {
				return err
			}
			fmt.Fprintln(a.io.Out, h)
			return nil
		}),
	}
}

// standinFail prints msg as the real service would (without Fountain's
// "error:" prefix) and ends with exit code 1.
func (a *app) standinFail(msg string) error {
	fmt.Fprintln(a.io.ErrOut, msg)
	return &exitError{code: ExitError, msg: msg, printed: true}
}
