package ssh

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/fountainai/fountain"
)

// DialUnix opens the Unix socket at path on the host through the
// connection (OpenSSH's direct-streamlocal@openssh.com channel), as the
// logged-in user: e.g. /var/run/docker.sock, which needs the user in the
// docker group. The returned connection outlives ctx, which bounds only
// the opening.
func (c *Client) DialUnix(ctx context.Context, path string) (net.Conn, error) {
	conn, err := c.current().conn.DialContext(ctx, "unix", path)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctxError(ctx, "open "+path+" on "+c.Host())
		}
		return nil, &fountain.Error{Code: fountain.EUPSTREAM, Err: err,
			Message: fmt.Sprintf("open the unix socket %s on %s as %s: %v", path, c.Host(), c.target.User, err),
			Hint: fmt.Sprintf("the socket must exist and %s must be allowed to open it (for the Docker socket: be in the docker group, "+
				"then reconnect); sshd must allow stream-local forwarding (AllowStreamLocalForwarding, yes by default)", c.target.User)}
	}
	return conn, nil
}

// DialTCP opens a TCP connection from the host to addr ("127.0.0.1:8001",
// or a container's address) through the connection (a direct-tcpip
// channel). The returned connection outlives ctx, which bounds only the
// opening.
func (c *Client) DialTCP(ctx context.Context, addr string) (net.Conn, error) {
	conn, err := c.current().conn.DialContext(ctx, "tcp", addr)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctxError(ctx, "connect to "+addr+" from "+c.Host())
		}
		return nil, &fountain.Error{Code: fountain.EUPSTREAM, Err: err,
			Message: fmt.Sprintf("connect to %s from %s: %v", addr, c.Host(), err)}
	}
	return conn, nil
}

// DialContext opens network ("tcp", "tcp4", "tcp6" or "unix") address
// addr from the host: DialTCP or DialUnix. It fits http.Transport, so
// that URLs are fetched as the host would (see HTTPClient).
func (c *Client) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	switch network {
	case "tcp", "tcp4", "tcp6":
		return c.DialTCP(ctx, addr)
	case "unix":
		return c.DialUnix(ctx, addr)
	}
	return nil, fountain.Errorf(fountain.EINTERNAL, "ssh: cannot dial network %q through SSH", network)
}

// UnixDialer returns a dial function that opens the Unix socket at path
// on the host whatever network and address it is asked for: the dialer of
// an HTTP client for a daemon on a socket, such as the Docker Engine
// client:
//
//	client.New(client.WithHost("unix:///var/run/docker.sock"),
//		client.WithDialContext(c.UnixDialer("/var/run/docker.sock")),
//		client.WithAPIVersionNegotiation())
func (c *Client) UnixDialer(path string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, _, _ string) (net.Conn, error) { return c.DialUnix(ctx, path) }
}

// HTTPClient returns an HTTP client whose connections are made from the
// host through this connection: http://127.0.0.1:8080/health reaches
// port 8080 of the host itself, and a container's address reaches the
// container, with no tool needed on the host. Each request opens a new
// channel (no idle connections are kept), so the client keeps working
// across Reconnect. timeout bounds each request (0: none).
func (c *Client) HTTPClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			DialContext:       c.DialContext,
			DisableKeepAlives: true,
			Proxy:             nil,
		},
	}
}
