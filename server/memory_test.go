package server_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fountainai/fountain/sandbox/sandboxtest"
)

// Issue 12, item 3: the raw method of an unauthenticated request was a
// Prometheus label, so anyone could grow the server's memory and /metrics
// for ever with odd methods. 10,000 requests with random 1-8 KB methods and
// random paths, sent to the real binary over raw TCP (net/http's client
// refuses such methods), must leave /metrics within 4 KB and the server's
// resident memory within 10 MB of what it was after a warm-up of the same
// traffic.
func TestHostileRequestsDoNotGrowMemory(t *testing.T) {
	bin := sandboxtest.FountainBinary(t)
	dir := t.TempDir()
	ready := filepath.Join(dir, "addr")
	cmd := exec.Command(bin, "serve", "--sandbox", "--sandbox-hosts=false", "--addr", "127.0.0.1:0",
		"--data-dir", filepath.Join(dir, "data"), "--ready-file", ready)
	cmd.Env = append(os.Environ(), "FOUNTAIN_API_TOKEN="+token)
	var logs syncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	var addr string
	for i := 0; i < 600 && addr == ""; i++ {
		if b, err := os.ReadFile(ready); err == nil && len(b) > 0 {
			addr = strings.TrimSpace(string(b))
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if addr == "" {
		t.Fatalf("the server did not start:\n%s", logs.String())
	}

	rng := rand.New(rand.NewPCG(12, 3))
	hostile(t, addr, rng, 2000) // warm-up: the same traffic, enough for the heap to reach its limit
	metricsSize(t, addr)
	size0, rss0 := metricsSize(t, addr), vmRSS(t, cmd.Process.Pid)
	hostile(t, addr, rng, 10_000)
	size1, rss1 := metricsSize(t, addr), vmRSS(t, cmd.Process.Pid)
	t.Logf("/metrics %d -> %d bytes, VmRSS %d -> %d kB", size0, size1, rss0/1024, rss1/1024)
	if size1-size0 >= 4096 {
		t.Errorf("/metrics grew by %d bytes (from %d to %d) after 10,000 unauthenticated requests", size1-size0, size0, size1)
	}
	if rss1-rss0 >= 10<<20 {
		t.Errorf("the server's VmRSS grew by %d kB (from %d to %d kB) after 10,000 unauthenticated requests",
			(rss1-rss0)/1024, rss0/1024, rss1/1024)
	}
}

// hostile sends n requests without a token, each with a random method of
// 1-8 KB (token characters) and a random path, over raw TCP on 4
// connections, reading each answer.
func hostile(t *testing.T, addr string, rng *rand.Rand, n int) {
	t.Helper()
	const workers = 4
	reqs := make([][]byte, n)
	for i := range reqs {
		method := make([]byte, 1+rng.IntN(8<<10))
		for j := range method {
			method[j] = byte('A' + rng.IntN(26))
		}
		path := make([]byte, 1+rng.IntN(200))
		for j := range path {
			path[j] = "abcdefghijklmnopqrstuvwxyz0123456789/-_"[rng.IntN(39)]
		}
		reqs[i] = fmt.Appendf(nil, "%s /%s HTTP/1.1\r\nHost: fountain\r\n\r\n", method, path)
	}
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			var conn net.Conn
			var br *bufio.Reader
			defer func() {
				if conn != nil {
					conn.Close()
				}
			}()
			for i := w; i < n; i += workers {
				if conn == nil {
					c, err := net.Dial("tcp", addr)
					if err != nil {
						errc <- err
						return
					}
					conn, br = c, bufio.NewReader(c)
				}
				_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
				if _, err := conn.Write(reqs[i]); err != nil {
					errc <- err
					return
				}
				res, err := http.ReadResponse(br, nil)
				if err != nil {
					errc <- fmt.Errorf("request %d: %w", i, err)
					return
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusUnauthorized {
					errc <- fmt.Errorf("request %d answered %d, not 401", i, res.StatusCode)
					return
				}
				if res.Close {
					conn.Close()
					conn = nil
				}
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
}

// metricsSize is the size of the server's /metrics answer.
func metricsSize(t *testing.T, addr string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("/metrics: %d %v", res.StatusCode, err)
	}
	return len(b)
}

// vmRSS is a process's resident memory in bytes, from /proc/PID/status.
func vmRSS(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			if err != nil {
				t.Fatalf("VmRSS: %q", v)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmRSS in /proc/PID/status")
	return 0
}
