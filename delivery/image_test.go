package delivery_test

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/fountainai/fountain/sandbox"
	"github.com/fountainai/fountain/sandbox/sandboxtest"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	Cmd  string // upper case: FROM, COPY, ...
	Args string
	Text string // as written, continuations included
}

// parseDockerfile splits a Dockerfile into instructions, without comments.
func parseDockerfile(s string) []instruction {
	var out []instruction
	var text, joined []string
	for _, line := range strings.Split(s, "\n") {
		trimmed := strings.TrimSpace(line)
		if len(joined) == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		text = append(text, line)
		if c, ok := strings.CutSuffix(trimmed, "\\"); ok {
			joined = append(joined, c)
			continue
		}
		joined = append(joined, trimmed)
		full := strings.Join(joined, " ")
		cmd, args, _ := strings.Cut(full, " ")
		out = append(out, instruction{Cmd: strings.ToUpper(cmd), Args: strings.TrimSpace(args), Text: strings.Join(text, "\n")})
		text, joined = nil, nil
	}
	return out
}

// stage returns the instructions of the stage named name, FROM included.
func stage(ins []instruction, name string) []instruction {
	start := -1
	for i, in := range ins {
		if in.Cmd != "FROM" {
			continue
		}
		if start >= 0 {
			return ins[start:i]
		}
		if f := strings.Fields(in.Args); len(f) == 3 && strings.EqualFold(f[1], "AS") && f[2] == name {
			start = i
		}
	}
	if start < 0 {
		return nil
	}
	return ins[start:]
}

func runtimeStage(t *testing.T) []instruction {
	t.Helper()
	st := stage(parseDockerfile(string(read(t, "Dockerfile"))), "runtime")
	if len(st) == 0 {
		t.Fatal("the Dockerfile has no stage named runtime")
	}
	return st
}

// TestDockerfileRules checks the Dockerfile as text: a static build, a
// runtime stage from scratch as a non-root user, a health check with no
// shell, the data directory a volume, and the server listening beyond
// loopback inside the container.
func TestDockerfileRules(t *testing.T) {
	all := parseDockerfile(string(read(t, "Dockerfile")))
	build := stage(all, "build")
	static := false
	for _, in := range build {
		if in.Cmd == "RUN" && strings.Contains(in.Args, "CGO_ENABLED=0 go build") && strings.Contains(in.Args, "./cmd/fountain") {
			static = true
		}
	}
	if !static {
		t.Fatal("the build stage does not build ./cmd/fountain with CGO_ENABLED=0")
	}
	rt := runtimeStage(t)
	if rt[0].Args != "scratch AS runtime" {
		t.Fatalf("runtime stage: FROM %s, want scratch", rt[0].Args)
	}
	want := map[string]string{
		"USER":        "65532:65532",
		"EXPOSE":      "8000",
		"VOLUME":      `["/data"]`,
		"ENTRYPOINT":  `["/fountain"]`,
		"CMD":         `["serve"]`,
		"HEALTHCHECK": `--interval=15s --timeout=5s --start-period=10s --retries=3 CMD ["/fountain", "healthcheck"]`,
	}
	got := map[string]string{}
	for _, in := range rt {
		got[in.Cmd] = in.Args
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("runtime %s = %q, want %q", k, got[k], v)
		}
	}
	for _, kv := range []string{"FOUNTAIN_ADDR=0.0.0.0:8000", "FOUNTAIN_DATA_DIR=/data"} {
		if !strings.Contains(got["ENV"], kv) {
			t.Errorf("runtime ENV %q lacks %s", got["ENV"], kv)
		}
	}
}

// buildOutput is one thing the build stage leaves for the runtime stage, as
// this test provides it: a file, or a directory with entries.
type buildOutput struct {
	dir     bool
	mode    int64
	file    func(t *testing.T) []byte
	entries map[string]int64 // a directory's subdirectories and their modes
}

// staticBinary builds ./cmd/fountain with CGO_ENABLED=0 and checks it
// needs no dynamic loader.
func staticBinary(t *testing.T) []byte {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	out := filepath.Join(t.TempDir(), "fountain")
	// Plain flags, unlike the Dockerfile's, so that the build cache of other
	// tests serves most packages.
	cmd := exec.Command(goBin, "build", "-o", out, "./cmd/fountain")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatal("the binary wants a dynamic loader: it would not run from scratch")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Fatalf("the binary links %v", libs)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// caBundle is this machine's CA bundle, or a stand-in where it has none.
func caBundle(t *testing.T) []byte {
	if b, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt"); err == nil {
		return b
	}
	return []byte("# no CA bundle on the test machine\n")
}

// runtimeContext makes the build context of the Dockerfile's runtime stage:
// the stage as written, with each COPY --from=build source taken from a
// directory build/ that holds what the build stage would leave there.
func runtimeContext(t *testing.T, binary []byte) []byte {
	t.Helper()
	outputs := map[string]buildOutput{
		"/out/fountain":                      {mode: 0o755, file: func(*testing.T) []byte { return binary }},
		"/etc/ssl/certs/ca-certificates.crt": {mode: 0o644, file: caBundle},
		"/out/data":                          {dir: true, mode: 0o755},
		"/out/root/":                         {dir: true, mode: 0o755, entries: map[string]int64{"tmp": 0o1777}},
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string, mode int64, body []byte, dir bool) {
		h := &tar.Header{Name: name, Mode: mode, Size: int64(len(body)), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)}
		if dir {
			h.Typeflag, h.Size, h.Name = tar.TypeDir, 0, strings.TrimSuffix(name, "/")+"/"
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	var df strings.Builder
	added := map[string]bool{}
	for _, in := range runtimeStage(t) {
		if in.Cmd != "COPY" {
			df.WriteString(in.Text + "\n")
			continue
		}
		fields := strings.Fields(in.Args)
		var flags, srcs []string
		for _, f := range fields {
			if strings.HasPrefix(f, "--") {
				flags = append(flags, f)
			} else {
				srcs = append(srcs, f)
			}
		}
		dst := srcs[len(srcs)-1]
		srcs = srcs[:len(srcs)-1]
		fromBuild := slices.Contains(flags, "--from=build")
		var keep []string
		for _, f := range flags {
			if !strings.HasPrefix(f, "--from=") {
				keep = append(keep, f)
			} else if f != "--from=build" {
				t.Fatalf("the runtime stage copies from %s; only the build stage is known", f)
			}
		}
		for i, src := range srcs {
			if !fromBuild {
				body, err := os.ReadFile(filepath.Join(root, src))
				if err != nil {
					t.Fatalf("runtime stage COPY %s: %v", src, err)
				}
				if !added[src] {
					add(src, 0o644, body, false)
					added[src] = true
				}
				continue
			}
			o, ok := outputs[src]
			if !ok {
				t.Fatalf("the runtime stage copies %s from the build stage; teach this test what the build stage leaves there", src)
			}
			name := "build" + src
			if o.dir {
				add(name, o.mode, nil, true)
				for sub, mode := range o.entries {
					add(strings.TrimSuffix(name, "/")+"/"+sub, mode, nil, true)
				}
			} else {
				add(name, o.mode, o.file(t), false)
			}
			srcs[i] = name
		}
		df.WriteString("COPY " + strings.Join(append(append(keep, srcs...), dst), " ") + "\n")
	}
	add("Dockerfile", 0o644, []byte(df.String()), false)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestRuntimeImage builds the Dockerfile's runtime stage from a binary built
// here (no base image is pulled: the stage is FROM scratch), runs it, and
// checks that it answers /healthz from a non-root user and that Docker
// reports it healthy through its HEALTHCHECK.
func TestRuntimeImage(t *testing.T) {
	sandboxtest.RequireDocker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	docker, err := sandbox.NewDockerClient(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer docker.Close()

	tag := fmt.Sprintf("fountain-delivery-test:%d", os.Getpid())
	res, err := docker.ImageBuild(ctx, bytes.NewReader(runtimeContext(t, staticBinary(t))), client.ImageBuildOptions{
		Tags: []string{tag}, Remove: true, ForceRemove: true, Version: "1",
		Labels: map[string]string{sandbox.LabelSandbox: "1", sandbox.LabelNamespace: sandboxtest.Namespace()},
	})
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	if err := drainBuild(res.Body); err != nil {
		t.Fatalf("build the runtime stage: %v", err)
	}
	t.Cleanup(func() {
		docker.ImageRemove(context.Background(), tag, client.ImageRemoveOptions{Force: true, PruneChildren: true})
	})
	img, err := docker.ImageInspect(ctx, tag)
	if err != nil {
		t.Fatal(err)
	}
	if u := img.Config.User; u == "" || u == "0" || u == "root" || strings.HasPrefix(u, "0:") {
		t.Fatalf("the image runs as %q", u)
	}
	if hc := img.Config.Healthcheck; hc == nil || !slices.Equal(hc.Test, []string{"CMD", "/fountain", "healthcheck"}) {
		t.Fatalf("healthcheck = %+v", img.Config.Healthcheck)
	}

	port := network.MustParsePort("8000/tcp")
	created, err := docker.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name: fmt.Sprintf("fountain-delivery-test-%d", os.Getpid()),
		Config: &container.Config{
			Image:        tag,
			Env:          []string{"FOUNTAIN_API_TOKEN=delivery-test-token"},
			ExposedPorts: network.PortSet{port: {}},
			Labels:       map[string]string{sandbox.LabelSandbox: "1", sandbox.LabelNamespace: sandboxtest.Namespace()},
			// The image's check, run every 500 ms instead of 15 s.
			Healthcheck: &container.HealthConfig{Interval: 500 * time.Millisecond, StartPeriod: 10 * time.Second},
		},
		HostConfig: &container.HostConfig{
			PortBindings:   network.PortMap{port: {{HostIP: netip.MustParseAddr("127.0.0.1")}}},
			ReadonlyRootfs: true, // only the /data volume is written
		},
	})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	t.Cleanup(func() {
		docker.ContainerRemove(context.Background(), created.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	})
	if _, err := docker.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
		t.Fatalf("start: %v", err)
	}
	logs := func() string {
		r, err := docker.ContainerLogs(context.Background(), created.ID, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true})
		if err != nil {
			return err.Error()
		}
		defer r.Close()
		b, _ := io.ReadAll(io.LimitReader(r, 64<<10))
		return string(b)
	}

	// Healthy, by Docker's own account of the image's HEALTHCHECK.
	var insp client.ContainerInspectResult
	deadline := time.Now().Add(60 * time.Second)
	for {
		insp, err = docker.ContainerInspect(ctx, created.ID, client.ContainerInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		st := insp.Container.State
		if st != nil && st.Health != nil && st.Health.Status == container.Healthy {
			break
		}
		if st != nil && !st.Running {
			t.Fatalf("the container stopped (exit %d):\n%s", st.ExitCode, logs())
		}
		if time.Now().After(deadline) {
			var last string
			if st != nil && st.Health != nil && len(st.Health.Log) > 0 {
				last = st.Health.Log[len(st.Health.Log)-1].Output
			}
			t.Fatalf("not healthy after 60 s (last check: %q):\n%s", last, logs())
		}
		time.Sleep(250 * time.Millisecond)
	}
	if !strings.Contains(logs(), "listening beyond this machine") {
		t.Errorf("the server did not warn that it listens beyond loopback:\n%s", logs())
	}

	// /healthz answers through the published port.
	bindings := insp.Container.NetworkSettings.Ports[port]
	if len(bindings) == 0 {
		t.Fatal("port 8000 is not published")
	}
	url := "http://127.0.0.1:" + bindings[0].HostPort + "/healthz"
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	var health struct{ Status string }
	err = json.NewDecoder(resp.Body).Decode(&health)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || health.Status != "ok" {
		t.Fatalf("GET %s: %d %+v %v", url, resp.StatusCode, health, err)
	}

	// The server process runs as uid 65532, as the kernel sees it.
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", insp.Container.State.Pid))
	if err != nil {
		t.Fatalf("read the server's process status: %v", err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "Uid:" {
			for _, id := range f[1:] {
				if n, _ := strconv.Atoi(id); n == 0 {
					t.Fatalf("the server runs as root: %s", line)
				}
			}
			if f[1] != "65532" {
				t.Fatalf("the server runs as %s, want 65532", line)
			}
		}
	}
	// The data volume belongs to that user, and /tmp is world-writable and
	// sticky.
	checkPath(t, docker, created.ID, "/data", func(h *tar.Header) error {
		if h.Uid != 65532 {
			return fmt.Errorf("owned by %d", h.Uid)
		}
		return nil
	})
	checkPath(t, docker, created.ID, "/tmp", func(h *tar.Header) error {
		if h.Mode&0o1777 != 0o1777 {
			return fmt.Errorf("mode %o", h.Mode)
		}
		return nil
	})
}

// checkPath checks the tar header of a path in the container.
func checkPath(t *testing.T, docker *client.Client, id, path string, check func(*tar.Header) error) {
	t.Helper()
	res, err := docker.CopyFromContainer(context.Background(), id, client.CopyFromContainerOptions{SourcePath: path})
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	defer res.Content.Close()
	h, err := tar.NewReader(res.Content).Next()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if err := check(h); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// drainBuild reads the engine's build stream and returns its error, if any.
func drainBuild(r io.ReadCloser) error {
	defer r.Close()
	dec := json.NewDecoder(r)
	var out strings.Builder
	for {
		var m struct {
			Stream      string `json:"stream"`
			Error       string `json:"error"`
			ErrorDetail *struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return err
		}
		out.WriteString(m.Stream)
		if m.Error != "" {
			return fmt.Errorf("%s\n%s", m.Error, out.String())
		}
	}
}
