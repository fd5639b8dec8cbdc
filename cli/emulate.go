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
)

// emulateLightsailOptions are the flags of `fountain emulate lightsail`.
type emulateLightsailOptions struct {
	Addr                                            string
	LogLevel                                        string
	CreateDelay, StartDelay, StopDelay, RebootDelay time.Duration
	ReadyFile                                       string
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
			"Point an AWS SDK or the AWS CLI at it with AWS_ENDPOINT_URL_LIGHTSAIL and the access key it prints.\n" +
			"Instances move through pending, stopping and rebooting states for the given delays; 0 makes a transition instant.",
		Example: "  fountain emulate lightsail --addr 127.0.0.1:4566 --create-delay 30s\n" +
			"  AWS_ENDPOINT_URL_LIGHTSAIL=http://127.0.0.1:4566 aws lightsail get-instances",
		Args: cobra.NoArgs,
	}
	f := cmd.Flags()
	f.StringVar(&o.Addr, "addr", "127.0.0.1:4566", "`address` to listen on")
	f.StringVar(&o.LogLevel, "log-level", a.env("FOUNTAIN_LOG_LEVEL", "info"), "log `level`: debug, info, warn or error")
	f.DurationVar(&o.CreateDelay, "create-delay", emulator.DefaultCreateDelay, "how long a new instance stays pending")
	f.DurationVar(&o.StartDelay, "start-delay", emulator.DefaultStartDelay, "how long a started instance stays pending")
	f.DurationVar(&o.StopDelay, "stop-delay", emulator.DefaultStopDelay, "how long a stopped instance stays stopping")
	f.DurationVar(&o.RebootDelay, "reboot-delay", emulator.DefaultRebootDelay, "how long a rebooted instance stays rebooting")
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
	emu := emulator.New(emulator.Options{
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
	fmt.Fprintf(a.io.Out, "  export AWS_ENDPOINT_URL_LIGHTSAIL=%s\n", url)
	fmt.Fprintf(a.io.Out, "  export AWS_ACCESS_KEY_ID=%s\n", emulator.AccessKeyID)
	fmt.Fprintf(a.io.Out, "  export AWS_SECRET_ACCESS_KEY=%s\n", emulator.SecretAccessKey)
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
