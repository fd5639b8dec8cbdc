package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/fountainai/fountain/lightsail/emulator"
	"github.com/fountainai/fountain/server"
)

// emulateLightsailOptions are the flags of `fountain emulate lightsail`.
type emulateLightsailOptions struct {
	Addr                                            string
	LogLevel                                        string
	CreateDelay, StartDelay, StopDelay, RebootDelay time.Duration
	ReadyFile                                       string
	// DataDir holds the credentials file (unless CredentialsFile names one).
	DataDir         string
	CredentialsFile string
}

func (a *app) newEmulateCmd() *cobra.Command {
	cmd := a.newGroupCmd("emulate", "Run a cloud API emulator")
	cmd.Long = "Run an emulator of a cloud API on its own, for the AWS SDK, the AWS CLI or tests to talk to."
	cmd.AddCommand(a.newEmulateLightsailCmd())
	return cmd
}

func (a *app) newEmulateLightsailCmd() *cobra.Command {
	o := &emulateLightsailOptions{}
	cmd := &cobra.Command{
		Use:   "lightsail",
		Short: "Serve the Lightsail API emulator",
		Long: "Serve a wire-level emulator of the Amazon Lightsail API until interrupted. State lives in memory.\n\n" +
			"Point an AWS SDK or the AWS CLI at it with AWS_ENDPOINT_URL_LIGHTSAIL and its credentials. They are\n" +
			"FOUNTAIN_EMULATOR_ACCESS_KEY_ID and FOUNTAIN_EMULATOR_SECRET_ACCESS_KEY if both are set, or else the\n" +
			"data directory's private pair, generated on first use into sandbox/emulator-credentials (mode 0600;\n" +
			"`fountain serve --sandbox` uses the same file). That file is an AWS shared credentials file: point\n" +
			"AWS_SHARED_CREDENTIALS_FILE at it (AWS_ACCESS_KEY_ID in the environment would take precedence).\n" +
			"Instances move through pending, stopping and rebooting states for the given delays; 0 makes a transition instant.",
		Example: "  fountain emulate lightsail --addr 127.0.0.1:4566 --create-delay 30s\n" +
			"  AWS_ENDPOINT_URL_LIGHTSAIL=http://127.0.0.1:4566 AWS_SHARED_CREDENTIALS_FILE=~/.local/share/fountain/sandbox/emulator-credentials \\\n" +
			"    aws lightsail get-instances --region eu-central-1",
		Args: cobra.NoArgs,
	}
	f := cmd.Flags()
	f.StringVar(&o.Addr, "addr", "127.0.0.1:4566", "`address` to listen on")
	f.StringVar(&o.LogLevel, "log-level", a.env("FOUNTAIN_LOG_LEVEL", "info"), "log `level`: debug, info, warn or error")
	f.DurationVar(&o.CreateDelay, "create-delay", emulator.DefaultCreateDelay, "how long a new instance stays pending")
	f.DurationVar(&o.StartDelay, "start-delay", emulator.DefaultStartDelay, "how long a started instance stays pending")
	f.DurationVar(&o.StopDelay, "stop-delay", emulator.DefaultStopDelay, "how long a stopped instance stays stopping")
	f.DurationVar(&o.RebootDelay, "reboot-delay", emulator.DefaultRebootDelay, "how long a rebooted instance stays rebooting")
	f.StringVar(&o.DataDir, "data-dir", a.env("FOUNTAIN_DATA_DIR", server.DefaultDataDir(a.getenv)), "data `directory` whose credentials file to use (env FOUNTAIN_DATA_DIR)")
	f.StringVar(&o.CredentialsFile, "credentials-file", "", "credentials `file` to use or create (default: sandbox/emulator-credentials in the data directory)")
	f.StringVar(&o.ReadyFile, "ready-file", "", "for tests: write the listen address to this `file` once listening")
	_ = f.MarkHidden("ready-file")
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		level, err := parseLevel(o.LogLevel)
		if err != nil {
			return usagef(cmd, "--log-level: %v", err)
		}
		return a.runEmulateLightsail(cmd.Context(), o, slog.New(slog.NewTextHandler(a.io.ErrOut, &slog.HandlerOptions{Level: level})))
	})
	return cmd
}

func (a *app) runEmulateLightsail(ctx context.Context, o *emulateLightsailOptions, log *slog.Logger) error {
	creds, where, err := a.emulatorCredentials(o)
	if err != nil {
		return err
	}
	emu := emulator.New(emulator.Options{
		Credentials: creds.Map(),
		Logger:      log,
		CreateDelay: emulatorDelay(o.CreateDelay),
		StartDelay:  emulatorDelay(o.StartDelay),
		StopDelay:   emulatorDelay(o.StopDelay),
		RebootDelay: emulatorDelay(o.RebootDelay),
	})
	defer emu.Close()
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.Addr, err)
	}
	srv := &http.Server{Handler: emu, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	url := "http://" + ln.Addr().String()
	fmt.Fprintf(a.io.Out, "Lightsail emulator listening on %s\n", url)
	// The secret is never printed: the banner says where it is.
	fmt.Fprintf(a.io.Out, "Credentials: access key %s, from %s\n", creds.AccessKeyID, where)
	fmt.Fprintf(a.io.Out, "  export AWS_ENDPOINT_URL_LIGHTSAIL=%s\n", url)
	if o.CredentialsFile != "" {
		fmt.Fprintf(a.io.Out, "  export AWS_SHARED_CREDENTIALS_FILE=%s AWS_PROFILE=default\n", o.CredentialsFile)
	}
	if o.ReadyFile != "" {
		if err := writeFileAtomic(o.ReadyFile, ln.Addr().String()+"\n"); err != nil {
			ln.Close()
			return fmt.Errorf("write ready file: %w", err)
		}
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// emulatorCredentials returns the pair the emulator accepts and where it
// comes from: the FOUNTAIN_EMULATOR_* environment, or the credentials file
// (created on first use). With the file, o.CredentialsFile is its path.
func (a *app) emulatorCredentials(o *emulateLightsailOptions) (emulator.Credentials, string, error) {
	id, secret := a.getenv("FOUNTAIN_EMULATOR_ACCESS_KEY_ID"), a.getenv("FOUNTAIN_EMULATOR_SECRET_ACCESS_KEY")
	switch {
	case id != "" && secret != "":
		o.CredentialsFile = ""
		return emulator.Credentials{AccessKeyID: id, SecretAccessKey: secret}, "FOUNTAIN_EMULATOR_ACCESS_KEY_ID and FOUNTAIN_EMULATOR_SECRET_ACCESS_KEY", nil
	case id != "" || secret != "":
		return emulator.Credentials{}, "", errors.New("set both FOUNTAIN_EMULATOR_ACCESS_KEY_ID and FOUNTAIN_EMULATOR_SECRET_ACCESS_KEY, or neither")
	}
	if o.CredentialsFile == "" {
		o.CredentialsFile = server.EmulatorCredentialsPath(o.DataDir)
	}
	creds, err := emulator.LoadOrCreateCredentials(o.CredentialsFile)
	if err != nil {
		return emulator.Credentials{}, "", err
	}
	return creds, o.CredentialsFile, nil
}
