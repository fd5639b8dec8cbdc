package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/moby/moby/client"

	"github.com/fountainai/fountain"
)

// lineRecorder keeps the lines logged.
type lineRecorder struct {
	fountain.NopSecrets
	lines []string
}

func (r *lineRecorder) Step(ctx context.Context, _ string, fn func(context.Context) (fountain.StepResult, error)) error {
	_, err := fn(ctx)
	return err
}
func (r *lineRecorder) Log(line string) { r.lines = append(r.lines, line) }

// Issue 12, item 5: a registry (or engine) that streams any number of
// distinct status lines during a pull does not grow the deploy's memory or
// its log without bound.
func TestPullStatusLinesAreBounded(t *testing.T) {
	const sent = 20000
	engine := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/images/create"):
			w.Header().Set("Content-Type", "application/json")
			enc := json.NewEncoder(w)
			for i := range sent {
				_ = enc.Encode(map[string]string{"id": fmt.Sprintf("layer%d", i), "status": "Pull complete " + strings.Repeat("x", 2000)})
			}
		case strings.HasSuffix(r.URL.Path, "/json"):
			_ = json.NewEncoder(w).Encode(map[string]any{"Id": "sha256:" + strings.Repeat("a", 64), "RepoDigests": []string{}})
		default:
			http.NotFound(w, r)
		}
	}))
	defer engine.Close()
	c, err := client.New(client.WithHost("tcp://"+strings.TrimPrefix(engine.URL, "http://")), client.WithVersion("1.47"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rec := &lineRecorder{}
	x := &dockerExec{d: &dockerHost{api: c, rec: rec}}
	if _, err := x.pull(context.Background(), "registry.example/app:1"); err != nil {
		t.Fatal(err)
	}
	if len(rec.lines) != maxPullLines+1 || !strings.Contains(rec.lines[maxPullLines], "the rest are not shown") {
		t.Fatalf("%d of %d status lines logged; the last: %.80q", len(rec.lines), sent, rec.lines[len(rec.lines)-1])
	}
	for _, l := range rec.lines {
		if len(l) > 512+len(" [cut]") {
			t.Fatalf("a status line of %d bytes was logged", len(l))
		}
	}
}
