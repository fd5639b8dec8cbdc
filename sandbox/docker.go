package sandbox

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
)

// Labels put on everything the sandbox creates.
const (
	// LabelSandbox marks every container, volume and network Fountain's
	// sandbox created; its value is "1".
	LabelSandbox = "dev.fountain.sandbox"
	// LabelNamespace names the Sandbox namespace that owns the object.
	LabelNamespace = "dev.fountain.sandbox.namespace"
	// LabelKind is "host", "volume", "network" (the sandbox network),
	// "public" (a host's public network) or "probe".
	LabelKind = "dev.fountain.sandbox.kind"
	// LabelInstance is the instance (host) name.
	LabelInstance = "dev.fountain.sandbox.instance"
	// LabelAddress is the host's public address, e.g. 172.21.0.1 (hosts
	// made before public addresses left loopback have 127.0.0.N).
	LabelAddress = "dev.fountain.sandbox.address"
	// LabelImage marks images built by the sandbox (kept by Down: they are
	// a cache keyed by content).
	LabelImage = "dev.fountain.sandbox.image"
)

// NewDockerClient connects to the Docker Engine named by the environment
// (DOCKER_HOST, default unix:///var/run/docker.sock), negotiating the API
// version (1.41 with Debian 12's Docker 20.10), and checks that it answers.
func NewDockerClient(ctx context.Context) (*client.Client, error) {
	cli, err := client.New(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := cli.Ping(pctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		cli.Close()
		return nil, fmt.Errorf("docker engine at %s is not answering: %w", cli.DaemonHost(), err)
	}
	return cli, nil
}

func (s *Sandbox) labels(kind string, extra ...string) map[string]string {
	l := map[string]string{LabelSandbox: "1", LabelNamespace: s.ns, LabelKind: kind}
	for i := 0; i+1 < len(extra); i += 2 {
		l[extra[i]] = extra[i+1]
	}
	return l
}

func (s *Sandbox) filters(extra ...string) client.Filters {
	f := client.Filters{}
	f.Add("label", LabelSandbox+"=1", LabelNamespace+"="+s.ns)
	for _, e := range extra {
		f.Add("label", e)
	}
	return f
}

// ExecResult is the outcome of a command run inside a host.
type ExecResult struct {
	ExitCode int
	Stdout   string
	Stderr   string
}

// exec runs cmd in the container as root and returns its output. It does
// not treat a non-zero exit as an error.
func (s *Sandbox) exec(ctx context.Context, id string, cmd ...string) (ExecResult, error) {
	created, err := s.docker.ExecCreate(ctx, id, client.ExecCreateOptions{
		Cmd: cmd, AttachStdout: true, AttachStderr: true,
	})
	if err != nil {
		return ExecResult{}, fmt.Errorf("exec %q: %w", cmd, err)
	}
	att, err := s.docker.ExecAttach(ctx, created.ID, client.ExecAttachOptions{})
	if err != nil {
		return ExecResult{}, fmt.Errorf("exec %q: attach: %w", cmd, err)
	}
	defer att.Close()
	stop := context.AfterFunc(ctx, func() { att.Close() })
	defer stop()
	var out, errOut bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &errOut, att.Reader); err != nil && ctx.Err() == nil {
		return ExecResult{}, fmt.Errorf("exec %q: read output: %w", cmd, err)
	}
	if ctx.Err() != nil {
		return ExecResult{}, fmt.Errorf("exec %q: %w", cmd, ctx.Err())
	}
	insp, err := s.docker.ExecInspect(ctx, created.ID, client.ExecInspectOptions{})
	if err != nil {
		return ExecResult{}, fmt.Errorf("exec %q: inspect: %w", cmd, err)
	}
	return ExecResult{ExitCode: insp.ExitCode, Stdout: out.String(), Stderr: errOut.String()}, nil
}

// Exec runs a command as root inside the named host (like docker exec).
func (s *Sandbox) Exec(ctx context.Context, name string, cmd ...string) (ExecResult, error) {
	c, err := s.findHost(ctx, name)
	if err != nil {
		return ExecResult{}, err
	}
	return s.exec(ctx, c.ID, cmd...)
}

// tarFile is one entry of an in-memory tar archive.
type tarFile struct {
	Name     string
	Mode     int64
	UID, GID int
	Body     []byte
	Dir      bool
}

func makeTar(files []tarFile) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	epoch := time.Unix(0, 0)
	for _, f := range files {
		h := &tar.Header{Name: f.Name, Mode: f.Mode, Uid: f.UID, Gid: f.GID, ModTime: epoch, Format: tar.FormatPAX}
		if f.Dir {
			h.Typeflag = tar.TypeDir
			h.Name = strings.TrimSuffix(f.Name, "/") + "/"
		} else {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(f.Body))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if !f.Dir {
			if _, err := tw.Write(f.Body); err != nil {
				return nil, err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// jsonMessage is one line of the Engine API's build or import stream.
type jsonMessage struct {
	Stream      string `json:"stream"`
	Status      string `json:"status"`
	Error       string `json:"error"`
	ErrorDetail *struct {
		Message string `json:"message"`
	} `json:"errorDetail"`
}

// readJSONStream drains a build or import stream, sending "stream" text to
// logf and returning the first error message the daemon reported.
func readJSONStream(r io.Reader, logf func(string, ...any)) error {
	dec := json.NewDecoder(r)
	for {
		var m jsonMessage
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return fmt.Errorf("read engine stream: %w", err)
		}
		if m.Error != "" {
			return errors.New(strings.TrimSpace(m.Error))
		}
		if m.ErrorDetail != nil && m.ErrorDetail.Message != "" {
			return errors.New(strings.TrimSpace(m.ErrorDetail.Message))
		}
		if s := strings.TrimSpace(m.Stream); s != "" && logf != nil {
			logf("%s", s)
		}
	}
}

func isNotFound(err error) bool { return cerrdefs.IsNotFound(err) }

func isConflict(err error) bool { return cerrdefs.IsConflict(err) }
