package server_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fountainai/fountain/server"
)

// startInProcess runs a sandbox server (emulated instances only) with the
// given HTTP timeouts and returns its address.
func startInProcess(t *testing.T, to server.HTTPTimeouts) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	errc := make(chan error, 1)
	env := map[string]string{"FOUNTAIN_API_TOKEN": token}
	go func() {
		errc <- server.Run(ctx, server.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), Sandbox: true, NoSandboxHosts: true,
			HTTP: to, Getenv: func(k string) string { return env[k] }, Ready: func(a string) { ready <- a }})
	}()
	t.Cleanup(func() { cancel(); <-errc })
	select {
	case addr := <-ready:
		return addr
	case err := <-errc:
		t.Fatal(err)
	}
	return ""
}

// Issue 6, item 4: a client whose body stops arriving is cut within the read
// timeout, authenticated or not, and is not recorded as "too large".
func TestSlowBodiesAreCut(t *testing.T) {
	addr := startInProcess(t, server.HTTPTimeouts{Read: 700 * time.Millisecond})
	for _, auth := range []string{"", "Authorization: Bearer " + token + "\r\n"} {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "POST /aws/lightsail/stop-instance HTTP/1.1\r\nHost: x\r\n%sContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{\"instance_name\":", auth)
		start := time.Now()
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		b, _ := io.ReadAll(conn) // until the server closes the connection
		conn.Close()
		if d := time.Since(start); d > 9*time.Second { // the read deadline is 10 s
			t.Fatalf("a stalled body held the connection for %s", d)
		}
		if auth != "" && (strings.Contains(string(b), "413") || !strings.Contains(string(b), "408")) {
			t.Errorf("answer to a stalled body: %q", b)
		}
	}
	// The stalled request is audited as what it was.
	req, _ := http.NewRequest("GET", "http://"+addr+"/audit", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	audit, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if strings.Contains(string(audit), `"status_code":413`) || !strings.Contains(string(audit), `"status_code":408`) {
		t.Fatalf("audit: %s", audit)
	}
}
