package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// healthcheckOptions are the flags of `fountain healthcheck`.
type healthcheckOptions struct {
	URL     string
	Timeout time.Duration
}

func (a *app) newHealthcheckCmd() *cobra.Command {
	o := &healthcheckOptions{}
	cmd := &cobra.Command{
		Use:   "healthcheck",
		Short: "Exit 0 if the server answers GET /healthz with 200, 1 otherwise",
		Long: "Ask a Fountain server whether it is healthy: GET /healthz, which needs no token, and exit 0 on a 200\n" +
			"answer, 1 on anything else (another status, no answer, or no answer within --timeout).\n\n" +
			"It needs no shell or other tools, so a container image can use it as its HEALTHCHECK:\n" +
			"  HEALTHCHECK CMD [\"/fountain\", \"healthcheck\"]\n\n" +
			"The server is --url, else FOUNTAIN_URL, else the port of FOUNTAIN_ADDR on 127.0.0.1, else " + DefaultURL + ".",
		Example: "  fountain healthcheck\n  fountain healthcheck --url http://127.0.0.1:9000 --timeout 2s",
		Args:    cobra.NoArgs,
	}
	f := cmd.Flags()
	f.StringVar(&o.URL, "url", healthcheckURL(a.getenv), "`URL` of the Fountain server (env FOUNTAIN_URL)")
	f.DurationVar(&o.Timeout, "timeout", 5*time.Second, "give up after this `duration`")
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		if o.Timeout <= 0 {
			return usagef(cmd, "--timeout must be positive")
		}
		return a.runHealthcheck(cmd.Context(), o)
	})
	return cmd
}

// healthcheckURL is the default server of `fountain healthcheck`:
// FOUNTAIN_URL, else the loopback address on the port of FOUNTAIN_ADDR (the
// address `fountain serve` listens on in the same container), else
// DefaultURL.
func healthcheckURL(getenv func(string) string) string {
	if u := getenv("FOUNTAIN_URL"); u != "" {
		return u
	}
	if addr := getenv("FOUNTAIN_ADDR"); addr != "" {
		if host, port, err := net.SplitHostPort(addr); err == nil && port != "" {
			if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
				host = "127.0.0.1"
			}
			return "http://" + net.JoinHostPort(host, port)
		}
	}
	return DefaultURL
}

func (a *app) runHealthcheck(ctx context.Context, o *healthcheckOptions) error {
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	u := strings.TrimRight(o.URL, "/") + "/healthz"
	unhealthy := func(format string, args ...any) error {
		msg := "unhealthy: " + fmt.Sprintf(format, args...)
		fmt.Fprintln(a.io.ErrOut, msg)
		return &exitError{code: ExitError, msg: msg, printed: true}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return unhealthy("bad URL %q: %v", o.URL, err)
	}
	client := &http.Client{
		// A health check asks one server; it does not follow redirects away.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return unhealthy("GET %s: no answer within %s", u, o.Timeout)
		}
		return unhealthy("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return unhealthy("GET %s answered %s", u, resp.Status)
	}
	fmt.Fprintf(a.io.Out, "healthy: GET %s answered %s\n", u, resp.Status)
	return nil
}
