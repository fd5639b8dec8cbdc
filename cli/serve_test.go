package cli

import (
	"runtime/debug"
	"testing"
	"time"
)

func TestParseRetention(t *testing.T) {
	day := 24 * time.Hour
	good := map[string]time.Duration{"90d": 90 * day, " 7D ": 7 * day, "720h": 720 * time.Hour, "forever": -1, "off": -1, "0": -1}
	for in, want := range good {
		if got, err := parseRetention(in); err != nil || got != want {
			t.Errorf("parseRetention(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "90", "-3d", "1.5d", "ninety days", "10m", "999999d"} {
		if got, err := parseRetention(in); err == nil {
			t.Errorf("parseRetention(%q) = %v, want an error", in, got)
		}
	}
}

func TestParseMaxOperations(t *testing.T) {
	for in, want := range map[string]int{"64": 64, " 1 ": 1, "100000": 100000} {
		if got, err := parseMaxOperations(in); err != nil || got != want {
			t.Errorf("parseMaxOperations(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-1", "1.5", "many", "100001"} {
		if got, err := parseMaxOperations(in); err == nil {
			t.Errorf("parseMaxOperations(%q) = %d, want an error", in, got)
		}
	}
}

// The server paces its collector by a soft memory limit that follows the
// live heap, and gives back the settings it found when it stops.
func TestGovernMemory(t *testing.T) {
	prevLimit, prevGC := debug.SetMemoryLimit(-1), debug.SetGCPercent(-1)
	debug.SetGCPercent(prevGC)
	stop := governMemory(16 << 20)
	limit := debug.SetMemoryLimit(-1)
	gc := debug.SetGCPercent(-1)
	debug.SetGCPercent(gc)
	stop()
	if limit < 16<<20 || limit > 1<<30 || gc != 400 {
		t.Errorf("while serving: memory limit %d, GC target %d%%; want 16 MiB + twice the live heap, 400%%", limit, gc)
	}
	if l, g := debug.SetMemoryLimit(-1), debug.SetGCPercent(-1); l != prevLimit || g != prevGC {
		t.Errorf("after: memory limit %d, GC target %d; want %d, %d as before", l, g, prevLimit, prevGC)
	}
	debug.SetGCPercent(prevGC)
}
