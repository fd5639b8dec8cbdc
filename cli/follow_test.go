package cli

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// A dropped event stream is resumed with Last-Event-ID: every line is
// printed once, none lost.
func TestFollowResumesADroppedStream(t *testing.T) {
	var connects atomic.Int32
	var lastIDs []string
	env := fakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/operations/op_1":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"id":"op_1","status":"running","steps":[]}`)
		case "/operations/op_1/events":
			n := connects.Add(1)
			lastIDs = append(lastIDs, r.Header.Get("Last-Event-ID"))
			w.Header().Set("Content-Type", "text/event-stream")
			if n == 1 {
				fmt.Fprint(w, "id: 1\nevent: step\ndata: {\"name\":\"install\",\"status\":\"running\"}\n\n")
				fmt.Fprint(w, "id: 2\nevent: log\ndata: {\"line\":\"line one\",\"step\":0}\n\n")
				return // the connection drops
			}
			fmt.Fprint(w, "id: 3\nevent: log\ndata: {\"line\":\"line two\",\"step\":0}\n\n")
			fmt.Fprint(w, "id: 4\nevent: step\ndata: {\"name\":\"install\",\"status\":\"changed\",\"duration_ms\":5}\n\n")
			fmt.Fprint(w, "id: 5\nevent: end\ndata: {\"id\":\"op_1\",\"status\":\"succeeded\",\"changed\":true,\"message\":\"done\"}\n\n")
		default:
			http.NotFound(w, r)
		}
	})
	out, errOut, code := runCLI(t, env, "", "ops", "logs", "op_1", "--follow")
	if code != 0 {
		t.Fatalf("exit %d: %s %s", code, out, errOut)
	}
	if strings.Count(out, "line one") != 1 || strings.Count(out, "line two") != 1 || !strings.Contains(out, "succeeded (changed): done") {
		t.Fatalf("output:\n%s", out)
	}
	if len(lastIDs) != 2 || lastIDs[0] != "" || lastIDs[1] != "2" {
		t.Fatalf("Last-Event-ID sent: %q", lastIDs)
	}
}
