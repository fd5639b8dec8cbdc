// Command fountain is Fountain's server and command-line client: a
// manual-first control plane for AWS Lightsail. See `fountain --help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/fountainai/fountain/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
