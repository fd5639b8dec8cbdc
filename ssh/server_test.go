package ssh

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	xssh "golang.org/x/crypto/ssh"

	"github.com/fountainai/fountain"
)

// testServer is an in-process SSH server on loopback, for unit tests: it
// runs exec requests with the local sh, answers (or, frozen, ignores)
// keepalives, honours signal requests, and forwards direct-tcpip and
// direct-streamlocal channels on this machine.
type testServer struct {
	t        testing.TB
	l        net.Listener
	cfg      *xssh.ServerConfig
	accepted atomic.Int32 // TCP connections accepted
	drop     atomic.Int32 // close this many next connections before the banner
	frozen   atomic.Bool  // ignore global requests (a dead peer)
	execs    chan string  // every exec'd command line, if set
	// maxSessions refuses a connection's session beyond it, as sshd's
	// MaxSessions does (0: no limit).
	maxSessions int32
	// loseSignals drops this many next signal requests, as sshd does when
	// one comes before the command's process made its group (killpg
	// finds none).
	loseSignals atomic.Int32
	// linger leaves a command running when its session closes, as sshd
	// does with a command that does not read its input.
	linger atomic.Bool
}

// keys for tests, generated once.
var (
	clientSigner, otherClient           xssh.Signer
	hostEd, hostEd2, hostECDSA, hostRSA xssh.Signer
)

func init() {
	func() {
		ed := func() xssh.Signer {
			_, priv, _ := ed25519.GenerateKey(rand.Reader)
			s, err := xssh.NewSignerFromKey(priv)
			if err != nil {
				panic(err)
			}
			return s
		}
		clientSigner, otherClient, hostEd, hostEd2 = ed(), ed(), ed(), ed()
		ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		hostECDSA, _ = xssh.NewSignerFromKey(ec)
		rk, _ := rsa.GenerateKey(rand.Reader, 2048)
		hostRSA, _ = xssh.NewSignerFromKey(rk)
	}()
}

// startServer listens on addr ("127.0.0.1:0" for any port) with the given
// host keys, accepting clientSigner.
func startServer(t testing.TB, addr string, hostKeys ...xssh.Signer) *testServer {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s := &testServer{t: t, l: l}
	s.cfg = &xssh.ServerConfig{
		PublicKeyCallback: func(_ xssh.ConnMetadata, key xssh.PublicKey) (*xssh.Permissions, error) {
			if bytes.Equal(key.Marshal(), clientSigner.PublicKey().Marshal()) {
				return nil, nil
			}
			return nil, errors.New("unknown key")
		},
	}
	for _, k := range hostKeys {
		s.cfg.AddHostKey(k)
	}
	go s.serve()
	t.Cleanup(func() { l.Close() })
	return s
}

func (s *testServer) addr() string { return s.l.Addr().String() }

func (s *testServer) target() Target {
	host, port, _ := net.SplitHostPort(s.addr())
	p, _ := strconv.Atoi(port)
	return Target{Address: host, Port: p, User: "root", Signer: clientSigner}
}

func (s *testServer) serve() {
	for {
		c, err := s.l.Accept()
		if err != nil {
			return
		}
		s.accepted.Add(1)
		if s.drop.Add(-1) >= 0 {
			c.Close()
			continue
		}
		s.drop.Store(0)
		go s.handle(c)
	}
}

func (s *testServer) handle(c net.Conn) {
	sc, chans, reqs, err := xssh.NewServerConn(c, s.cfg)
	if err != nil {
		c.Close()
		return
	}
	defer sc.Close()
	go func() {
		for r := range reqs {
			if s.frozen.Load() {
				continue // never answered
			}
			if r.WantReply {
				r.Reply(false, nil) // as sshd answers keepalive@openssh.com
			}
		}
	}()
	var sessions atomic.Int32
	for nc := range chans {
		switch nc.ChannelType() {
		case "session":
			if n := sessions.Add(1); s.maxSessions > 0 && n > s.maxSessions {
				sessions.Add(-1)
				nc.Reject(xssh.Prohibited, "open failed")
				continue
			}
			go func() { s.session(nc); sessions.Add(-1) }()
		case "direct-tcpip":
			var m struct {
				Host     string
				Port     uint32
				OrigHost string
				OrigPort uint32
			}
			if err := xssh.Unmarshal(nc.ExtraData(), &m); err != nil {
				nc.Reject(xssh.ConnectionFailed, err.Error())
				continue
			}
			go forward(nc, "tcp", net.JoinHostPort(m.Host, strconv.Itoa(int(m.Port))))
		case "direct-streamlocal@openssh.com":
			var m struct {
				Path      string
				Reserved0 string
				Reserved1 uint32
			}
			if err := xssh.Unmarshal(nc.ExtraData(), &m); err != nil {
				nc.Reject(xssh.ConnectionFailed, err.Error())
				continue
			}
			go forward(nc, "unix", m.Path)
		default:
			nc.Reject(xssh.UnknownChannelType, "no")
		}
	}
}

func forward(nc xssh.NewChannel, network, addr string) {
	conn, err := net.Dial(network, addr)
	if err != nil {
		nc.Reject(xssh.ConnectionFailed, err.Error())
		return
	}
	ch, reqs, err := nc.Accept()
	if err != nil {
		conn.Close()
		return
	}
	go xssh.DiscardRequests(reqs)
	go func() { io.Copy(ch, conn); ch.CloseWrite() }()
	io.Copy(conn, ch)
	conn.Close()
	ch.Close()
}

// session runs one exec request with the local sh.
func (s *testServer) session(nc xssh.NewChannel) {
	ch, reqs, err := nc.Accept()
	if err != nil {
		return
	}
	defer ch.Close()
	var (
		mu   sync.Mutex
		proc *exec.Cmd
		done = make(chan struct{})
	)
	for {
		var r *xssh.Request
		select {
		case r = <-reqs:
		case <-done:
			return
		}
		if r == nil {
			mu.Lock()
			if proc != nil && proc.Process != nil && !s.linger.Load() {
				syscall.Kill(-proc.Process.Pid, syscall.SIGKILL)
			}
			mu.Unlock()
			return
		}
		switch r.Type {
		case "exec":
			var m struct{ Command string }
			xssh.Unmarshal(r.Payload, &m)
			if s.execs != nil {
				s.execs <- m.Command
			}
			cmd := exec.Command("sh", "-c", m.Command)
			cmd.Stdin, cmd.Stdout, cmd.Stderr = ch, ch, ch.Stderr()
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			if err := cmd.Start(); err != nil {
				r.Reply(false, nil)
				continue
			}
			mu.Lock()
			proc = cmd
			mu.Unlock()
			r.Reply(true, nil)
			go func() {
				err := cmd.Wait()
				var ee *exec.ExitError
				if errors.As(err, &ee) {
					if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
						sig := map[syscall.Signal]string{syscall.SIGTERM: "TERM", syscall.SIGKILL: "KILL"}[ws.Signal()]
						ch.SendRequest("exit-signal", false, xssh.Marshal(struct {
							Signal     string
							CoreDumped bool
							Msg, Lang  string
						}{Signal: sig}))
						ch.Close()
						close(done)
						return
					}
				}
				ch.SendRequest("exit-status", false, xssh.Marshal(struct{ Status uint32 }{uint32(cmd.ProcessState.ExitCode())}))
				ch.Close()
				close(done)
			}()
		case "signal":
			var m struct{ Signal string }
			xssh.Unmarshal(r.Payload, &m)
			sig := map[string]syscall.Signal{"TERM": syscall.SIGTERM, "KILL": syscall.SIGKILL, "INT": syscall.SIGINT}[m.Signal]
			if s.loseSignals.Add(-1) >= 0 {
				continue
			}
			mu.Lock()
			if proc != nil && sig != 0 {
				syscall.Kill(-proc.Process.Pid, sig)
			}
			mu.Unlock()
		default:
			if r.WantReply {
				r.Reply(false, nil)
			}
		}
	}
}

// memStore is a HostKeyStore in memory with the sqlite store's rules.
type memStore struct {
	mu   sync.Mutex
	keys map[string][]fountain.HostKey
}

func newMemStore() *memStore { return &memStore{keys: map[string][]fountain.HostKey{}} }

func (m *memStore) HostKeys(_ context.Context, host string) ([]fountain.HostKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]fountain.HostKey(nil), m.keys[host]...), nil
}

func (m *memStore) TrustHostKey(_ context.Context, k fountain.HostKey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, o := range m.keys[k.Host] {
		if o.Algorithm == k.Algorithm {
			if o.PublicKey == k.PublicKey {
				return nil
			}
			return fountain.Errorf(fountain.ECONFLICT, "another %s key is stored for %s", k.Algorithm, k.Host)
		}
	}
	m.keys[k.Host] = append(m.keys[k.Host], k)
	return nil
}

func (m *memStore) ReplaceHostKeys(_ context.Context, host string, keys []fountain.HostKey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.keys[host] = append([]fountain.HostKey(nil), keys...)
	return nil
}

// logs collects log lines.
type logs struct {
	mu    sync.Mutex
	lines []string
}

func (l *logs) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *logs) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}
